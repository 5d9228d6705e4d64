import AgorCLI
import Bus
import Diagnostics
import DiagnosticsAPI
import Foundation

/// Text renderings of the collector's figures, shared by `agor diag` and `agor diag top`.
enum DiagView {
    static func table(_ figures: Agor_Diagnostics_V1_Figures) -> String {
        var rows = [["SERVICE", "HEALTH", "PID", "UPTIME", "REQ/S", "ERR/S", "P50", "P99", "MAX", "DROPPED", "RECONN", "FILL", "PENDING"]]
        for s in figures.services {
            rows.append([s.service, health(s.health), s.pid == 0 ? "-" : "\(s.pid)", duration(ms: s.uptimeMs),
                         rate(s.requestsPerS), rate(s.errorsPerS), micros(s.latency.p50Us), micros(s.latency.p99Us),
                         micros(s.latency.maxUs), "\(s.droppedEvents)", "\(s.reconnects)",
                         String(format: "%.0f%%", s.maxFill * 100), bytes(s.pendingBytes)])
        }
        return "agor diagnostics  \(Terminal.time(figures.timeUs))\n" + align(rows)
    }

    static func detail(_ reply: Agor_Diagnostics_V1_ServiceReply) -> String {
        let s = reply.summary
        var text = "\(Terminal.bold(s.service))  \(health(s.health))  pid \(s.pid)  up \(duration(ms: s.uptimeMs))  "
            + "requests \(s.requests) (\(rate(s.requestsPerS))/s)  errors \(s.errors)  in flight \(s.requestsInFlight)\n"
            + "refused: zap denied \(s.zapDenied)  malformed \(s.malformed)  unknown key \(s.unauthenticated)  throttled \(s.throttled)\n"
        text += "\nmethods (last 60 s):\n" + methods(reply.methods)
        var rows = [["SOCKET", "TYPE", "ENDPOINT", "IN", "OUT", "SENDQ", "RECVQ", "PENDING", "ERRORS"]]
        for k in reply.sockets {
            rows.append([k.name, k.type, k.endpoint, "\(k.messagesIn)", "\(k.messagesOut)", "\(k.sendQueueDepth)/\(k.sendQueueLimit)",
                         "\(k.receiveQueueDepth)/\(k.receiveQueueLimit)", bytes(k.pendingBytes), "\(k.sendErrors)"])
        }
        text += "\nsockets:\n" + align(rows)
        if !reply.subscribers.isEmpty {
            var subs = [["SUBSCRIBER", "ENDPOINT", "DELIVERED", "LIVE", "GAPS", "MISSED", "RECOVERED"]]
            for b in reply.subscribers {
                subs.append([b.name, b.endpoint, "\(b.delivered)", "\(b.deliveredLive)", "\(b.gapsDetected)", "\(b.eventsMissed)", "\(b.eventsRecovered)"])
            }
            text += "\nsubscribers:\n" + align(subs)
        }
        text += "\nrecent links:\n" + links(reply.links)
        return text
    }

    static func methods(_ methods: [Agor_Diagnostics_V1_MethodFigures]) -> String {
        var rows = [["METHOD", "COUNT", "ERRORS", "P50", "P90", "P99", "P99.9", "MAX"]]
        for m in methods {
            let l = m.latency
            rows.append([m.method, "\(m.count)", "\(m.errors)", micros(l.p50Us), micros(l.p90Us), micros(l.p99Us), micros(l.p999Us), micros(l.maxUs)])
        }
        return align(rows)
    }

    static func links(_ links: [Agor_Diagnostics_V1_LinkRecord]) -> String {
        guard !links.isEmpty else { return "  (none)\n" }
        return links.map { link in
            "  \(Terminal.time(link.event.timeUs))  \(link.service)  \(link.event.kind)  \(link.event.socket) \(link.event.endpoint)"
                + (link.event.peer.isEmpty ? "" : " peer \(link.event.peer)") + "  (seen by \(link.observer))"
        }.joined(separator: "\n") + "\n"
    }

    /// One line for a `diag/health` event, or nil for a type it does not know.
    static func note(type: String, body: [UInt8]) -> String? {
        switch type {
        case "service.up", "service.down":
            guard let state = try? Agor_Diagnostics_V1_ServiceState(serializedBytes: body) else { return nil }
            return "  \(Terminal.time(state.timeUs))  \(state.service) \(health(state.health)): \(state.reason)"
        case "link":
            guard let link = try? Agor_Diagnostics_V1_LinkRecord(serializedBytes: body) else { return nil }
            return "  \(Terminal.time(link.event.timeUs))  \(link.service) link \(link.event.kind) \(link.event.peer)"
        default:
            return nil
        }
    }

    static func health(_ health: Agor_Diagnostics_V1_ServiceHealth) -> String {
        switch health {
        case .up: Terminal.paint("up", "32")
        case .down: Terminal.paint("DOWN", "31;1")
        default: Terminal.dim("unknown")
        }
    }

    static func micros(_ us: UInt64) -> String {
        if us == 0 { return "-" }
        if us < 1000 { return "\(us)µs" }
        if us < 1_000_000 { return String(format: "%.1fms", Double(us) / 1000) }
        return String(format: "%.2fs", Double(us) / 1_000_000)
    }

    static func rate(_ value: Double) -> String { value < 10 ? String(format: "%.1f", value) : String(format: "%.0f", value) }

    static func bytes(_ n: UInt64) -> String { n < 1024 ? "\(n)B" : n < 1 << 20 ? "\(n >> 10)K" : "\(n >> 20)M" }

    static func duration(ms: Int64) -> String {
        let s = ms / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        return "\(s / 3600)h\(s / 60 % 60)m"
    }

    /// Columns padded to their widest cell (escape codes do not count).
    static func align(_ rows: [[String]]) -> String {
        func width(_ s: String) -> Int { s.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).count }
        var widths: [Int] = []
        for row in rows { for (i, cell) in row.enumerated() { if i >= widths.count { widths.append(0) }; widths[i] = max(widths[i], width(cell)) } }
        return rows.map { row in
            row.enumerated().map { i, cell in cell + String(repeating: " ", count: widths[i] - width(cell)) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}
