import AgorTestSupport
import Foundation
import GRDB
import Testing
@testable import Bus

/// A directory change that narrows someone's access ends what that principal has open: over real
/// tcp + CURVE, a subscriber receives nothing published after the change was applied, while a
/// legitimate subscriber loses nothing (it reconnects and fills the gap by replay).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RevocationTests {
    static let stream = "g/g1/notes"

    func emit(_ bed: TestBed, count: Int) async throws {
        try await bed.publisher.write { _, events in
            for i in 0..<count { try events.append(stream: RevocationTests.stream, type: "t", body: Array("\(i)".utf8)) }
        }
    }

    func head(_ bed: TestBed) throws -> UInt64 {
        try bed.database.read { try EventLog.head($0, stream: RevocationTests.stream) }
    }

    /// carol (g1) follows the stream with a sequenced subscriber; alice (g1) with a plain SUB.
    /// Emits until both have received something live; `narrow` then changes the directory.
    func run(narrow: @escaping @Sendable (TestBed) throws -> Void) async throws {
        try await withBed(TestBed(gated: true)) { bed in
            let carol = CurveKeyPair.generate()
            try bed.directory.write(Principal(name: "carol", kind: .agent, publicKey: carol.publicKey, groups: ["g1"], role: .worker))
            let tap = try EventTap(context: bed.context, endpoint: bed.publisher.endpoint, serverKey: bed.serverKey.publicKey,
                                 key: bed.alice, prefix: "g/g1/")
            let keeper = try bed.subscriber(carol, prefixes: ["g/g1/"])
            let received = Locked<[UInt64]>([])
            let reader = Task { for await event in keeper.events { received.withLock { $0.append(event.seq) } } }
            // Each poll publishes one more event, until both consumers receive live.
            let live = try await eventually(every: .milliseconds(20)) {
                try await emit(bed, count: 1)
                try await Task.sleep(for: .milliseconds(20))
                return !tap.eventSeqs.isEmpty && keeper.statistics.deliveredLive > 0
            }
            #expect(live, "the subscriptions never became live")

            try narrow(bed)   // reloads the directory: the change is applied when this returns
            let applied = try head(bed)
            try await emit(bed, count: 30)
            let last = applied + 30
            #expect(await eventually { received.withLock { $0.last ?? 0 } >= last })
            try await emit(bed, count: 1)   // and one more after carol is surely back
            #expect(await eventually { received.withLock { $0.last ?? 0 } >= last + 1 })

            let seen = tap.eventSeqs
            #expect(!seen.isEmpty && seen.allSatisfy { $0 <= applied }, "alice received \(seen.filter { $0 > applied }) after the change at \(applied)")
            // carol: every event once, in order, through the cut.
            #expect(received.withLock { $0 } == Array(1...(last + 1)))
            #expect(bed.publisher.accessCuts == 1 && bed.publisher.connectionsCut >= 2)
            reader.cancel()
            await tap.close()
            await keeper.close()
        }
    }

    @Test func aRevokedSubscriberReceivesNothingPublishedAfterTheChange() async throws {
        try await run { bed in try bed.directory.revoke("alice", reason: "test") }
    }

    @Test func aSubscriberThatLostItsGroupReceivesNothingPublishedAfterTheChange() async throws {
        try await run { bed in
            try bed.directory.write(Principal(name: "alice", kind: .agent, publicKey: bed.alice.publicKey, groups: ["g2"], role: .worker))
        }
    }

    @Test func aChangeThatTakesNothingAwayEndsNoConnection() async throws {
        try await withBed(TestBed(gated: true)) { bed in
            let tap = try EventTap(context: bed.context, endpoint: bed.publisher.endpoint, serverKey: bed.serverKey.publicKey,
                                 key: bed.alice, prefix: "g/g1/")
            _ = try await eventually(every: .milliseconds(20)) {
                guard tap.eventSeqs.isEmpty else { return true }
                try await emit(bed, count: 1)
                return false
            }
            try bed.directory.write(Principal(name: "dave", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["g1"], role: .worker))
            try bed.directory.write(Principal(name: "alice", kind: .agent, publicKey: bed.alice.publicKey, groups: ["g1", "g3"], role: .worker))
            let before = try head(bed)
            try await emit(bed, count: 5)
            #expect(await eventually { (tap.eventSeqs.last ?? 0) >= before + 5 })
            #expect(bed.publisher.accessCuts == 0)
            await tap.close()
        }
    }

    @Test func aRefusedKeyFailsTheCallWithoutWaitingForItsDeadline() async throws {
        try await withBed(TestBed()) { bed in
            let stranger = try bed.client(CurveKeyPair.generate())
            await #expect(throws: BusError.keyRefused) {
                _ = try await stranger.call("echo", [1], options: .init(timeout: .seconds(60)))
            }
            #expect(stranger.isRefused)
            // The next call is refused at once, and a known key on the same server is unaffected.
            await #expect(throws: BusError.keyRefused) { _ = try await stranger.call("echo", [1]) }
            #expect(try await bed.client(bed.alice).call("echo", [7]) == [7])
            await stranger.close()
        }
    }

    @Test func directoryChangesNameWhoLostAccess() {
        let key = CurveKeyPair.generate().publicKey
        let base = Principal(name: "a", kind: .agent, publicKey: key, groups: ["g1", "g2"], role: .worker, rights: [.delegate])
        func narrows(_ edit: (inout Principal) -> Void) -> Bool {
            var after = base
            edit(&after)
            var before = Directory.Snapshot(), next = Directory.Snapshot()
            before.byName["a"] = base
            next.byName["a"] = after
            return DirectoryChange(from: before, to: next).removesRights
        }
        #expect(!narrows { _ in })
        #expect(!narrows { $0.groups.append("g3") })
        #expect(narrows { $0.groups = ["g1"] })
        #expect(narrows { $0.role = .manager })
        #expect(narrows { $0.rights = [] })
        #expect(narrows { $0.publicKey = CurveKeyPair.generate().publicKey })
        var gone = Directory.Snapshot()
        gone.byName["a"] = base
        #expect(DirectoryChange(from: gone, to: Directory.Snapshot()).narrowed == ["a"])
    }

    @Test func listenersAreRecognisedFromTheirEndpoints() {
        #expect(ConnectionCutter.Listener(endpoint: "tcp://127.0.0.1:9761") == .tcp(port: 9761, address: [127, 0, 0, 1]))
        #expect(ConnectionCutter.Listener(endpoint: "tcp://*:9761") == .tcp(port: 9761, address: nil))
        #expect(ConnectionCutter.Listener(endpoint: "tcp://0.0.0.0:1") == .tcp(port: 1, address: nil))
        #expect(ConnectionCutter.Listener(endpoint: "tcp://[::1]:80") == .tcp(port: 80, address: Array(repeating: 0, count: 15) + [1]))
        #expect(ConnectionCutter.Listener(endpoint: "ipc:///tmp/x.sock") == .ipc(path: "/tmp/x.sock"))
        #expect(ConnectionCutter.Listener(endpoint: "tcp://127.0.0.1:notaport") == nil)
        #expect(ConnectionCutter.Listener(endpoint: "inproc://x") == nil)
    }
}
