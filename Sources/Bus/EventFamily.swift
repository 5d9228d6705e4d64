import SwiftProtobuf

/// One service's sequenced streams as a consumer sees them: which service publishes and replays
/// them, the prefix every one of them starts with, and the message an event's body holds. Each
/// service's API module declares its own, so that consumers (the Gateway above all) name streams
/// and decode bodies from there rather than from string prefixes of their own.
public protocol EventFamily: Sendable {
    /// The service that publishes and replays these streams.
    static var service: String { get }
    /// What every stream of the family starts with (`btmsg/`).
    static var streamPrefix: String { get }
    /// The body of an event of `type`, decoded; nil when it does not decode.
    static func body(type: String, bytes: [UInt8]) -> (any SwiftProtobuf.Message)?
}
