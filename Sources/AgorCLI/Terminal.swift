import Foundation
import SwiftProtobuf

/// Printing for people and scripts: colour only on a terminal (never with NO_COLOR), JSON on demand.
public enum Terminal {
    public static let colour: Bool = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    public static func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
    public static func bold(_ text: String) -> String { paint(text, "1") }
    public static func dim(_ text: String) -> String { paint(text, "2") }

    /// An id as people see it: its first 8 characters in brackets.
    public static func short(_ id: String) -> String { "[\(id.prefix(8))]" }

    public static func time(_ us: Int64) -> String {
        guard us > 0 else { return "never" }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(us) / 1_000_000))
    }

    /// A protobuf message as one JSON line (proto field names).
    public static func json(_ message: some SwiftProtobuf.Message) -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return (try? message.jsonString(options: options)) ?? "{}"
    }

    public static func printJSON(_ message: some SwiftProtobuf.Message) { print(json(message)) }
}
