import Bus
import Foundation
import HomeConfig
import Hummingbird

/// `GET /v1/settings` and `GET /v1/settings/{key}`: the settings cascade as the signed-in person
/// sees it, for a project (`?project=`) or a group (`?group=`) of theirs, or globally.
struct SettingsRoutes {
    let home: Home

    func register(on router: Router<GatewayContext>) {
        router.get("/v1/settings") { request, context -> Response in
            let (settings, project, group) = try load(request, context)
            let items = settings.effectiveAll(project: project, group: group).map { item -> [String: Any] in
                ["key": item.key, "value": item.value.jsonValue, "level": item.level.description]
            }
            return try JSONResponse.object(["settings": items])
        }
        router.get("/v1/settings/{key}") { request, context -> Response in
            let key = try context.parameters.require("key")
            guard SettingSchema.isKnown(key) else { throw APIError.badRequest("unknown setting \(key.prefix(80))") }
            let (settings, project, group) = try load(request, context)
            guard let found = settings.effective(key, project: project, group: group) else {
                throw APIError.notFound("\(key) is not set at any level and has no default")
            }
            return try JSONResponse.object(["key": key, "value": found.value.jsonValue, "level": found.level.description])
        }
    }

    /// The settings and the scope asked for, checked against the person's groups.
    private func load(_ request: Request, _ context: GatewayContext) throws -> (Settings, Project?, String?) {
        let person = try context.requirePerson()
        let projectName = request.uri.queryParameters.get("project")
        let groupName = request.uri.queryParameters.get("group")
        guard projectName == nil || groupName == nil else { throw APIError.badRequest("name a project or a group, not both") }
        var project: Project?
        if let projectName {
            guard let found = ((try? Projects.load(from: home)) ?? []).first(where: { $0.name == projectName }), person.isMember(of: found.group) else {
                throw APIError.notFound("no project \(projectName.prefix(64)) in the groups of \(person.name)")
            }
            project = found
        }
        if let groupName, !person.isMember(of: groupName) {
            throw APIError.forbidden("\(person.name) is not in group \(groupName.prefix(64))")
        }
        let settings: Settings
        do { settings = try Settings.load(from: home) } catch {
            throw APIError(status: .serviceUnavailable, code: "unavailable", message: "the settings file cannot be read: \(error)")
        }
        return (settings, project, groupName)
    }
}
