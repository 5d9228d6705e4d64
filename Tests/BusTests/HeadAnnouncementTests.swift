import AgorTestSupport
import Foundation
import Testing
@testable import Bus

/// HEAD markers: never inside an EventBatch, never below an event sent before them, and
/// `bus.heads` never below what was published.
@Suite(.timeLimit(.minutes(2)))
struct HeadAnnouncementTests {
    @Test func batchesHoldEventsOnlyAndHeadsNeverGoBackwards() async throws {
        try await withBed(TestBed()) { bed in
            let tap = try EventTap(context: bed.context, endpoint: bed.publisher.endpoint, serverKey: bed.serverKey.publicKey,
                                 key: bed.alice, prefix: "s.")
            _ = try await eventually(every: .milliseconds(20)) {
                guard tap.items.withLock({ $0.isEmpty }) else { return true }
                _ = try await bed.publisher.write { _, events in try events.append(stream: "s.a", type: "t", body: []) }
                return false
            }
            // Bursts from several writers, so events coalesce into batches while heads are announced.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for round in 0..<50 {
                            _ = try await bed.publisher.write { _, events in
                                for i in 0..<(1 + (round + writer) % 7) { try events.append(stream: "s.\(["a", "b"][i % 2])", type: "t", body: []) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let heads = try await bed.database.read { try EventLog.heads($0, prefix: "s.") }
            // Wait for the announcer's last round (about 1.3 s after the last write).
            #expect(await eventually(200) {
                let items = tap.items.withLock { $0 }
                return heads.allSatisfy { head in items.contains { $0.kind == .head && $0.stream == head.0 && $0.seq == head.1 } }
            })
            let items = tap.items.withLock { $0 }
            #expect(items.contains { $0.frameKind == .eventBatch }, "no batch formed; the test saw nothing it checks")
            #expect(items.filter { $0.frameKind == .eventBatch }.allSatisfy { $0.kind == .event })
            var highest: [String: UInt64] = [:]
            for item in items {
                if item.kind == .head { #expect(item.seq >= highest[item.stream] ?? 0, "head \(item.seq) after event \(highest[item.stream] ?? 0)") }
                highest[item.stream] = max(highest[item.stream] ?? 0, item.seq)
            }
            await tap.close()
        }
    }

    @Test func headsAnswerNeverBelowWhatWasPublished() async throws {
        try await withBed(TestBed()) { bed in
            // Published numbers the database does not show yet (a reader snapshot older than the publish).
            bed.publisher.publish([BusEvent(stream: "s.x", seq: 5, type: "t", timestampUs: 0, body: [])])
            var ask = Agor_Bus_V1_HeadsRequest()
            ask.prefix = "s."
            let reply = try await bed.client(bed.alice).call("bus.heads", ask, as: Agor_Bus_V1_HeadsReply.self)
            #expect(reply.heads.first { $0.stream == "s.x" }?.seq == 5)
        }
    }
}
