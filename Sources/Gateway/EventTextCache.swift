import Bus
import Synchronization

/// The JSON text of recent events, shared by every client of the Gateway. An event never changes
/// once stored, so its text can be reused: when many clients replay the same range (all of them
/// reconnecting after the Gateway restarted, a dashboard reloading), each event is decoded and
/// encoded once instead of once per client. The key is the stream and seq and also the event's
/// time, type and a hash of its body: a service whose database was replaced (a restored backup)
/// numbers new events with seqs the cache may still hold. Bounded: the oldest entries go first.
final class EventTextCache: Sendable {
    private struct Key: Hashable {
        let stream: String
        let seq: UInt64
        let timestampUs: Int64
        let type: String
        let body: Int
    }

    private struct State {
        var texts: [Key: String] = [:]
        /// Insertion order, as a ring: the next slot to overwrite is `next`.
        var order: [Key?]
        var next = 0
    }

    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(order: Array(repeating: nil, count: max(1, capacity))))
    }

    /// The text of `event`, made by `make` when it is not cached.
    func text(of event: BusEvent, make: () -> String) -> String {
        let key = Key(stream: event.stream, seq: event.seq, timestampUs: event.timestampUs, type: event.type, body: event.body.hashValue)
        if let text = state.withLock({ $0.texts[key] }) { return text }
        let text = make()
        state.withLock { state in
            guard state.texts[key] == nil else { return }
            if let old = state.order[state.next] { state.texts[old] = nil }
            state.order[state.next] = key
            state.next = (state.next + 1) % state.order.count
            state.texts[key] = text
        }
        return text
    }
}
