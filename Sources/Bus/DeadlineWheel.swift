import Synchronization

/// The deadlines of one RPC client's calls: one task for the client, not a timer task per call.
/// Deadlines fall into 10 ms slots (a hashed timing wheel, as libzmq's and Kafka's timers); the
/// task sleeps to the earliest slot while any deadline waits, hands the due ones to `expire`, and
/// ends when none is left (the next `schedule` starts it again). A call that is answered takes its
/// entry out (`cancel`), so a burst of answered calls does not keep the task waking for their
/// deadlines afterwards; one that fires anyway finds nothing (the caller checks the generation).
/// `expire` returns the entries to fire again, and when (a retry's next deadline).
final class DeadlineWheel: Sendable {
    struct Entry: Sendable, Equatable {
        var id: String
        var generation: UInt64
    }

    static let slot: Duration = .milliseconds(10)
    private let origin = ContinuousClock.now
    private let state = Mutex((slots: [Int64: [Entry]](), running: false))
    private let expire: @Sendable ([Entry]) -> [(Entry, ContinuousClock.Instant)]

    init(expire: @escaping @Sendable ([Entry]) -> [(Entry, ContinuousClock.Instant)]) {
        self.expire = expire
    }

    /// Fires `entry` at `deadline` (rounded up to the next slot).
    func schedule(_ entry: Entry, at deadline: ContinuousClock.Instant) {
        let slot = slotNumber(deadline) + 1
        let start = state.withLock { state -> Bool in
            state.slots[slot, default: []].append(entry)
            defer { state.running = true }
            return !state.running
        }
        if start { Task { await run() } }
    }

    /// Takes out an entry scheduled at `deadline` (its call was answered).
    func cancel(_ entry: Entry, at deadline: ContinuousClock.Instant) {
        let slot = slotNumber(deadline) + 1
        state.withLock { state in
            guard var entries = state.slots[slot] else { return }
            entries.removeAll { $0 == entry }
            state.slots[slot] = entries.isEmpty ? nil : entries
        }
    }

    private func slotNumber(_ instant: ContinuousClock.Instant) -> Int64 {
        let elapsed = instant - origin
        let (seconds, attoseconds) = elapsed.components
        return seconds * 100 + attoseconds / 10_000_000_000_000_000
    }

    private func run() async {
        while true {
            let earliest = state.withLock { state -> Int64? in
                guard let first = state.slots.keys.min() else {
                    state.running = false
                    return nil
                }
                return first
            }
            guard let earliest else { return }
            let due = origin + DeadlineWheel.slot * Int(earliest)
            if due > .now { try? await Task.sleep(until: due, clock: .continuous) }
            let now = slotNumber(.now)
            let fired = state.withLock { state -> [Entry] in
                var fired: [Entry] = []
                for slot in state.slots.keys where slot <= now { fired += state.slots.removeValue(forKey: slot) ?? [] }
                return fired
            }
            if !fired.isEmpty {
                for (entry, deadline) in expire(fired) { schedule(entry, at: deadline) }
            }
        }
    }
}
