import Bus
import CSodium
import Foundation
import HomeConfig
import Hummingbird

/// Files of a project (projects.toml) for editor clients: `GET` a file with its content hash as
/// ETag (a folder: its listing), `PUT` with `If-Match` to change one (written to a temporary file
/// and renamed over it, so readers never see half a file); a file changed since the client read it
/// is refused with 412 and the current hash. Paths that leave the project's root — `..`, or a
/// symbolic link pointing out — are refused. Members of the project's group may read; everyone but
/// reviewers and testers may write.
struct ProjectFiles: Sendable {
    static let maxFileSize = 16 << 20
    let home: Home

    func project(_ name: String, for person: Principal) throws -> Project {
        let all: [Project]
        do { all = try Projects.load(from: home) } catch { throw APIError(status: .internalServerError, code: "internal", message: "\(error)") }
        // A project of another group is not shown to exist.
        guard let project = all.first(where: { $0.name == name }), person.isMember(of: project.group) else {
            throw APIError.notFound("no project \(name.prefix(64))")
        }
        return project
    }

    static func mayWrite(_ person: Principal) -> Bool { person.role != .reviewer && person.role != .tester }

    /// The file's URL inside the project's root, refusing every way out of it.
    func resolve(_ project: Project, segments: [Substring]) throws -> (url: URL, relative: String) {
        var parts: [String] = []
        for raw in segments {
            guard let part = String(raw).removingPercentEncoding, !part.isEmpty, part != ".", part != "..",
                  !part.contains("/"), !part.contains("\0") else {
                throw APIError.badRequest("a path inside the project: no '..', '.', empty or encoded '/' segments")
            }
            parts.append(part)
        }
        let root = URL(fileURLWithPath: project.root).resolvingSymlinksInPath()
        let url = parts.reduce(root) { $0.appendingPathComponent($1) }
        // Every existing step of the path, links resolved, must stay under the root.
        var check = url
        while !FileManager.default.fileExists(atPath: check.path) && check.path.count > root.path.count {
            check = check.deletingLastPathComponent()
        }
        let real = check.resolvingSymlinksInPath().path
        guard real == root.path || real.hasPrefix(root.path + "/") else {
            throw APIError.forbidden("\(parts.joined(separator: "/").prefix(200)) leads out of the project")
        }
        return (url, parts.joined(separator: "/"))
    }

    static func etag(of data: Data) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBytes { raw in
            _ = crypto_hash_sha256(&digest, raw.bindMemory(to: UInt8.self).baseAddress, UInt64(data.count))
        }
        return "\"" + digest.map { String(format: "%02x", $0) }.joined() + "\""
    }

    func get(_ url: URL, relative: String) throws -> Response {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw APIError.notFound("no file \(relative.prefix(200))") }
        if isFolder.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            let entries: [[String: Any]] = names.sorted().map { name in
                var folder: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &folder)
                return ["name": name, "type": folder.boolValue ? "folder" : "file"]
            }
            return try JSONResponse.object(["path": relative, "entries": entries])
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        guard size <= ProjectFiles.maxFileSize else { throw APIError.tooLarge("\(relative.prefix(200)) is larger than 16 MiB") }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw APIError.forbidden("cannot read \(relative.prefix(200))") }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.eTag] = ProjectFiles.etag(of: data)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Writes `body` when the preconditions hold: `If-Match` with the hash the client read (for an
    /// existing file), or `If-None-Match: *` / nothing to create a new one.
    func put(_ url: URL, relative: String, body: ByteBuffer, ifMatch: String?, ifNoneMatch: String?) throws -> Response {
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        if isFolder.boolValue { throw APIError.badRequest("\(relative.prefix(200)) is a folder") }
        if exists {
            let current = ProjectFiles.etag(of: FileManager.default.contents(atPath: url.path) ?? Data())
            if ifNoneMatch == "*" {
                var error = APIError(status: .preconditionFailed, code: "exists", message: "\(relative.prefix(200)) exists already")
                error.headers[.eTag] = current
                throw error
            }
            guard let ifMatch else {
                throw APIError(status: .preconditionRequired, code: "precondition_required",
                               message: "\(relative.prefix(200)) exists: send If-Match with the ETag you read")
            }
            guard ifMatch == current || ifMatch == "*" else {
                var error = APIError(status: .preconditionFailed, code: "changed", message: "\(relative.prefix(200)) changed since you read it; current hash \(current)")
                error.headers[.eTag] = current
                throw error
            }
        } else if ifMatch != nil {
            throw APIError(status: .preconditionFailed, code: "missing", message: "\(relative.prefix(200)) does not exist (any more)")
        }
        let folder = url.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: folder.path) else { throw APIError.notFound("no folder for \(relative.prefix(200))") }
        let data = Data(buffer: body)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).agor-\(RandomID.hexSecret(bytes: 6))")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data) else {
            throw APIError.forbidden("cannot write in the folder of \(relative.prefix(200))")
        }
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw APIError.forbidden("cannot replace \(relative.prefix(200))")
        }
        var headers = HTTPFields()
        headers[.eTag] = ProjectFiles.etag(of: data)
        return Response(status: exists ? .ok : .created, headers: headers)
    }
}
