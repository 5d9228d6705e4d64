import Foundation
import Testing

/// Hostile clients over the wire, as one suite (Tests/Interop/hostile.py, pyzmq, no agor code):
/// NULL and PLAIN, unknown keys, a wrong server key, a key revoked mid-connection, another
/// principal's request id, a spoofed on_behalf_of, cross-group sends, other groups' streams,
/// malformed and oversize frames, and a flood beside ten steady clients. Each is refused (or
/// throttled) against a real btmsg process, which goes on serving; then the refusals are counted in
/// Diagnostics, as a person sees them with `agor diag service btmsg`.
@Suite("hostile clients", .serialized, .timeLimit(.minutes(4)))
struct HostileClientTests {
    @Test("every hostile client is refused or throttled, the service goes on, and Diagnostics counts the refusals")
    func hostileClients() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        for group in ["g1", "g2"] {
            let added = try AgorHome.run(["group", "add", group, "--home", root])
            #expect(added.status == 0, "\(added.output)")
        }
        var agents = [("alice", "g1", "worker"), ("bob", "g1", "worker"), ("mallory", "g1", "worker"), ("flooder", "g1", "worker"),
                      ("chief", "g1", "operator"), ("carol", "g2", "worker"), ("boss2", "g2", "manager")]
        agents += (1...10).map { ("q\($0)", "g1", "worker") }
        for (name, group, role) in agents {
            let added = try AgorHome.run(["agent", "add", name, "--group", group, "--role", role, "--home", root])
            #expect(added.status == 0, "\(added.output)")
        }
        _ = try agor.serve("btmsg")
        _ = try agor.serve("diagnostics")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        #expect(try await agor.waitUntilAnswers("diagnostics"))

        let output = try await AgorHome.python([AgorHome.interop("hostile.py"), AgorHome.agor.path, root], environment: ["FLOOD": "5000"])
        #expect(output.0 == 0, "\(output.1)")
        for name in ["NULL mechanism", "PLAIN mechanism", "an unknown CURVE key", "a wrong server key", "a key revoked mid-connection",
                     "a request id replayed by another principal", "a spoofed on_behalf_of", "cross-group and non-member sends",
                     "subscriptions to another group's stream", "malformed and oversize frames",
                     "one client flooding while ten keep their pace"] {
            #expect(output.1.contains("ok \(name)\n"), "\(name): \(output.1)")
        }
        #expect(output.1.contains("hostile ok"), "\(output.1)")

        // Diagnostics has the refusals from btmsg's heartbeats.
        var summary: [String: Any] = [:]
        var refusedSubscriptions = 0
        for _ in 0..<50 {
            let detail = try AgorHome.run(["diag", "service", "btmsg", "--json", "--home", root])
            let reply = json(Array(detail.output.utf8))
            summary = reply["summary"] as? [String: Any] ?? [:]
            refusedSubscriptions = (reply["sockets"] as? [[String: Any]] ?? []).reduce(0) {
                $0 + (Int("\($1["subscriptions_refused"] ?? $1["subscriptionsRefused"] ?? 0)") ?? 0)
            }
            let counted = ["zap_denied", "malformed", "unauthenticated", "throttled"].allSatisfy { (Int("\(summary[$0] ?? 0)") ?? 0) > 0 }
            if counted && refusedSubscriptions > 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        for field in ["zap_denied", "malformed", "unauthenticated", "throttled"] {
            #expect((Int("\(summary[field] ?? 0)") ?? 0) > 0, "\(field) in \(summary)")
        }
        #expect(refusedSubscriptions > 0, "\(summary)")
    }
}
