import AgorKit
import Bus
import Foundation
import GRDB
import Testing

/// Revocation ends what is already open, with the real `agor serve btmsg` and `bttask` processes
/// over tcp + CURVE: a subscriber whose key is revoked (or whose certificate loses the group)
/// receives nothing published after the service applied the change, while a legitimate
/// subscriber of the same stream gets every event once and in order; the revoked CLI is told at
/// once that its key is refused (exit 3), not after its deadline.
@Suite("revocation", .serialized, .timeLimit(.minutes(4)))
struct RevocationProcessTests {
    struct Case: Sendable, CustomStringConvertible {
        var service: String
        var cli: URL
        /// A command of the CLI that needs the service.
        var read: [String]
        /// Arguments for the manager's CLI that publish one event on the group's stream.
        var publish: @Sendable (Int) -> [String]
        var description: String { service }
    }

    static let cases = [
        Case(service: "btmsg", cli: AgorHome.btmsg, read: ["inbox"], publish: { ["send", "keeper", "note \($0)"] }),
        Case(service: "bttask", cli: AgorHome.bttask, read: ["list"], publish: { ["add", "task \($0)"] }),
    ]

    enum Narrowing: String, CaseIterable, Sendable { case revoked, lostGroup }

    static func head(_ agor: AgorHome, _ service: String, _ stream: String) throws -> UInt64 {
        let pool = try DatabasePool(path: agor.home.database(service).path)
        return try pool.read { try UInt64(Int64.fetchOne($0, sql: "SELECT head FROM bus_streams WHERE stream = ?", arguments: [stream]) ?? 0) }
    }

    @Test("nothing published after the change reaches the narrowed subscriber", arguments: cases, Narrowing.allCases)
    func narrowedSubscriberGetsNothingAfterTheChange(_ c: Case, _ narrowing: Narrowing) async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        #expect(try AgorHome.run(["group", "add", "side", "--home", root]).status == 0)
        for (name, role) in [("mia", "manager"), ("spy", "worker"), ("keeper", "worker")] {
            #expect(try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root]).status == 0)
        }
        _ = try agor.serve("btmsg")
        if c.service != "btmsg" { _ = try agor.serve(c.service) }
        #expect(try await agor.waitUntilAnswers(c.service))
        let stream = "\(c.service)/default/"
        let config = try BusConfig.load(from: agor.home.configFile)
        let directory = Directory(folder: agor.home.directoryFolder)
        let serverKey = try #require(directory.principal(named: c.service)).publicKey
        let endpoint = try #require(config.service(c.service)).pub
        let spyKey = try CurveKeyPair.read(from: agor.home.secretKeyFile("spy"))
        let context = Context()
        let tap = try EventTap(context: context, endpoint: endpoint, serverKey: serverKey, key: spyKey, prefix: stream)
        let keeper = try ServiceClient(home: agor.home, keyFile: agor.home.secretKeyFile("keeper")).subscriber(c.service, prefixes: [stream])
        let received = Locked<[UInt64]>([])
        let reader = Task { for await event in keeper.events where event.stream == stream { received.withLock { $0.append(event.seq) } } }
        defer { reader.cancel() }

        // Publish until both subscriptions are live.
        var sent = 0
        while sent < 40 && (tap.eventSeqs.isEmpty || keeper.statistics.deliveredLive == 0) {
            #expect(try agor.tool(c.cli, "mia", c.publish(sent)).status == 0)
            sent += 1
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!tap.eventSeqs.isEmpty, "the spy's subscription never became live")

        // The spy also runs the CLI's own follower, which must end with exit 3 once it is refused.
        let watch = Process()
        watch.executableURL = c.cli
        watch.arguments = ["watch", "--json"]
        watch.environment = agor.environment(as: "spy")
        let watchErr = Pipe()
        watch.standardOutput = FileHandle.nullDevice
        watch.standardError = watchErr
        try watch.run()
        defer { if watch.isRunning { watch.terminate() } }
        try await Task.sleep(for: .milliseconds(300))

        switch narrowing {
        case .revoked:
            #expect(try AgorHome.run(["revoke", "spy", "--home", root]).status == 0)
        case .lostGroup:
            var spy = try #require(directory.principal(named: "spy"))
            spy.groups = ["side"]
            try directory.write(spy)
        }
        // The service logs the change once it has applied it (docs/BUS.md, "Revocation").
        let log = agor.home.root.appendingPathComponent("logs/\(c.service).log")
        var applied = false
        for _ in 0..<200 where !applied {
            applied = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
                    .contains { $0.contains("directory change applied") && $0.contains("spy") }
            if !applied { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(applied, "\(c.service) never logged the change")
        let changed = try Self.head(agor, c.service, stream)

        for i in 0..<5 { #expect(try agor.tool(c.cli, "mia", c.publish(100 + i)).status == 0) }
        let last = try Self.head(agor, c.service, stream)
        #expect(last >= changed + 5)
        var caughtUp = false
        for _ in 0..<400 where !caughtUp {
            caughtUp = (received.withLock { $0.last } ?? 0) >= last
            if !caughtUp { try await Task.sleep(for: .milliseconds(25)) }
        }
        try await Task.sleep(for: .milliseconds(500))   // room for anything late to the spy
        let late = tap.eventSeqs.filter { $0 > changed }
        #expect(late.isEmpty, "\(c.service): the spy received \(late) after the change at \(changed)")
        #expect(received.withLock { $0 } == Array(1...last), "\(c.service): the keeper's events were not 1...\(last) once in order")

        if narrowing == .revoked {
            let line = "\(c.service): your key is not accepted by \(c.service): revoked or unknown\n"
            let refused = try agor.tool(c.cli, "spy", c.read)
            #expect(refused.status == 3)
            #expect(refused.err == line)
            for _ in 0..<400 where watch.isRunning { try await Task.sleep(for: .milliseconds(25)) }
            #expect(!watch.isRunning, "\(c.service) watch went on after its key was refused")
            if !watch.isRunning {
                #expect(watch.terminationStatus == 3)
                let err = String(decoding: watchErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(err.hasSuffix(line), "\(err)")
            }
        }
        await tap.close()
        await keeper.close()
    }
}
