import Foundation
import SwiftProtobuf

public typealias Envelope = Agor_Bus_V1_Envelope
public typealias EnvelopeKind = Agor_Bus_V1_Kind

/// Constants of the wire protocol (docs/PROTOCOL.md).
public enum BusProtocol {
    public static let version: UInt32 = 1
    /// Default largest frame a server accepts (ZMQ_MAXMSGSIZE); bigger ones drop the connection.
    public static let defaultMaxMessageSize: Int64 = 4 << 20

    public static func nowMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
}

extension Envelope {
    /// An envelope of this protocol version and kind; every frame the Bus builds starts here.
    public init(kind: EnvelopeKind) {
        self.init()
        version = BusProtocol.version
        self.kind = kind
    }

    public static func request(method: String, id: String, idempotent: Bool = false) -> Envelope {
        var e = Envelope(kind: .request)
        e.method = method
        e.requestID = id
        e.idempotent = idempotent
        e.timestampUs = BusProtocol.nowMicros()
        return e
    }

    public func bytes() -> [UInt8] { (try? serializedBytes()) ?? [] }
}
