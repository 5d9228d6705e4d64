import Histogram
import Synchronization

/// Request latency per method over the current heartbeat interval, as HdrHistograms (microseconds,
/// 3 significant digits). `record` is called by the RPC server for every answered request; `take`
/// hands the interval's figures to the heartbeat and starts the next interval.
public final class LatencyRecorder: Sendable {
    struct MethodState {
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var count: UInt64 = 0
        var errors: UInt64 = 0
        init() { histogram.autoResize = true }
    }

    private let methods = Mutex<[String: MethodState]>([:])

    public init() {}

    public func record(method: String, duration: Duration, succeeded: Bool) {
        let (seconds, attoseconds) = duration.components
        let micros = UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000
        methods.withLock { all in
            if all[method] == nil { all[method] = MethodState() }
            all[method]!.histogram.record(max(micros, 1))
            all[method]!.count += 1
            if !succeeded { all[method]!.errors += 1 }
        }
    }

    /// The interval's latencies, each method's recorded values with their counts; resets the interval.
    public func take() -> [Agor_Bus_V1_MethodLatency] {
        let taken = methods.withLock { all -> [String: MethodState] in
            let current = all.filter { $0.value.count > 0 }
            for key in current.keys {
                all[key]!.histogram.reset()
                all[key]!.count = 0
                all[key]!.errors = 0
            }
            return current
        }
        return taken.keys.sorted().map { method in
            let state = taken[method]!
            var latency = Agor_Bus_V1_MethodLatency()
            latency.method = method
            latency.count = state.count
            latency.errors = state.errors
            for step in state.histogram.recordedValues() {
                latency.valuesUs.append(step.value)
                latency.counts.append(UInt64(step.count))
            }
            return latency
        }
    }
}
