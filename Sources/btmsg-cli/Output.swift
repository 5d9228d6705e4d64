import AgorCLI
import BtmsgAPI
import Foundation
import SwiftProtobuf

/// How btmsg prints messages (colour and JSON through AgorCLI's Terminal).
enum Output {
    static func line(_ m: Agor_Btmsg_V1_Message) -> String {
        let target = m.channelID.isEmpty ? "→ \(m.recipient)" : "#\(m.channelName)"
        var flags = ""
        if m.importance == .high || m.importance == .urgent { flags += Terminal.paint(" !\(m.importance == .urgent ? "!" : "")", "31") }
        if m.ackRequired { flags += m.acked ? " (acked)" : Terminal.paint(" (ack required)", "33") }
        let unread = m.read ? " " : Terminal.paint("*", "36")
        let preview = m.body.replacingOccurrences(of: "\n", with: " ")
        return "\(unread)\(Terminal.dim(Terminal.short(m.id))) \(Terminal.bold(m.sender)) \(target)\(flags): \(preview.count > 100 ? String(preview.prefix(100)) + "…" : preview)"
    }

    static func full(_ m: Agor_Btmsg_V1_Message) -> String {
        var lines = ["id:      \(m.id)",
                     "from:    \(m.sender)",
                     m.channelID.isEmpty ? "to:      \(m.recipient)" : "channel: #\(m.channelName) [\(m.channelID.prefix(8))]",
                     "group:   \(m.group)",
                     "sent:    \(Terminal.time(m.createdAtUs))"]
        if !m.replyTo.isEmpty { lines.append("reply to: \(Terminal.short(m.replyTo))") }
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
            Terminal.printJSON(reply)
        } else if list.isEmpty {
            print(empty)
        } else {
            for m in list { print(line(m)) }
        }
    }
}
