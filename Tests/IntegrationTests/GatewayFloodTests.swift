import Bus
import Foundation
import Testing

/// The Gateway under floods, as a real process beside real services, driven by
/// Tests/Interop/gateway_flood.py (no agor code): ten WebSocket readers that stop reading are
/// ended while a healthy reader gets every message once and in order; a person past the
/// per-person rate is answered 429, never 5xx; connections trickling bodies past the in-flight
/// limit make further requests 503 `busy` until they go; and the Gateway's resident memory stays
/// under the stated bound throughout.
@Suite("gateway floods", .serialized, .timeLimit(.minutes(5)))
struct GatewayFloodTests {
    @Test("slow readers, a too-fast person and held requests leave the Gateway's memory bounded and its service on")
    func floodsAreBounded() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        // A per-person rate the script's flooder can pass from one process.
        let config = try String(contentsOf: agor.home.configFile, encoding: .utf8)
        #expect(config.contains("[bus]\n"))
        try config.replacingOccurrences(of: "[bus]\n", with: "[bus]\nrequests_per_principal_s = 300\n")
            .write(to: agor.home.configFile, atomically: true, encoding: .utf8)
        func token(_ name: String, _ role: String) throws -> String {
            let added = try AgorHome.run(["user", "add", name, "--group", "web", "--role", role, "--home", root])
            #expect(added.status == 0, "\(added.output)")
            return String(added.output.split(separator: "\n").last ?? "")
        }
        let writer = try token("ann", "manager"), flooder = try token("flo", "worker")
        let (processes, http) = try await agor.serveAll()
        let pid = try #require(processes["gateway"]?.processIdentifier)

        let output = try await AgorHome.python([AgorHome.interop("gateway_flood.py"), "\(http)", "\(pid)", writer, flooder])
        #expect(output.0 == 0, "\(output.1)")
        // The figures (memory, refusals) for the log; nothing is asserted about them but the bound.
        for line in output.1.split(separator: "\n") where line.contains("\"bench\": \"gateway-flood\"") { print(line) }
        for check in ["every message was accepted", "the healthy reader received every message once, in order",
                      "the flooding person was throttled (429) and never got a server error",
                      "every slow reader was ended by the Gateway",
                      "past the in-flight limit a request is refused 503 busy", "the Gateway serves again once they go",
                      "the Gateway's memory grew less than the bound"] {
            #expect(output.1.contains("ok \(check)\n"), "\(check): \(output.1)")
        }
        #expect(output.1.contains("gateway flood ok"), "\(output.1)")
        #expect(processes["gateway"]?.isRunning == true)
    }
}
