import Bus
import SwiftProtobuf

/// The runner's streams: one per session, `runner/GROUP/SESSION`, each event's body an `Event`.
public enum RunnerEvents: EventFamily {
    public static let service = "runner"
    public static let streamPrefix = RunnerRules.streamPrefix
    public static func body(type: String, bytes: [UInt8]) -> (any SwiftProtobuf.Message)? {
        try? Agor_Runner_V1_Event(serializedBytes: bytes)
    }
}
