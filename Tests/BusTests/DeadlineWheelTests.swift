import AgorTestSupport
import Foundation
import Testing
@testable import Bus

/// The RPC client's deadline wheel: every deadline fires once, never before its time, entries the
/// expiry hands back fire again, and the wheel's task ends when nothing waits and starts again.
struct DeadlineWheelTests {
    @Test func everyDeadlineFiresOnceNotEarlyAndRescheduledOnesFireAgain() async throws {
        let fired = Locked<[String: Int]>([:])
        let early = Locked(0)
        let scheduled = Locked<[String: ContinuousClock.Instant]>([:])
        let wheel = DeadlineWheel { entries in
            var again: [(DeadlineWheel.Entry, ContinuousClock.Instant)] = []
            for entry in entries {
                if let due = scheduled.withLock({ $0[entry.id] }), ContinuousClock.now < due { early.withLock { $0 += 1 } }
                let count = fired.withLock { table -> Int in
                    table[entry.id, default: 0] += 1
                    return table[entry.id]!
                }
                // "retry" entries come back once, 20 ms later.
                if entry.id.hasPrefix("retry") && count == 1 {
                    let next = ContinuousClock.now + .milliseconds(20)
                    scheduled.withLock { $0[entry.id] = next }
                    again.append((entry, next))
                }
            }
            return again
        }
        for round in 0..<2 {   // the second round starts the wheel's task again after it ended
            let names = (0..<200).map { "\(round)-\($0)" } + (0..<20).map { "retry\(round)-\($0)" }
            for (index, name) in names.enumerated() {
                let due = ContinuousClock.now + .milliseconds(index % 50)
                scheduled.withLock { $0[name] = due }
                wheel.schedule(.init(id: name, generation: 1), at: due)
            }
            _ = await eventually(500, every: .milliseconds(10)) {
                fired.withLock { table in names.allSatisfy { name in table[name] == (name.hasPrefix("retry") ? 2 : 1) } }
            }
            let counts = fired.withLock { $0 }
            let wrong = names.filter { name in counts[name] != (name.hasPrefix("retry") ? 2 : 1) }
            #expect(wrong.isEmpty, "round \(round): \(wrong.prefix(5))")
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(early.withLock { $0 } == 0)
        let total = fired.withLock { $0.values.reduce(0, +) }
        #expect(total == 2 * (200 + 40))
    }

    @Test("a cancelled deadline never fires; the others around it do")
    func cancelledDeadlinesDoNotFire() async throws {
        let fired = Locked<[String]>([])
        let wheel = DeadlineWheel { entries in
            fired.withLock { $0 += entries.map(\.id) }
            return []
        }
        let due = ContinuousClock.now + .milliseconds(30)
        for name in ["keep-1", "drop", "keep-2"] { wheel.schedule(.init(id: name, generation: 1), at: due) }
        wheel.cancel(.init(id: "drop", generation: 1), at: due)
        wheel.cancel(.init(id: "keep-2", generation: 2), at: due)   // another generation: not this entry
        _ = await eventually(every: .milliseconds(10)) { fired.withLock { $0.count } >= 2 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(fired.withLock { $0.sorted() } == ["keep-1", "keep-2"])
    }
}
