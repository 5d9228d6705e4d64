import Bus
import SwiftProtobuf

/// btmsg's streams: one per group, `btmsg/GROUP/`, each event's body an `Event` (message created,
/// read, acked, channel changes).
public enum BtmsgEvents: EventFamily {
    public static let service = "btmsg"
    public static let streamPrefix = "btmsg/"
    public static func body(type: String, bytes: [UInt8]) -> (any SwiftProtobuf.Message)? {
        try? Agor_Btmsg_V1_Event(serializedBytes: bytes)
    }
}
