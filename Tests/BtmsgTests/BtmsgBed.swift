import AgorTestSupport
import AgorKit
import BtmsgAPI
import Bus
import Foundation
import GRDB
import SwiftProtobuf
@testable import btmsg

/// A btmsg service in this process on real tcp sockets with CURVE, over a temporary home and a real
/// SQLite file, with these principals:
/// - group `default`: operator (operator), mia (manager), wes and wade (workers), rita (reviewer)
/// - group `team`: tom (worker)
/// - bttask (a service with the delegate right, as the task board is)
final class BtmsgBed: Bed {
    let home: Home
    let runtime: ServiceRuntime
    let service: BtmsgService
    let serving: Task<Void, Never>
    private let clients = Locked<[String: RPCClient]>([:])

    init(retention: RetentionConfig = RetentionConfig(), beforeStart: (Home) throws -> Void = { _ in }) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("btmsg-test-\(UUID().uuidString.prefix(8))")
        home = Home(root: root)
        let setup = HomeSetup(home: home)
        _ = try setup.initialize(portBase: BtmsgBed.freePortBase())
        _ = try setup.addGroup("team")
        _ = try setup.addAgent(name: "mia", group: "default", role: .manager)
        _ = try setup.addAgent(name: "wes", group: "default", role: .worker)
        _ = try setup.addAgent(name: "wade", group: "default", role: .worker)
        _ = try setup.addAgent(name: "rita", group: "default", role: .reviewer)
        _ = try setup.addAgent(name: "tom", group: "team", role: .worker)
        let bttask = CurveKeyPair.generate()
        try bttask.write(name: "bttask", to: home.keysFolder)
        try Directory(folder: home.directoryFolder).write(
            Principal(name: "bttask", kind: .service, publicKey: bttask.publicKey, groups: [], role: .operator_, rights: [.delegate]))
        try beforeStart(home)
        runtime = try ServiceRuntime(name: "btmsg", home: home) { BtmsgSchema.register(in: &$0) }
        service = BtmsgService(runtime: runtime, retention: retention)
        let runtime = self.runtime, background = service.background
        serving = Task { try? await runtime.run(background: background) }
    }

    func close() async {
        for client in clients.withLock({ Array($0.values) }) { await client.close() }
        serving.cancel()
        await serving.value
        service.stop()
        try? FileManager.default.removeItem(at: home.root)
    }

    func client(_ name: String) throws -> ServiceClient {
        try ServiceClient(home: home, keyFile: home.secretKeyFile(name), context: runtime.context)
    }

    func rpc(_ name: String) throws -> RPCClient {
        if let existing = clients.withLock({ $0[name] }) { return existing }
        let rpc = try client(name).rpc("btmsg")
        clients.withLock { $0[name] = rpc }
        return rpc
    }

    /// Calls a method as `name`; throws the service's BusError.
    @discardableResult
    func call<R: SwiftProtobuf.Message>(_ name: String, _ method: String, _ request: some SwiftProtobuf.Message = Agor_Btmsg_V1_Empty(),
                                        as type: R.Type = Agor_Btmsg_V1_Empty.self, requestId: String? = nil,
                                        onBehalfOf: String? = nil) async throws -> R {
        try await rpc(name).call(method, request, as: type, options: .init(timeout: .seconds(10), onBehalfOf: onBehalfOf, requestId: requestId))
    }

    /// The error a call fails with (nil when it succeeds).
    func refusal(_ name: String, _ method: String, _ request: some SwiftProtobuf.Message, onBehalfOf: String? = nil) async -> BusError? {
        do {
            _ = try await rpc(name).call(method, try request.serializedBytes(), options: .init(timeout: .seconds(10), onBehalfOf: onBehalfOf))
            return nil
        } catch let error as BusError { return error } catch { return BusError.internalError("\(error)") }
    }

    func send(_ from: String, to: String = "", channel: String = "", _ body: String, group: String = "", requestId: String? = nil,
              replyTo: String = "", ack: Bool = false) async throws -> Agor_Btmsg_V1_Message {
        var request = Agor_Btmsg_V1_SendRequest()
        request.to = to; request.channelID = channel; request.body = body; request.group = group
        request.replyTo = replyTo; request.ackRequired = ack
        return try await call(from, "btmsg.send", request, as: Agor_Btmsg_V1_SendReply.self, requestId: requestId).message
    }

    func sendRequest(to: String = "", channel: String = "", _ body: String, group: String = "") -> Agor_Btmsg_V1_SendRequest {
        var request = Agor_Btmsg_V1_SendRequest()
        request.to = to; request.channelID = channel; request.body = body; request.group = group
        return request
    }

    func createChannel(_ owner: String, _ name: String, open: Bool = false) async throws -> Agor_Btmsg_V1_Channel {
        var request = Agor_Btmsg_V1_ChannelCreateRequest()
        request.name = name; request.open = open
        return try await call(owner, "btmsg.channel.create", request, as: Agor_Btmsg_V1_Channel.self)
    }

    func channel(_ viewer: String, _ name: String) async throws -> Agor_Btmsg_V1_Channel {
        let list = try await call(viewer, "btmsg.channel.list", Agor_Btmsg_V1_ChannelListRequest(), as: Agor_Btmsg_V1_ChannelList.self)
        guard let channel = list.channels.first(where: { $0.name == name }) else { throw BusError.notFound("no #\(name) for \(viewer)") }
        return channel
    }

    func member(_ actor: String, _ method: String, channel: String, principal: String = "") -> Agor_Btmsg_V1_MemberRequest {
        var request = Agor_Btmsg_V1_MemberRequest()
        request.channelID = channel; request.principal = principal
        return request
    }

    func history(_ viewer: String, with: String = "", channel: String = "") async throws -> [Agor_Btmsg_V1_Message] {
        var request = Agor_Btmsg_V1_HistoryRequest()
        request.with = with; request.channelID = channel; request.limit = 1000
        return try await call(viewer, "btmsg.history", request, as: Agor_Btmsg_V1_MessageList.self).messages
    }

    func inbox(_ viewer: String, all: Bool = false) async throws -> [Agor_Btmsg_V1_Message] {
        var request = Agor_Btmsg_V1_InboxRequest()
        request.all = all; request.limit = 1000
        return try await call(viewer, "btmsg.inbox", request, as: Agor_Btmsg_V1_MessageList.self).messages
    }

    func unread(_ viewer: String) async throws -> Int64 {
        try await call(viewer, "btmsg.unread", as: Agor_Btmsg_V1_UnreadReply.self).count
    }

    /// Straight from the database: what is stored, whoever may see it.
    func messageCount() async throws -> Int {
        try await runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages") ?? 0 }
    }

    func memberRows() async throws -> Int {
        try await runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM channel_members") ?? 0 }
    }

    static func freePortBase() -> Int { LoopbackPorts.freeBase(count: 8) }
}
