import AgorTestSupport
import AgorKit
import btmsg
import BttaskAPI
import Bus
import Foundation
import GRDB
import SwiftProtobuf
@testable import bttask

/// bttask (and, when asked, btmsg) in this process on real tcp sockets with CURVE and real SQLite
/// files, over a temporary home: group `default` with operator, mia (manager), ari (architect),
/// tess (tester), rita (reviewer), wes and wade (workers); group `team` with tom (worker).
final class BttaskBed: Bed {
    let home: Home
    let runtime: ServiceRuntime
    let service: BttaskService
    private let serving: Task<Void, Never>
    private let btmsgParts = Locked<(ServiceRuntime, BtmsgService, Task<Void, Never>)?>(nil)
    private let clients = Locked<[String: RPCClient]>([:])

    init(withBtmsg: Bool = true) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bttask-test-\(UUID().uuidString.prefix(8))")
        home = Home(root: root)
        let setup = HomeSetup(home: home)
        _ = try setup.initialize(portBase: LoopbackPorts.freeBase(count: 8))
        _ = try setup.addGroup("team")
        for (name, role) in [("mia", Role.manager), ("ari", .architect), ("tess", .tester), ("rita", .reviewer), ("wes", .worker), ("wade", .worker)] {
            _ = try setup.addAgent(name: name, group: "default", role: role)
        }
        _ = try setup.addAgent(name: "tom", group: "team", role: .worker)
        runtime = try ServiceRuntime(name: "bttask", home: home, fsyncEveryCommit: true) { BttaskSchema.register(in: &$0) }
        service = BttaskService(runtime: runtime)
        let runtime = self.runtime, background = service.background
        serving = Task { try? await runtime.run(background: background) }
        if withBtmsg { try startBtmsg() }
    }

    func startBtmsg() throws {
        let runtime = try ServiceRuntime(name: "btmsg", home: home) { BtmsgService.register(in: &$0) }
        let service = BtmsgService(runtime: runtime, retention: RetentionConfig())
        let background = service.background
        btmsgParts.withLock { $0 = (runtime, service, Task { try? await runtime.run(background: background) }) }
    }

    func stopBtmsg() async {
        guard let (_, service, serving) = btmsgParts.withLock({ parts in defer { parts = nil }; return parts }) else { return }
        serving.cancel()
        await serving.value
        service.stop()
    }

    func close() async {
        for client in clients.withLock({ Array($0.values) }) { await client.close() }
        await stopBtmsg()
        serving.cancel()
        await serving.value
        service.stop()
        try? FileManager.default.removeItem(at: home.root)
    }

    func rpc(_ name: String, service: String = "bttask") throws -> RPCClient {
        let key = "\(name)/\(service)"
        if let existing = clients.withLock({ $0[key] }) { return existing }
        let rpc = try ServiceClient(home: home, keyFile: home.secretKeyFile(name), context: runtime.context).rpc(service)
        clients.withLock { $0[key] = rpc }
        return rpc
    }

    @discardableResult
    func call<R: SwiftProtobuf.Message>(_ name: String, _ method: String, _ request: some SwiftProtobuf.Message,
                                        as type: R.Type = Agor_Bttask_V1_TaskReply.self) async throws -> R {
        try await rpc(name).call(method, request, as: type, options: .init(timeout: .seconds(10)))
    }

    func refusal(_ name: String, _ method: String, _ request: some SwiftProtobuf.Message) async -> BusError? {
        do {
            _ = try await rpc(name).call(method, try request.serializedBytes(), options: .init(timeout: .seconds(10)))
            return nil
        } catch let error as BusError { return error } catch { return BusError.internalError("\(error)") }
    }

    func create(_ who: String = "mia", _ title: String, priority: Agor_Bttask_V1_Priority = .medium,
                blockedBy: [String] = [], assignee: String = "") async throws -> Agor_Bttask_V1_Task {
        var r = Agor_Bttask_V1_CreateRequest()
        r.title = title; r.priority = priority; r.blockedBy = blockedBy; r.assignee = assignee
        return try await call(who, "bttask.create", r).task
    }

    func move(_ who: String, _ task: Agor_Bttask_V1_Task, to status: Agor_Bttask_V1_Status) -> Agor_Bttask_V1_MoveRequest {
        var r = Agor_Bttask_V1_MoveRequest()
        r.id = task.id; r.expectedVersion = task.version; r.status = status
        return r
    }

    func claim(_ task: Agor_Bttask_V1_Task) -> Agor_Bttask_V1_ClaimRequest {
        var r = Agor_Bttask_V1_ClaimRequest()
        r.id = task.id
        return r
    }

    /// Straight from the database.
    func stored(_ id: String) async throws -> Agor_Bttask_V1_Task? {
        try await runtime.database.read { db in try TaskStore.fetch(db, id: id) }
    }

    func taskCount() async throws -> Int {
        try await runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks") ?? 0 }
    }
}
