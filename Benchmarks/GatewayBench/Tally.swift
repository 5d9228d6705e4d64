import Foundation
import Synchronization

/// Nanoseconds on the monotonic clock; the generator both stamps and receives, so one clock serves.
func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// What one load client saw: the key and arrival time of every message (handed over to the step
/// loop), how many in all, whether it is ready (subscribed), and how it closed. Written on the
/// client's event loop.
final class Tally: Sendable {
    struct State {
        var ready = false
        var closeCode: Int?
        var closed = false
        var total = 0
        var arrivals: [(key: UInt64, atNs: UInt64)] = []
        /// PONGs received (NATS): each says the server has seen everything sent before its PING.
        var pongs = 0
    }
    let state = Mutex(State())

    func arrived(_ key: UInt64, at now: UInt64) {
        state.withLock {
            $0.total += 1
            $0.arrivals.append((key, now))
        }
    }

    var total: Int { state.withLock { $0.total } }

    func takeArrivals() -> [(key: UInt64, atNs: UInt64)] {
        state.withLock { state in
            defer { state.arrivals.removeAll(keepingCapacity: true) }
            return state.arrivals
        }
    }
}
