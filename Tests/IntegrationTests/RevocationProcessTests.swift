import AgorTestSupport
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
    enum Narrowing: String, CaseIterable, Sendable { case revoked, lostGroup }

    struct Case: Sendable, CustomStringConvertible {
        var service: String
        var stream: String
        /// The manager's CLI, whose `publish` arguments lead to one event (or more) on the stream.
        var cli: URL
        var publish: @Sendable (Int) -> [String]
        /// The spy's CLI of this service, which must be refused with exit 3 once revoked: a
        /// command that needs the service, and whether it has a `watch` that follows the stream.
        var spyCLI: (program: URL, read: [String])?
        var narrowing: Narrowing
        var description: String { "\(service) \(narrowing)" }
    }

    static let cases: [Case] = Narrowing.allCases.flatMap { narrowing in [
        Case(service: "btmsg", stream: "btmsg/default/", cli: AgorHome.btmsg, publish: { ["send", "keeper", "note \($0)"] },
             spyCLI: (AgorHome.btmsg, ["inbox"]), narrowing: narrowing),
        Case(service: "bttask", stream: "bttask/default/", cli: AgorHome.bttask, publish: { ["add", "task \($0)"] },
             spyCLI: (AgorHome.bttask, ["list"]), narrowing: narrowing),
    ] } + [
        // The collector's stream is open to everyone in the directory, so only a revocation ends
        // it; its events are the link records of btmsg's connections (each CLI call makes some).
        Case(service: "diagnostics", stream: "diag/health", cli: AgorHome.btmsg, publish: { _ in ["inbox"] },
             spyCLI: nil, narrowing: .revoked),
    ]

    static func head(_ agor: AgorHome, _ service: String, _ stream: String) throws -> UInt64 {
        let pool = try DatabasePool(path: agor.home.database(service).path)
        return try pool.read { try UInt64(Int64.fetchOne($0, sql: "SELECT head FROM bus_streams WHERE stream = ?", arguments: [stream]) ?? 0) }
    }

    @Test("nothing published after the change reaches the narrowed subscriber", arguments: cases)
    func narrowedSubscriberGetsNothingAfterTheChange(_ c: Case) async throws {
        let narrowing = c.narrowing
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
        let stream = c.stream
        let config = try BusConfig.load(from: agor.home.configFile)
        let directory = Directory(folder: agor.home.directoryFolder)
        let serverKey = try #require(directory.principal(named: c.service)).publicKey
        let endpoint = try #require(config.service(c.service)).pub
        let spyKey = try CurveKeyPair.read(from: agor.home.secretKeyFile("spy"))
        let context = Context()
        let tap = try EventTap(context: context, endpoint: endpoint, serverKey: serverKey, key: spyKey, prefix: stream)
        let keeper = try ServiceClient(home: agor.home, keyFile: agor.home.secretKeyFile("keeper")).subscriber(c.service, prefixes: [stream])
        defer { Task { await tap.close(); await keeper.close() } }
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
        let watchErr = Pipe()
        if let spyCLI = c.spyCLI {
            watch.executableURL = spyCLI.program
            watch.arguments = ["watch", "--json"]
            watch.environment = agor.environment(as: "spy")
            watch.standardOutput = FileHandle.nullDevice
            watch.standardError = watchErr
            try watch.run()
            try await Task.sleep(for: .milliseconds(300))
        }
        defer { if watch.isRunning { watch.terminate() } }

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
        let applied = await eventually(400, every: .milliseconds(25)) {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .contains { $0.contains("directory change applied") && $0.contains("spy") }
        }
        #expect(applied, "\(c.service) never logged the change")
        let changed = try Self.head(agor, c.service, stream)

        for i in 0..<5 { #expect(try agor.tool(c.cli, "mia", c.publish(100 + i)).status == 0) }
        // Until the stream has grown past the change (the collector's link records come with
        // btmsg's next heartbeat) and the keeper has it all.
        var last: UInt64 = 0
        _ = try await eventually(400, every: .milliseconds(25)) {
            last = try Self.head(agor, c.service, stream)
            return last >= changed + 5
        }
        #expect(last >= changed + 5)
        _ = await eventually(400, every: .milliseconds(25)) { (received.withLock { $0.last } ?? 0) >= last }
        try await Task.sleep(for: .milliseconds(500))   // room for anything late to the spy
        let late = tap.eventSeqs.filter { $0 > changed }
        #expect(late.isEmpty, "\(c.description): the spy received \(late) after the change at \(changed)")
        let kept = received.withLock { $0 }
        #expect(kept.count >= Int(last) && kept == Array(1...UInt64(kept.count)),
                "\(c.description): the keeper's events were not 1...\(last) once in order: \(kept)")

        if narrowing == .revoked, let spyCLI = c.spyCLI {
            let line = "\(c.service): your key is not accepted by \(c.service): revoked or unknown\n"
            let refused = try agor.tool(spyCLI.program, "spy", spyCLI.read)
            #expect(refused.status == 3)
            #expect(refused.err == line)
            _ = await eventually(400, every: .milliseconds(25)) { !watch.isRunning }
            #expect(!watch.isRunning, "\(c.service) watch went on after its key was refused")
            if !watch.isRunning {
                #expect(watch.terminationStatus == 3)
                let err = String(decoding: watchErr.fileHandleForReading.readAll(), as: UTF8.self)
                #expect(err.hasSuffix(line), "\(err)")
            }
        }
    }
}
