import Synchronization

/// What one consumer (a Bus subscriber, a WebSocket client) received of its streams, checked as it
/// arrives, the way NATS's chaos tests do it: a bitset per stream marks each seq; a seq marked
/// before is a duplicate, one that is not the next after the last is out of order. What never came
/// shows at the end, against the heads in the services' own databases.
final class StreamLedger: Sendable {
    private struct Stream {
        var bits: [UInt64] = []
        var last: UInt64 = 0

        mutating func mark(_ seq: UInt64) -> Bool {
            let word = Int(seq / 64), bit = UInt64(1) << (seq % 64)
            if word >= bits.count { bits.append(contentsOf: repeatElement(0, count: word - bits.count + 1)) }
            defer { bits[word] |= bit }
            return bits[word] & bit == 0
        }

        func has(_ seq: UInt64) -> Bool {
            let word = Int(seq / 64)
            return word < bits.count && bits[word] & (UInt64(1) << (seq % 64)) != 0
        }
    }

    struct Counts: Sendable {
        var received = 0
        var duplicated = 0
        var outOfOrder = 0
    }

    private struct State {
        var streams: [String: Stream] = [:]
        var counts = Counts()
        /// The first few problems, for the report.
        var examples: [String] = []
    }
    private let state = Mutex(State())
    let name: String

    init(name: String) { self.name = name }

    func note(stream: String, seq: UInt64) {
        state.withLock { state in
            state.counts.received += 1
            var entry = state.streams[stream] ?? Stream()
            if !entry.mark(seq) {
                state.counts.duplicated += 1
                if state.examples.count < 5 { state.examples.append("\(name): \(stream) \(seq) again") }
            } else if seq != entry.last + 1 {
                state.counts.outOfOrder += 1
                if state.examples.count < 5 { state.examples.append("\(name): \(stream) \(seq) after \(entry.last)") }
            }
            entry.last = max(entry.last, seq)
            state.streams[stream] = entry
        }
    }

    /// The last seq received per stream: where a reconnecting client resumes.
    var cursors: [String: UInt64] { state.withLock { $0.streams.mapValues(\.last) } }
    var counts: Counts { state.withLock { $0.counts } }
    var examples: [String] { state.withLock { $0.examples } }

    /// Events of `heads` (stream → last seq in the service's database) this consumer never received.
    func missing(against heads: [String: UInt64]) -> Int {
        state.withLock { state in
            heads.reduce(0) { sum, head in
                let stream = state.streams[head.key] ?? Stream()
                return sum + (head.value == 0 ? 0 : (1...head.value).count { !stream.has($0) })
            }
        }
    }

    /// Whether every stream of `heads` has reached its head.
    func caughtUp(to heads: [String: UInt64]) -> Bool {
        let cursors = self.cursors
        return heads.allSatisfy { (cursors[$0.key] ?? 0) >= $0.value }
    }
}
