import AgorTestSupport
import Foundation
import GRDB
import Testing
@testable import Bus

@Suite struct SequencedEventTests {
    func emit(_ bed: TestBed, stream: String, count: Int, publish: Bool = true) async throws {
        if publish {
            try await bed.publisher.write { _, events in
                for i in 0..<count { try events.append(stream: stream, type: "t", body: Array("\(i)".utf8)) }
            }
        } else {
            // Committed but never published: what a PUB drop looks like to a subscriber.
            try await bed.database.write { db in
                for i in 0..<count { _ = try EventLog.append(db, stream: stream, type: "t", body: Array("\(i)".utf8)) }
            }
        }
    }

    /// Emits single events until one arrives live (not by replay), so the subscription is known to
    /// have reached the publisher. Returns the stream's last number.
    func waitUntilLive(_ bed: TestBed, _ subscriber: SequencedSubscriber, stream: String) async throws -> UInt64 {
        var last: UInt64 = 0
        for _ in 0..<100 {
            let liveBefore = subscriber.statistics.deliveredLive
            try await emit(bed, stream: stream, count: 1)
            last += 1
            _ = await collect(subscriber, count: 1)
            if subscriber.statistics.deliveredLive > liveBefore { return last }
        }
        Issue.record("the subscription never became live")
        return last
    }

    /// Reads `count` events and checks they are 1...count of each stream, in order, once.
    func collect(_ subscriber: SequencedSubscriber, count: Int) async -> [String: [UInt64]] {
        var seen: [String: [UInt64]] = [:]
        var total = 0
        for await event in subscriber.events {
            seen[event.stream, default: []].append(event.seq)
            total += 1
            if total == count { break }
        }
        return seen
    }

    @Test func lateJoinGetsHistoryThenLiveOnceInOrder() async throws {
        try await withBed(TestBed()) { bed in
            try await emit(bed, stream: "s.a", count: 100)
            let subscriber = try bed.subscriber(bed.alice, prefixes: ["s."])
            try await emit(bed, stream: "s.a", count: 100)
            try await emit(bed, stream: "s.b", count: 50)
            let seen = await collect(subscriber, count: 250)
            #expect(seen["s.a"] == Array(1...200))
            #expect(seen["s.b"] == Array(1...50))
            await subscriber.close()
        }
    }

    @Test func startNowSkipsHistory() async throws {
        try await withBed(TestBed()) { bed in
            try await emit(bed, stream: "s.a", count: 10)
            let subscriber = try bed.subscriber(bed.alice, prefixes: ["s."], start: .now)
            #expect(await eventually { subscriber.statistics.catchUps >= 1 })
            try await emit(bed, stream: "s.a", count: 5)
            let seen = await collect(subscriber, count: 5)
            #expect(seen["s.a"] == Array(11...15))
            await subscriber.close()
        }
    }

    @Test func droppedEventsAreFilledFromReplay() async throws {
        try await withBed(TestBed()) { bed in
            let subscriber = try bed.subscriber(bed.alice, prefixes: ["s."], start: .now)
            #expect(await eventually { subscriber.statistics.catchUps >= 1 })
            let live = try await waitUntilLive(bed, subscriber, stream: "s.a")
            let before = subscriber.statistics
            try await emit(bed, stream: "s.a", count: 2)
            try await emit(bed, stream: "s.a", count: 7, publish: false)
            try await emit(bed, stream: "s.a", count: 5)
            let seen = await collect(subscriber, count: 14)
            #expect(seen["s.a"] == Array((live + 1)...(live + 14)))
            #expect(subscriber.statistics.gapsDetected - before.gapsDetected == 1)
            #expect(subscriber.statistics.eventsRecovered - before.eventsRecovered == 7)
            await subscriber.close()
        }
    }

    @Test func tinyHighWaterMarkDropsAreRecovered() async throws {
        try await withBed(TestBed(publisherHighWaterMark: 1)) { bed in
            let subscriber = try bed.subscriber(bed.alice, prefixes: ["s."], start: .now)
            #expect(await eventually { subscriber.statistics.catchUps >= 1 })
            let count = 20_000
            try await emit(bed, stream: "s.a", count: count)
            let seen = await collect(subscriber, count: count)
            #expect(seen["s.a"] == Array(1...UInt64(count)))
            // The PUB dropped at its high-water mark; the subscriber recovered those by replay, and its
            // figures account for every event: what it missed live is what it recovered.
            let figures = subscriber.statistics
            #expect(figures.eventsRecovered > 0)
            #expect(figures.eventsMissed == figures.eventsRecovered)
            #expect(figures.deliveredLive + figures.eventsRecovered == count)
            await subscriber.close()
        }
    }

    @Test func malformedEventFramesAreCountedAndSkipped() async throws {
        try await withBed(TestBed()) { bed in
            let subscriber = try bed.subscriber(bed.alice, prefixes: ["s."], start: .now)
            #expect(await eventually { subscriber.statistics.catchUps >= 1 })
            let live = try await waitUntilLive(bed, subscriber, stream: "s.a")
            // Each sent as its own frame set (publish() could coalesce them into one batch frame).
            await bed.publisher.socket.send(frames: [Array("s.a".utf8), [0xFF, 0x00], []])
            var bogusBatch = Envelope()
            bogusBatch.version = 1
            bogusBatch.kind = .eventBatch
            await bed.publisher.socket.send(frames: [Array("s.a".utf8), bogusBatch.bytes(), [0x0A, 0x7F]])
            try await emit(bed, stream: "s.a", count: 3)
            let seen = await collect(subscriber, count: 3)
            #expect(seen["s.a"] == [live + 1, live + 2, live + 3])
            #expect(subscriber.statistics.malformed == 2)
            await subscriber.close()
        }
    }

    @Test func replayChecksItsInput() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            do {
                _ = try await client.call("bus.replay", [0xFF, 0xFF])
                Issue.record("bad replay request accepted")
            } catch let error as BusError {
                #expect(error.errorCode == .badRequest)
            }
            await client.close()
        }
    }

    /// Events published after a `.now` join but before the first connection was up are delivered
    /// by the first catch-up and are not counted as missed: nothing dropped them (the Gateway
    /// showed such "dropped events" on a quiet system).
    @Test func eventsBeforeTheFirstConnectionAreDeliveredNotCountedAsMissed() async throws {
        try await withBed(TestBed()) { bed in
            try await emit(bed, stream: "s.a", count: 3)
            let endpoint = "tcp://127.0.0.1:\(LoopbackPorts.freeBase(count: 1))"
            // Nothing listens at `endpoint` yet; its replay goes to the bed's server.
            let subscriber = try SequencedSubscriber(context: bed.context, endpoint: endpoint, serverKey: bed.serverKey.publicKey,
                                                     clientKey: bed.alice, replay: try bed.client(bed.alice), prefixes: ["s."], start: .now)
            #expect(await eventually { subscriber.statistics.catchUps >= 1 })
            try await emit(bed, stream: "s.a", count: 5)
            let late = try SequencedPublisher(context: bed.context, endpoint: endpoint, serverKey: bed.serverKey, database: bed.database)
            let seen = await collect(subscriber, count: 5)
            #expect(seen["s.a"] == [4, 5, 6, 7, 8])
            #expect(subscriber.statistics.eventsMissed == 0 && subscriber.statistics.gapsDetected == 0)
            await subscriber.close()
            await late.close()
        }
    }
}
