import AgorTestSupport
import AgorKit
import Bus
import DiagnosticsAPI
import Foundation
import GRDB
import SwiftProtobuf
@testable import Diagnostics

/// The collector and an instrumented `echo` service in this process, each with its own Bus runtime
/// (own context, ZAP, sockets, SQLite file) over real tcp + CURVE, on a temporary home whose
/// heartbeat interval is 200 ms. echo has a `test.sleep` method that waits the milliseconds in its body.
final class DiagnosticsBed: Bed {
    static let heartbeatMs = 200
    let home: Home
    let echo: ServiceRuntime
    let collectorRuntime: ServiceRuntime
    let collector: DiagnosticsService
    private let serving: [Task<Void, Never>]
    private let clients = Locked<[String: RPCClient]>([:])

    init() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("diag-test-\(UUID().uuidString.prefix(8))")
        home = Home(root: root)
        let setup = HomeSetup(home: home)
        _ = try setup.initialize(portBase: LoopbackPorts.freeBase(count: 14))
        try setup.addService("echo")
        _ = try setup.addAgent(name: "dash", group: "default", role: .worker)
        let text = try String(contentsOf: home.configFile, encoding: .utf8)
        try text.replacingOccurrences(of: "heartbeat_ms = 1000", with: "heartbeat_ms = \(DiagnosticsBed.heartbeatMs)")
            .write(to: home.configFile, atomically: true, encoding: .utf8)

        echo = try ServiceRuntime(name: "echo", home: home)
        echo.server.register("test.sleep") { _, body in
            try await Task.sleep(for: .milliseconds(Int(String(decoding: body, as: UTF8.self)) ?? 0))
            return body
        }
        collectorRuntime = try ServiceRuntime(name: "diagnostics", home: home) { DiagnosticsSchema.register(in: &$0) }
        collector = try DiagnosticsService(runtime: collectorRuntime)
        collector.listen()
        echo.health?.start()
        let echoServer = echo.server, collectorRuntime = self.collectorRuntime, background = collector.background
        serving = [Task { await echoServer.run() },
                   Task { try? await collectorRuntime.run(background: background) }]
    }

    func close() async {
        for client in clients.withLock({ Array($0.values) }) { await client.close() }
        await echo.shutdown()
        for task in serving { task.cancel(); await task.value }
        await collector.stop()
        try? FileManager.default.removeItem(at: home.root)
    }

    func rpc(_ service: String, as who: String = "operator") throws -> RPCClient {
        let key = "\(who)@\(service)"
        if let existing = clients.withLock({ $0[key] }) { return existing }
        let client = try ServiceClient(home: home, keyFile: home.secretKeyFile(who)).rpc(service)
        clients.withLock { $0[key] = client }
        return client
    }

    func ask<R: SwiftProtobuf.Message>(_ method: String, _ request: some SwiftProtobuf.Message, as type: R.Type) async throws -> R {
        try await rpc("diagnostics").call(method, request, as: type, options: .init(timeout: .seconds(10)))
    }

    /// The error a collector method fails with for these raw body bytes (nil when it succeeds).
    func refusal(_ method: String, body: [UInt8]) async -> BusError? {
        do {
            _ = try await rpc("diagnostics").call(method, body, options: .init(timeout: .seconds(10)))
            return nil
        } catch let error as BusError { return error } catch { return BusError.internalError("\(error)") }
    }

    func summary(_ service: String) async throws -> Agor_Diagnostics_V1_ServiceSummary? {
        try await ask("diag.summary", Agor_Diagnostics_V1_SummaryRequest(), as: Agor_Diagnostics_V1_Figures.self)
            .services.first { $0.service == service }
    }

}
