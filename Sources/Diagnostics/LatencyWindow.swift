import Bus
import DiagnosticsAPI
import Histogram

/// One method's latency as the collector keeps it: everything since the collector started, and the
/// last 60 s as per-heartbeat snapshots, so a window of 1..60 s can be merged on request.
struct LatencyWindow: Sendable {
    static let recentSeconds: Int64 = 60

    private(set) var total = LatencyWindow.makeHistogram()
    private(set) var totalCount: UInt64 = 0
    private(set) var totalErrors: UInt64 = 0
    private var recent: [(timeUs: Int64, latency: Agor_Bus_V1_MethodLatency)] = []

    static func makeHistogram() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    /// Adds one heartbeat's interval of this method. Values and counts come from outside: pairs
    /// beyond the shorter array and zero values are ignored.
    mutating func add(_ latency: Agor_Bus_V1_MethodLatency, atUs now: Int64) {
        LatencyWindow.record(latency, into: &total)
        totalCount += latency.count
        totalErrors += latency.errors
        recent.append((now, latency))
        let cutoff = now - LatencyWindow.recentSeconds * 1_000_000
        if let first = recent.firstIndex(where: { $0.timeUs >= cutoff }), first > 0 { recent.removeFirst(first) }
    }

    /// Figures for the last `seconds` (1...60), or since the collector started when nil.
    func figures(method: String, lastSeconds seconds: Int64?, nowUs: Int64) -> Agor_Diagnostics_V1_MethodFigures {
        var figures = Agor_Diagnostics_V1_MethodFigures()
        figures.method = method
        guard let seconds else {
            figures.count = totalCount
            figures.errors = totalErrors
            figures.latency = LatencyWindow.percentiles(of: total)
            return figures
        }
        var merged = RecentValues()
        let cutoff = nowUs - min(seconds, LatencyWindow.recentSeconds) * 1_000_000
        for entry in recent where entry.timeUs >= cutoff {
            merged.add(entry.latency)
            figures.count += entry.latency.count
            figures.errors += entry.latency.errors
        }
        figures.latency = merged.percentiles()
        return figures
    }

    /// Adds the last `seconds` (at most 60) of this method to `values`.
    func mergeRecent(into values: inout RecentValues, nowUs: Int64, seconds: Int64 = LatencyWindow.recentSeconds) {
        let cutoff = nowUs - min(seconds, LatencyWindow.recentSeconds) * 1_000_000
        for entry in recent where entry.timeUs >= cutoff { values.add(entry.latency) }
    }

    static func record(_ latency: Agor_Bus_V1_MethodLatency, into histogram: inout Histogram<UInt64>) {
        for (value, count) in zip(latency.valuesUs, latency.counts) where value > 0 && count > 0 {
            // A value beyond an hour is not a latency this system produces: clamp rather than grow.
            _ = histogram.record(min(value, 3_600_000_000), count: min(count, UInt64(UInt32.max)))
        }
    }

    static func percentiles(of histogram: Histogram<UInt64>) -> Agor_Diagnostics_V1_Percentiles {
        var p = Agor_Diagnostics_V1_Percentiles()
        p.count = histogram.totalCount
        guard histogram.totalCount > 0 else { return p }
        p.p50Us = histogram.valueAtPercentile(50)
        p.p90Us = histogram.valueAtPercentile(90)
        p.p99Us = histogram.valueAtPercentile(99)
        p.p999Us = histogram.valueAtPercentile(99.9)
        p.maxUs = histogram.max
        p.meanUs = histogram.mean
        return p
    }
}

/// Interval snapshots merged without building a histogram: their values are already HdrHistogram
/// bucket values, so sorting the (value, count) pairs and walking the counts gives the same
/// percentiles as a merged histogram would, for a fraction of the work (no counts array to size).
struct RecentValues {
    private var pairs: [(value: UInt64, count: UInt64)] = []

    mutating func add(_ latency: Agor_Bus_V1_MethodLatency) {
        for (value, count) in zip(latency.valuesUs, latency.counts) where value > 0 && count > 0 {
            pairs.append((min(value, 3_600_000_000), min(count, UInt64(UInt32.max))))
        }
    }

    func percentiles() -> Agor_Diagnostics_V1_Percentiles {
        var p = Agor_Diagnostics_V1_Percentiles()
        guard !pairs.isEmpty else { return p }
        let sorted = pairs.sorted { $0.value < $1.value }
        let total = sorted.reduce(UInt64(0)) { $0 + $1.count }
        var sum = 0.0
        for pair in sorted { sum += Double(pair.value) * Double(pair.count) }
        p.count = total
        p.meanUs = sum / Double(total)
        p.maxUs = sorted.last!.value
        // The smallest value with at least `percentile` of the counts at or below it.
        func at(_ percentile: Double) -> UInt64 {
            let wanted = max(1, UInt64((percentile / 100 * Double(total)).rounded(.up)))
            var seen: UInt64 = 0
            for pair in sorted {
                seen += pair.count
                if seen >= wanted { return pair.value }
            }
            return sorted.last!.value
        }
        p.p50Us = at(50)
        p.p90Us = at(90)
        p.p99Us = at(99)
        p.p999Us = at(99.9)
        return p
    }
}
