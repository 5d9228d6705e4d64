import AgorTestSupport
import AgorKit
import Bus
import Diagnostics
import DiagnosticsAPI
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The collector as `agor serve diagnostics` beside real service processes: a killed service is
/// marked down with its disconnect recorded, a restarted one up with its reconnect; `agor diag top`,
/// Prometheus over HTTP, and a C client (clients/c) built and run against it.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct DiagnosticsProcessTests {
    static let heartbeatMs = 200

    func summary(_ client: ServiceClient, _ service: String) async -> Agor_Diagnostics_V1_ServiceSummary? {
        guard let rpc = try? client.rpc("diagnostics") else { return nil }
        defer { Task { await rpc.close() } }
        let figures = try? await rpc.call("diag.summary", Agor_Diagnostics_V1_SummaryRequest(), as: Agor_Diagnostics_V1_Figures.self,
                                          options: .init(timeout: .seconds(2)))
        return figures?.services.first { $0.service == service }
    }

    func links(_ client: ServiceClient, _ service: String) async -> [Agor_Diagnostics_V1_LinkRecord] {
        guard let rpc = try? client.rpc("diagnostics") else { return [] }
        defer { Task { await rpc.close() } }
        var request = Agor_Diagnostics_V1_LinksRequest()
        request.service = service
        request.limit = 500
        return (try? await rpc.call("diag.links", request, as: Agor_Diagnostics_V1_LinksReply.self, options: .init(timeout: .seconds(2))))?.links ?? []
    }


    @Test func aKilledServiceIsMarkedDownAndUpAgainWithItsLinkHistory() async throws {
        let home = try AgorHome()
        defer { home.cleanUp() }
        let config = try String(contentsOf: home.home.configFile, encoding: .utf8)
        try config.replacingOccurrences(of: "heartbeat_ms = 1000", with: "heartbeat_ms = \(Self.heartbeatMs)")
            .write(to: home.home.configFile, atomically: true, encoding: .utf8)
        #expect(try AgorHome.run(["agent", "add", "dash", "--group", "default", "--home", home.home.root.path]).status == 0)

        // Build the C client first (the Makefile's deps installed libzmq3-dev, libprotobuf-c-dev, protoc-c).
        let cFolder = AgorHome.packageRoot.appendingPathComponent("clients/c")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-s", "-C", cFolder.path]
        try make.run()
        make.waitUntilExit()
        #expect(make.terminationStatus == 0)

        _ = try home.serve("echo")
        var btmsg = try home.serve("btmsg")
        _ = try home.serve("diagnostics")
        for service in ["echo", "btmsg", "diagnostics"] { #expect(try await home.waitUntilAnswers(service)) }
        let client = try home.client()

        // The C client follows the collector with its own key from the start.
        let watcher = Process()
        watcher.executableURL = cFolder.appendingPathComponent("bin/diag-watch")
        watcher.arguments = [home.home.root.path, home.home.secretKeyFile("dash").path]
        let watcherOut = Pipe()
        watcher.standardOutput = watcherOut
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()
        let lines = LineCollector(watcherOut).lines
        defer { if watcher.isRunning { kill(watcher.processIdentifier, SIGKILL) } }

        #expect(await eventually(400) { await summary(client, "btmsg")?.health == .up })
        let firstPid = btmsg.processIdentifier
        #expect(await summary(client, "btmsg")?.pid == firstPid)

        // kill -9: missed heartbeats mark it down, and the collector saw its link drop.
        let killedAtUs = BusProtocol.nowMicros()
        kill(firstPid, SIGKILL)
        btmsg.waitUntilExit()
        #expect(await eventually(400) { await summary(client, "btmsg")?.health == .down })
        let afterKill = await links(client, "btmsg")
        let drop = afterKill.first { $0.observer == "collector" && $0.event.kind == "disconnected" && $0.event.timeUs >= killedAtUs - 1_000_000 }
        #expect(drop != nil)
        #expect(await summary(client, "btmsg")?.reconnects ?? 0 >= 1)

        // Restarted: up again with its new pid, and the reconnect is in the history after the drop.
        btmsg = try home.serve("btmsg")
        #expect(await eventually(400) { await summary(client, "btmsg")?.health == .up })
        #expect(await summary(client, "btmsg")?.pid == btmsg.processIdentifier)
        let afterRestart = await links(client, "btmsg")
        #expect(afterRestart.contains { $0.observer == "collector" && $0.event.kind == "handshakeSucceeded" && $0.event.timeUs > (drop?.event.timeUs ?? .max) })

        // The C client printed live figures and the down/up events.
        #expect(await eventually(400) {
            lines.withLock { all in
                all.contains { $0.contains("\"event\":\"service.down\",\"service\":\"btmsg\"") }
                    && all.contains { $0.contains("\"event\":\"service.up\",\"service\":\"btmsg\"") }
                    && all.contains { $0.hasPrefix("{\"figures\"") && $0.contains("{\"service\":\"btmsg\",\"health\":\"up\",\"pid\":\(btmsg.processIdentifier)") }
            }
        })
        let figureLine = try #require(lines.withLock { $0.last { $0.hasPrefix("{\"figures\"") } })
        #expect((try? JSONSerialization.jsonObject(with: Data(figureLine.utf8))) != nil)

        // agor diag top, piped: whole frames without escape codes.
        let top = try home.launch(AgorHome.agor, as: "operator", ["diag", "top", "--frames", "2"])
        let topOut = String(decoding: top.out.fileHandleForReading.readAll(), as: UTF8.self)
        top.process.waitUntilExit()
        #expect(top.process.terminationStatus == 0)
        #expect(topOut.components(separatedBy: "agor diagnostics").count == 3)
        #expect(topOut.contains("btmsg") && topOut.contains("up"))
        #expect(!topOut.contains("\u{1B}["))

        // Prometheus scrapes the collector's HTTP port.
        let http = try #require(BusConfig.load(from: home.home.configFile).service("diagnostics")?.http)
        let url = try #require(URL(string: "http://\(http)/metrics"))
        var text = ""
        #expect(await eventually(400) {
            guard let (data, _) = try? await URLSession.shared.data(from: url) else { return false }
            text = String(decoding: data, as: UTF8.self)
            return text.contains("agor_service_up{service=\"btmsg\"} 1")
        })
        #expect(text.contains("# TYPE agor_request_duration_seconds histogram"))
        #expect(text.contains("agor_link_events_total{service=\"btmsg\",observer=\"collector\",event=\"disconnected\"}"))

        kill(watcher.processIdentifier, SIGKILL)
        watcher.waitUntilExit()
    }

    @Test func diagCommandsRefuseBadInputWithTypedStatuses() async throws {
        let home = try AgorHome()
        defer { home.cleanUp() }
        _ = try home.serve("diagnostics")
        #expect(try await home.waitUntilAnswers("diagnostics"))
        let env = home.environment(as: "operator")
        let unknown = try AgorHome.run(["diag", "service", "nope"], environment: env)
        #expect(unknown.status == 4)
        #expect(unknown.output.contains("no service 'nope'"))
        let window = try AgorHome.run(["diag", "histograms", "btmsg", "--window", "61"], environment: env)
        #expect(window.status == 2)
        let metric = try AgorHome.run(["diag", "series", "btmsg", "bogus"], environment: env)
        #expect(metric.status == 2)
        #expect(metric.output.contains("unknown metric"))
        let summary = try AgorHome.run(["diag", "summary", "--json"], environment: env)
        #expect(summary.status == 0)
        #expect(summary.output.contains("\"service\":\"diagnostics\""))
    }
}
