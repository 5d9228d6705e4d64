import BtmsgAPI
import BttaskAPI
import Bus
import DiagnosticsAPI
import Foundation
import Hummingbird
import RunnerAPI
import SwiftProtobuf

/// The REST API: each route is one Bus method of one service, called on behalf of the signed-in
/// person (their groups and role decide, in the service). docs/GATEWAY.md has the table.
struct APIRoutes {
    let bridge: BusBridge
    /// What `register` added, for the OpenAPI document.
    let table = Locked<[OpenAPIDocument.Route]>([])

    /// A route to a Bus method: the JSON body (POST/PATCH/PUT), the query, and path parameters
    /// (`{name}` in the path → proto field `pathFields[name]`) make the request.
    /// `safeToRepeat`: a change that may be sent again after a timeout (marking read); reads always are.
    func bus<Q, R>(
        _ router: Router<GatewayContext>, _ method: HTTPRequest.Method, _ path: String, _ busMethod: Method<Q, R>,
        pathFields: [String: String] = [:], status: HTTPResponse.Status = .ok, safeToRepeat: Bool = false
    ) {
        let hasBody = method == .post || method == .patch || method == .put
        let idempotent = busMethod.effect == .read || safeToRepeat
        table.withLock {
            $0.append(.init(method: method.rawValue.lowercased(), path: path, summary: "\(busMethod.name): \(busMethod.summary)",
                            requestMessage: hasBody ? Q.protoMessageName : nil, replyMessage: R.protoMessageName, status: Int(status.code)))
        }
        router.on(RouterPath(path), method: method) { request, context -> Response in
            let person = try context.requirePerson()
            var body: ByteBuffer?
            if method == .post || method == .patch || method == .put {
                do { body = try await request.body.collect(upTo: Gateway.maxBodySize) } catch {
                    throw APIError.tooLarge("the body is larger than \(Gateway.maxBodySize) bytes")
                }
            }
            var fields = BusBridge.fields(of: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
            for (parameter, field) in pathFields {
                guard let value = context.parameters.get(parameter) else { throw APIError.badRequest("missing \(parameter)") }
                fields[field] = value
            }
            let message = try BusBridge.decode(Q.self, body: body, fields: fields)
            let reply = try await bridge.call(busMethod, message, for: person, idempotent: idempotent)
            return try BusBridge.json(reply, status: status)
        }
    }

    func register(on router: Router<GatewayContext>) {
        // btmsg
        bus(router, .post, "/v1/messages", BtmsgMethods.send, status: .created)
        bus(router, .get, "/v1/inbox", BtmsgMethods.inbox)
        bus(router, .get, "/v1/history", BtmsgMethods.history)
        bus(router, .get, "/v1/search", BtmsgMethods.search)
        bus(router, .get, "/v1/messages/{id}", BtmsgMethods.get,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/messages/{id}/read", BtmsgMethods.read,
            pathFields: ["id": "id"], safeToRepeat: true)
        bus(router, .post, "/v1/messages/{id}/ack", BtmsgMethods.ack,
            pathFields: ["id": "id"], safeToRepeat: true)
        bus(router, .get, "/v1/channels", BtmsgMethods.channelList)
        bus(router, .post, "/v1/channels", BtmsgMethods.channelCreate, status: .created)
        bus(router, .post, "/v1/channels/{id}/members", BtmsgMethods.channelAdd,
            pathFields: ["id": "channel_id"])
        bus(router, .delete, "/v1/channels/{id}/members/{principal}", BtmsgMethods.channelRemove, pathFields: ["id": "channel_id", "principal": "principal"])
        // the directory, as btmsg serves it (groups, members, presence)
        bus(router, .get, "/v1/groups", BtmsgMethods.groupList)
        bus(router, .get, "/v1/groups/{group}/members", BtmsgMethods.groupMembers, pathFields: ["group": "group"])
        bus(router, .get, "/v1/presence", BtmsgMethods.status)
        // runner: agent sessions
        bus(router, .get, "/v1/sessions", RunnerAPI.list)
        bus(router, .post, "/v1/sessions", RunnerAPI.start, status: .created)
        bus(router, .get, "/v1/sessions/{id}", RunnerAPI.show,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/sessions/{id}/input", RunnerAPI.input,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/sessions/{id}/answer", RunnerAPI.answer,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/sessions/{id}/stop", RunnerAPI.stop,
            pathFields: ["id": "id"])
        // bttask
        bus(router, .get, "/v1/tasks", BttaskMethods.list)
        bus(router, .get, "/v1/tasks/ready", BttaskMethods.ready)
        bus(router, .post, "/v1/tasks", BttaskMethods.create, status: .created)
        bus(router, .get, "/v1/tasks/{id}", BttaskMethods.show,
            pathFields: ["id": "id"])
        bus(router, .patch, "/v1/tasks/{id}", BttaskMethods.update,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/move", BttaskMethods.move,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/assign", BttaskMethods.assign,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/claim", BttaskMethods.claim,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/comments", BttaskMethods.comment,
            pathFields: ["id": "id"], status: .created)
        bus(router, .delete, "/v1/tasks/{id}", BttaskMethods.delete,
            pathFields: ["id": "id"])
        bus(router, .get, "/v1/changes", BttaskMethods.changes)
        bus(router, .get, "/v1/leases", BttaskMethods.leaseList)
        // diagnostics
        bus(router, .get, "/v1/diagnostics/summary", DiagnosticsAPI.summary)
        bus(router, .get, "/v1/diagnostics/services/{service}", DiagnosticsAPI.serviceDetail, pathFields: ["service": "service"])
        bus(router, .get, "/v1/diagnostics/services/{service}/histograms", DiagnosticsAPI.histograms, pathFields: ["service": "service"])
        bus(router, .get, "/v1/diagnostics/links", DiagnosticsAPI.links)
    }
}
