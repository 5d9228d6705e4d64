import Foundation

/// The soak's verdict and report: per service, a least-squares line through each figure after the
/// warm-up, and the bounds a soak must keep (stated in docs/RELIABILITY.md):
///   - no restarts;
///   - resident memory: the fitted growth across the window at most max(16 MiB, 20 % of its mean);
///   - WAL: at most 64 MiB at every sample;
///   - open files and threads: the fitted growth across the window at most 16.
/// Writes soak.json (every sample, the fits, the verdict) and soak.html (a chart per figure).
struct SoakReport {
    struct Fit: Codable {
        var slopePerHour: Double
        var growthInWindow: Double
        var mean: Double
        var max: Double
    }

    struct ServiceVerdict: Codable {
        var service: String
        var rssMiB: Fit
        var walMiB: Fit
        var openFiles: Fit
        var threads: Fit
        var databaseMiB: Fit
        var restarts: Int
        var problems: [String]
    }

    let samples: [Sampler.Sample]
    let warmUp: Double

    static func fit(_ points: [(Double, Double)]) -> Fit {
        guard points.count > 1 else { return Fit(slopePerHour: 0, growthInWindow: 0, mean: points.first?.1 ?? 0, max: points.first?.1 ?? 0) }
        let n = Double(points.count)
        let meanT = points.reduce(0) { $0 + $1.0 } / n, meanY = points.reduce(0) { $0 + $1.1 } / n
        let sxx = points.reduce(0) { $0 + ($1.0 - meanT) * ($1.0 - meanT) }
        let sxy = points.reduce(0) { $0 + ($1.0 - meanT) * ($1.1 - meanY) }
        let slope = sxx > 0 ? sxy / sxx : 0
        let window = (points.last!.0 - points.first!.0)
        func r(_ x: Double) -> Double { (x * 100).rounded() / 100 }
        return Fit(slopePerHour: r(slope * 3600), growthInWindow: r(slope * window), mean: r(meanY), max: r(points.map(\.1).max() ?? 0))
    }

    var verdicts: [ServiceVerdict] {
        Dictionary(grouping: samples, by: \.service).sorted { $0.key < $1.key }.map { service, all in
            let after = all.filter { $0.t >= warmUp }
            func line(_ value: (Sampler.Sample) -> Double) -> Fit { Self.fit(after.map { ($0.t, value($0)) }) }
            var verdict = ServiceVerdict(service: service, rssMiB: line(\.rssMiB), walMiB: line(\.walMiB),
                                         openFiles: line { Double($0.openFiles) }, threads: line { Double($0.threads) },
                                         databaseMiB: line(\.databaseMiB),
                                         restarts: (all.last?.restarts ?? 0) - (all.first?.restarts ?? 0), problems: [])
            if verdict.restarts > 0 { verdict.problems.append("restarted \(verdict.restarts) times") }
            let rssBound = max(16, 0.2 * verdict.rssMiB.mean)
            if verdict.rssMiB.growthInWindow > rssBound {
                verdict.problems.append("memory grew \(verdict.rssMiB.growthInWindow) MiB (bound \(rssBound))")
            }
            if verdict.walMiB.max > 64 { verdict.problems.append("WAL reached \(verdict.walMiB.max) MiB (bound 64)") }
            if verdict.openFiles.growthInWindow > 16 { verdict.problems.append("open files grew by \(verdict.openFiles.growthInWindow)") }
            if verdict.threads.growthInWindow > 16 { verdict.problems.append("threads grew by \(verdict.threads.growthInWindow)") }
            return verdict
        }
    }

    func write(to folder: URL, summary: [String: Any]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let verdictsJSON = try JSONSerialization.jsonObject(with: encoder.encode(verdicts))
        let samplesJSON = try JSONSerialization.jsonObject(with: encoder.encode(samples))
        let report: [String: Any] = ["summary": summary, "warm_up_s": warmUp, "services": verdictsJSON, "samples": samplesJSON]
        try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]).write(to: folder.appendingPathComponent("soak.json"))
        try html(summary: summary).write(to: folder.appendingPathComponent("soak.html"), atomically: true, encoding: .utf8)
    }

    /// One SVG chart per figure, a line per service; the warm-up shaded. No script, no network.
    func html(summary: [String: Any]) -> String {
        let services = Array(Set(samples.map(\.service))).sorted()
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
        let end = max(samples.map(\.t).max() ?? 1, 1)
        func chart(_ title: String, _ value: (Sampler.Sample) -> Double) -> String {
            let top = max(samples.map(value).max() ?? 1, 1) * 1.1
            let (w, h) = (720.0, 220.0)
            var svg = "<h2>\(title)</h2><svg width=\"\(Int(w) + 60)\" height=\"\(Int(h) + 30)\" xmlns=\"http://www.w3.org/2000/svg\">"
            svg += "<rect x=\"50\" y=\"0\" width=\"\(w * warmUp / end)\" height=\"\(h)\" fill=\"#eee\"/>"
            svg += "<line x1=\"50\" y1=\"\(h)\" x2=\"\(50 + w)\" y2=\"\(h)\" stroke=\"#999\"/><line x1=\"50\" y1=\"0\" x2=\"50\" y2=\"\(h)\" stroke=\"#999\"/>"
            svg += "<text x=\"0\" y=\"12\" font-size=\"11\">\(String(format: "%.1f", top))</text><text x=\"0\" y=\"\(h)\" font-size=\"11\">0</text>"
            svg += "<text x=\"\(40 + w)\" y=\"\(h + 22)\" font-size=\"11\">\(Int(end)) s</text>"
            for (index, service) in services.enumerated() {
                let points = samples.filter { $0.service == service }
                    .map { "\(String(format: "%.1f", 50 + w * $0.t / end)),\(String(format: "%.1f", h - h * value($0) / top))" }
                svg += "<polyline fill=\"none\" stroke=\"\(colours[index % colours.count])\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>"
            }
            return svg + "</svg>"
        }
        let legend = services.enumerated().map { "<span style=\"color:\(colours[$0.offset % colours.count])\">■ \($0.element)</span>" }.joined(separator: " ")
        let rows = verdicts.map { v in
            "<tr><td>\(v.service)</td><td>\(v.rssMiB.mean)</td><td>\(v.rssMiB.slopePerHour)</td><td>\(v.walMiB.max)</td><td>\(v.openFiles.max)</td><td>\(v.threads.max)</td><td>\(v.restarts)</td><td>\(v.problems.isEmpty ? "ok" : v.problems.joined(separator: "; "))</td></tr>"
        }.joined()
        let head = (try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>agor soak</title>
            <style>body{font-family:sans-serif;margin:20px}td,th{padding:2px 8px;text-align:right}</style></head><body>
            <h1>agor soak</h1><p><code>\(head)</code></p><p>The shaded part is the warm-up (\(Int(warmUp)) s), left out of the fits.</p>
            <table><tr><th>service</th><th>RSS mean MiB</th><th>RSS slope MiB/h</th><th>WAL max MiB</th><th>open files max</th><th>threads max</th><th>restarts</th><th>verdict</th></tr>\(rows)</table>
            <p>\(legend)</p>
            \(chart("Resident memory (MiB)", \.rssMiB))
            \(chart("WAL (MiB)", \.walMiB))
            \(chart("Database (MiB)", \.databaseMiB))
            \(chart("Open files", { Double($0.openFiles) }))
            \(chart("Threads", { Double($0.threads) }))
            \(chart("Requests in flight", { Double($0.inFlight) }))
            \(chart("Fullest queue (0-1)", \.maxFill))
            </body></html>
            """
    }
}
