import AgorCLI
import Foundation
import SwiftProtobuf
import btmsg

/// How btmsg prints messages (colour and JSON through AgorCLI's Terminal).
enum Output {
    static func paint(_ text: String, _ code: String) -> String { Terminal.paint(text, code) }
    static func bold(_ text: String) -> String { Terminal.bold(text) }
    static func dim(_ text: String) -> String { Terminal.dim(text) }
    static func short(_ id: String) -> String { Terminal.short(id) }
    static func time(_ us: Int64) -> String { Terminal.time(us) }
    static func json(_ message: some SwiftProtobuf.Message) -> String { Terminal.json(message) }
    static func printJSON(_ message: some SwiftProtobuf.Message) { Terminal.printJSON(message) }

    static func line(_ m: Agor_Btmsg_V1_Message) -> String {
        let target = m.channelID.isEmpty ? "→ \(m.recipient)" : "#\(m.channelName)"
        var flags = ""
        if m.importance == .high || m.importance == .urgent { flags += paint(" !\(m.importance == .urgent ? "!" : "")", "31") }
        if m.ackRequired { flags += m.acked ? " (acked)" : paint(" (ack required)", "33") }
        let unread = m.read ? " " : paint("*", "36")
        let preview = m.body.replacingOccurrences(of: "\n", with: " ")
        return "\(unread)\(dim(short(m.id))) \(bold(m.sender)) \(target)\(flags): \(preview.count > 100 ? String(preview.prefix(100)) + "…" : preview)"
    }

    static func full(_ m: Agor_Btmsg_V1_Message) -> String {
        var lines = ["id:      \(m.id)",
                     "from:    \(m.sender)",
                     m.channelID.isEmpty ? "to:      \(m.recipient)" : "channel: #\(m.channelName) [\(m.channelID.prefix(8))]",
                     "group:   \(m.group)",
                     "sent:    \(time(m.createdAtUs))"]
        if !m.replyTo.isEmpty { lines.append("reply to: \(short(m.replyTo))") }
        if m.importance != .normal { lines.append("importance: \(importanceName(m.importance))") }
        if m.ackRequired { lines.append("ack:     \(m.acked ? "acknowledged" : "required (btmsg ack \(m.id.prefix(8)))")") }
        lines.append("")
        lines.append(m.body)
        return lines.joined(separator: "\n")
    }

    static func importanceName(_ i: Agor_Btmsg_V1_Importance) -> String {
        switch i {
        case .low: "low"
        case .high: "high"
        case .urgent: "urgent"
        default: "normal"
        }
    }

    static func messages(_ list: [Agor_Btmsg_V1_Message], json: Bool, empty: String) {
        if json {
            var reply = Agor_Btmsg_V1_MessageList()
            reply.messages = list
            printJSON(reply)
        } else if list.isEmpty {
            print(empty)
        } else {
            for m in list { print(line(m)) }
        }
    }
}
