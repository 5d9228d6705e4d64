import Bus
import Diagnostics
import btmsg
import bttask
import AgentRunner
import Foundation
import Hummingbird
import SwiftProtobuf

/// The REST API: each route is one Bus method of one service, called on behalf of the signed-in
/// person (their groups and role decide, in the service). docs/GATEWAY.md has the table.
struct APIRoutes {
    let bridge: BusBridge
    /// What `register` added, for the OpenAPI document.
    let table = Locked<[OpenAPIDocument.Route]>([])

    /// A route to a Bus method: the JSON body (POST/PATCH/PUT), the query, and path parameters
    /// (`{name}` in the path → proto field `pathFields[name]`) make the request.
    func bus<Q: SwiftProtobuf.Message, R: SwiftProtobuf.Message>(
        _ router: Router<GatewayContext>, _ method: HTTPRequest.Method, _ path: String,
        _ service: String, _ busMethod: String, _ requestType: Q.Type, _ replyType: R.Type,
        pathFields: [String: String] = [:], status: HTTPResponse.Status = .ok, idempotent: Bool = false
    ) {
        let hasBody = method == .post || method == .patch || method == .put
        table.withLock {
            $0.append(.init(method: method.rawValue.lowercased(), path: path, summary: "\(busMethod) on \(service)",
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
            let reply = try await bridge.call(service, busMethod, message, as: R.self, for: person, idempotent: idempotent)
            return try BusBridge.json(reply, status: status)
        }
    }

    func register(on router: Router<GatewayContext>) {
        // btmsg
        bus(router, .post, "/v1/messages", "btmsg", "btmsg.send", Agor_Btmsg_V1_SendRequest.self, Agor_Btmsg_V1_SendReply.self, status: .created)
        bus(router, .get, "/v1/inbox", "btmsg", "btmsg.inbox", Agor_Btmsg_V1_InboxRequest.self, Agor_Btmsg_V1_MessageList.self, idempotent: true)
        bus(router, .get, "/v1/history", "btmsg", "btmsg.history", Agor_Btmsg_V1_HistoryRequest.self, Agor_Btmsg_V1_MessageList.self, idempotent: true)
        bus(router, .get, "/v1/search", "btmsg", "btmsg.search", Agor_Btmsg_V1_SearchRequest.self, Agor_Btmsg_V1_MessageList.self, idempotent: true)
        bus(router, .get, "/v1/messages/{id}", "btmsg", "btmsg.get", Agor_Btmsg_V1_MessageRef.self, Agor_Btmsg_V1_Message.self,
            pathFields: ["id": "id"], idempotent: true)
        bus(router, .post, "/v1/messages/{id}/read", "btmsg", "btmsg.read", Agor_Btmsg_V1_MessageRef.self, Agor_Btmsg_V1_Message.self,
            pathFields: ["id": "id"], idempotent: true)
        bus(router, .post, "/v1/messages/{id}/ack", "btmsg", "btmsg.ack", Agor_Btmsg_V1_MessageRef.self, Agor_Btmsg_V1_Message.self,
            pathFields: ["id": "id"], idempotent: true)
        bus(router, .get, "/v1/channels", "btmsg", "btmsg.channel.list", Agor_Btmsg_V1_ChannelListRequest.self, Agor_Btmsg_V1_ChannelList.self, idempotent: true)
        bus(router, .post, "/v1/channels", "btmsg", "btmsg.channel.create", Agor_Btmsg_V1_ChannelCreateRequest.self, Agor_Btmsg_V1_Channel.self, status: .created)
        bus(router, .post, "/v1/channels/{id}/members", "btmsg", "btmsg.channel.add", Agor_Btmsg_V1_MemberRequest.self, Agor_Btmsg_V1_Channel.self,
            pathFields: ["id": "channel_id"])
        bus(router, .delete, "/v1/channels/{id}/members/{principal}", "btmsg", "btmsg.channel.remove", Agor_Btmsg_V1_MemberRequest.self,
            Agor_Btmsg_V1_Channel.self, pathFields: ["id": "channel_id", "principal": "principal"])
        // the directory, as btmsg serves it (groups, members, presence)
        bus(router, .get, "/v1/groups", "btmsg", "btmsg.group.list", Agor_Btmsg_V1_Empty.self, Agor_Btmsg_V1_GroupList.self, idempotent: true)
        bus(router, .get, "/v1/groups/{group}/members", "btmsg", "btmsg.group.members", Agor_Btmsg_V1_GroupMembersRequest.self,
            Agor_Btmsg_V1_GroupInfo.self, pathFields: ["group": "group"], idempotent: true)
        bus(router, .get, "/v1/presence", "btmsg", "btmsg.status", Agor_Btmsg_V1_StatusRequest.self, Agor_Btmsg_V1_StatusReply.self, idempotent: true)
        // runner: agent sessions
        bus(router, .get, "/v1/sessions", "runner", "runner.list", Agor_Runner_V1_ListRequest.self, Agor_Runner_V1_SessionList.self, idempotent: true)
        bus(router, .post, "/v1/sessions", "runner", "runner.start", Agor_Runner_V1_StartRequest.self, Agor_Runner_V1_Session.self, status: .created)
        bus(router, .get, "/v1/sessions/{id}", "runner", "runner.show", Agor_Runner_V1_SessionRef.self, Agor_Runner_V1_Session.self,
            pathFields: ["id": "id"], idempotent: true)
        bus(router, .post, "/v1/sessions/{id}/input", "runner", "runner.input", Agor_Runner_V1_InputRequest.self, Agor_Runner_V1_Session.self,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/sessions/{id}/answer", "runner", "runner.answer", Agor_Runner_V1_AnswerRequest.self, Agor_Runner_V1_Session.self,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/sessions/{id}/stop", "runner", "runner.stop", Agor_Runner_V1_SessionRef.self, Agor_Runner_V1_Session.self,
            pathFields: ["id": "id"])
        // bttask
        bus(router, .get, "/v1/tasks", "bttask", "bttask.list", Agor_Bttask_V1_ListRequest.self, Agor_Bttask_V1_TaskList.self, idempotent: true)
        bus(router, .get, "/v1/tasks/ready", "bttask", "bttask.ready", Agor_Bttask_V1_ListRequest.self, Agor_Bttask_V1_TaskList.self, idempotent: true)
        bus(router, .post, "/v1/tasks", "bttask", "bttask.create", Agor_Bttask_V1_CreateRequest.self, Agor_Bttask_V1_TaskReply.self, status: .created)
        bus(router, .get, "/v1/tasks/{id}", "bttask", "bttask.show", Agor_Bttask_V1_TaskRef.self, Agor_Bttask_V1_ShowReply.self,
            pathFields: ["id": "id"], idempotent: true)
        bus(router, .patch, "/v1/tasks/{id}", "bttask", "bttask.update", Agor_Bttask_V1_UpdateRequest.self, Agor_Bttask_V1_TaskReply.self,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/move", "bttask", "bttask.move", Agor_Bttask_V1_MoveRequest.self, Agor_Bttask_V1_TaskReply.self,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/assign", "bttask", "bttask.assign", Agor_Bttask_V1_AssignRequest.self, Agor_Bttask_V1_TaskReply.self,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/claim", "bttask", "bttask.claim", Agor_Bttask_V1_ClaimRequest.self, Agor_Bttask_V1_TaskReply.self,
            pathFields: ["id": "id"])
        bus(router, .post, "/v1/tasks/{id}/comments", "bttask", "bttask.comment", Agor_Bttask_V1_CommentRequest.self, Agor_Bttask_V1_CommentReply.self,
            pathFields: ["id": "id"], status: .created)
        bus(router, .delete, "/v1/tasks/{id}", "bttask", "bttask.delete", Agor_Bttask_V1_DeleteRequest.self, Agor_Bttask_V1_TaskReply.self,
            pathFields: ["id": "id"])
        bus(router, .get, "/v1/changes", "bttask", "bttask.changes", Agor_Bttask_V1_ChangesRequest.self, Agor_Bttask_V1_ChangeList.self, idempotent: true)
        // diagnostics
        bus(router, .get, "/v1/diagnostics/summary", "diagnostics", "diag.summary", Agor_Diagnostics_V1_SummaryRequest.self,
            Agor_Diagnostics_V1_Figures.self, idempotent: true)
        bus(router, .get, "/v1/diagnostics/services/{service}", "diagnostics", "diag.service", Agor_Diagnostics_V1_ServiceRequest.self,
            Agor_Diagnostics_V1_ServiceReply.self, pathFields: ["service": "service"], idempotent: true)
        bus(router, .get, "/v1/diagnostics/services/{service}/histograms", "diagnostics", "diag.histograms",
            Agor_Diagnostics_V1_HistogramsRequest.self, Agor_Diagnostics_V1_HistogramsReply.self, pathFields: ["service": "service"], idempotent: true)
        bus(router, .get, "/v1/diagnostics/links", "diagnostics", "diag.links", Agor_Diagnostics_V1_LinksRequest.self,
            Agor_Diagnostics_V1_LinksReply.self, idempotent: true)
    }
}
