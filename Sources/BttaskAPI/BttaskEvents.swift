import Bus
import SwiftProtobuf

/// bttask's streams: one per group, `bttask/GROUP/`, each event's body a `Change` of the board.
public enum BttaskEvents: EventFamily {
    public static let service = "bttask"
    public static let streamPrefix = "bttask/"
    public static func body(type: String, bytes: [UInt8]) -> (any SwiftProtobuf.Message)? {
        try? Agor_Bttask_V1_Change(serializedBytes: bytes)
    }
}
