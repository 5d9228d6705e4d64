/// A typed error that crosses the wire: a code from `agor.bus.v1.ErrorCode` (HTTP-like numbers) and a
/// message. Handlers throw it; clients receive it back as the same type.
public struct BusError: Error, Equatable, CustomStringConvertible, Sendable {
    public let code: UInt32
    public let message: String

    public init(code: UInt32, message: String) {
        self.code = code
        self.message = message
    }

    public init(_ code: Agor_Bus_V1_ErrorCode, _ message: String) {
        self.init(code: UInt32(code.rawValue), message: message)
    }

    public static func badRequest(_ m: String) -> BusError { BusError(.badRequest, m) }
    public static func unauthenticated(_ m: String) -> BusError { BusError(.unauthenticated, m) }
    public static func forbidden(_ m: String) -> BusError { BusError(.forbidden, m) }
    public static func notFound(_ m: String) -> BusError { BusError(.notFound, m) }
    public static func conflict(_ m: String) -> BusError { BusError(.conflict, m) }
    public static func tooLarge(_ m: String) -> BusError { BusError(.tooLarge, m) }
    public static func unsupportedVersion(_ m: String) -> BusError { BusError(.unsupportedVersion, m) }
    public static func internalError(_ m: String) -> BusError { BusError(.internal, m) }
    public static func unavailable(_ m: String) -> BusError { BusError(.unavailable, m) }
    public static func timeout(_ m: String) -> BusError { BusError(.timeout, m) }

    /// The server refused the client's key during the CURVE handshake (ZAP said no: a revoked or
    /// unknown key). No request of that connection ever reached the service.
    public static let keyRefused = BusError(.unauthenticated, "the server refused this key in the CURVE handshake: revoked or unknown")

    public var errorCode: Agor_Bus_V1_ErrorCode { Agor_Bus_V1_ErrorCode(rawValue: Int(code)) ?? .unspecified }

    /// The code as a word (`bad_request`, `forbidden`, ...), for JSON and tool errors.
    public var codeName: String {
        switch errorCode {
        case .badRequest: "bad_request"
        case .unauthenticated: "unauthenticated"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .conflict: "conflict"
        case .tooLarge: "too_large"
        case .unsupportedVersion: "unsupported_version"
        case .internal: "internal"
        case .unavailable: "unavailable"
        case .timeout: "timeout"
        default: "error_\(code)"
        }
    }

    public var description: String { "BusError(\(code) \(errorCode)): \(message)" }
}
