import AgorTestSupport
import AgorKit
import Bus
import Foundation
import GRDB
import Synchronization
import Testing

/// "Once and in order" per stream for every WebSocket client of the Gateway while a service is
/// killed and restarted under load: clients connect (resuming from a cursor) before the kill,
/// while the service is down and while the Gateway's own subscriber refills after the restart.
/// Each must see every sequence number of the stream once, ascending, without a gap.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct GatewayRestartTests {
    static func head(_ home: AgorHome, _ stream: String) -> UInt64 {
        guard let pool = try? DatabasePool(path: home.home.database("bttask").path),
              let head = try? pool.read({ try Int64.fetchOne($0, sql: "SELECT head FROM bus_streams WHERE stream = ?", arguments: [stream]) })
        else { return 0 }
        return UInt64(head)
    }

    @Test func clientsConnectingWhileTheServiceRestartsGetEverySeqOnceInOrder() async throws {
        let home = try AgorHome()
        defer { home.cleanUp() }
        let (ann, http) = try await GatewayProcessTests.startSystem(home)
        let base = "http://\(http)"
        let stream = "bttask/web/"
        // Stopped by a flag, never cancelled: cancelling a task while FoundationNetworking completes
        // its request can deadlock (URLSessionTask.cancel waits on the session's queue while that
        // queue waits for the task's status lock).
        let stop = Atomic<Bool>(false)
        let load = Task {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                _ = try? await GatewayProcessTests.send("POST", base + "/v1/tasks", token: ann, json: ["group": "web", "title": "load \(i)"])
                i += 1
            }
        }
        defer { stop.store(true, ordering: .relaxed) }
        _ = await eventually(400, every: .milliseconds(25)) { Self.head(home, stream) >= 30 }
        #expect(Self.head(home, stream) >= 30)

        let url = "ws://\(http)/v1/stream?services=bttask&groups=web"
        let wanted = 120
        var clients: [(client: GatewayProcessTests.StreamClient, cursor: UInt64)] = []
        func connect() throws {
            let cursor = max(1, Self.head(home, stream)) - 1
            clients.append((try GatewayProcessTests.startStream(url + "&cursor=\(stream):\(cursor)", token: ann, count: wanted), cursor))
        }
        try connect()
        // kill -9 bttask, connect clients while it is down, restart it, connect more while the
        // Gateway's shared subscriber refills its gap.
        let bttask = try #require(home.children.first { $0.isRunning && $0.arguments?.contains("bttask") == true })
        kill(bttask.processIdentifier, SIGKILL)
        bttask.waitUntilExit()
        for _ in 0..<3 {
            try connect()
            try await Task.sleep(for: .milliseconds(150))
        }
        _ = try home.serve("bttask")
        #expect(try await home.waitUntilAnswers("bttask"))
        for _ in 0..<6 {
            try connect()
            try await Task.sleep(for: .milliseconds(100))
        }
        for (index, (client, cursor)) in clients.enumerated() {
            let seqs = GatewayProcessTests.events(client.finish()).filter { $0.stream == stream }.map { UInt64($0.seq) }
            #expect(seqs.count == wanted, "client \(index) got \(seqs.count) events")
            #expect(seqs == Array((cursor + 1)..<(cursor + 1 + UInt64(seqs.count))),
                    "client \(index) from \(cursor): not every seq once, ascending: \(seqs)")
        }
        stop.store(true, ordering: .relaxed)
        await load.value
    }
}
