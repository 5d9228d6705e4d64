import Foundation
import Logging
import Synchronization

/// Who is asking, as the server knows it: never from the payload.
public struct RequestContext: Sendable {
    /// The authenticated sender (ZAP User-Id looked up in the directory).
    public let sender: Principal
    /// The principal acted for: `on_behalf_of` when the sender has the delegate right, else the sender.
    public let principal: Principal
    public let envelope: Envelope
    public var method: String { envelope.method }
    public var requestId: String { envelope.requestID }
}

/// The checks every request passes before any handler sees it, whichever path serves it: frames,
/// envelope, version, kind, the sender's key in the directory, its request rate, delegation, deadline. Also counts
/// what the server saw and builds replies, so both paths answer alike.
final class RequestAdmission: Sendable {
    enum Verdict {
        /// Answer at once with this error (or drop, when there is no route to answer on).
        case refuse(route: [UInt8]?, request: Envelope?, error: BusError)
        case serve(route: [UInt8], context: RequestContext)
    }

    private let directory: Directory
    private let throttle: RequestThrottle
    private let counts = Mutex(RPCServer.Counts())
    private let logger: Logger

    init(directory: Directory, throttle: RequestThrottle = RequestThrottle(perSecond: 0), logger: Logger) {
        self.directory = directory
        self.throttle = throttle
        self.logger = logger
    }

    var statistics: RPCServer.Counts { counts.withLock { $0 } }

    func count(_ update: (inout RPCServer.Counts) -> Void) { counts.withLock { update(&$0) } }

    func admit(_ request: ReceivedMessage) -> Verdict {
        count { $0.requests += 1 }
        guard request.frameCount >= 2 else {
            count { $0.malformed += 1 }
            return .refuse(route: nil, request: nil, error: .badRequest("no route"))
        }
        let route = request.frame(0)
        guard request.frameCount == 3, let envelope = try? Envelope(serializedBytes: request.frame(1)) else {
            count { $0.malformed += 1 }
            logger.notice("malformed request", metadata: ["rpc.frames": "\(request.frameCount)"])
            return .refuse(route: route, request: nil,
                           error: .badRequest("malformed request: expected [envelope, body] with a protobuf envelope"))
        }
        return admit(route: route, envelope: envelope, userId: request.userId)
    }

    /// The checks after the frames: for a request read whole, or one unpacked from a request batch
    /// (counted by the caller).
    func admit(route: [UInt8], envelope: Envelope, userId: String?) -> Verdict {
        guard envelope.version == BusProtocol.version else {
            count { $0.malformed += 1 }
            return .refuse(route: route, request: envelope, error: .unsupportedVersion(
                "envelope version \(envelope.version) not supported; this server speaks \(BusProtocol.version)"))
        }
        guard envelope.kind == .request, !envelope.method.isEmpty else {
            count { $0.malformed += 1 }
            return .refuse(route: route, request: envelope, error: .badRequest("expected a request with a method"))
        }
        guard let userId, let sender = directory.principal(named: userId) else {
            count { $0.unauthenticated += 1 }
            return .refuse(route: route, request: envelope, error: .unauthenticated("your key is not (or no longer) in the directory"))
        }
        if sender.kind != .service && !throttle.take(sender.name) {
            count { $0.throttled += 1 }
            return .refuse(route: route, request: envelope, error: .unavailable(
                "\(sender.name) sends more than \(Int(throttle.perSecond)) requests a second: slow down and retry"))
        }
        var principal = sender
        if !envelope.onBehalfOf.isEmpty && envelope.onBehalfOf != sender.name {
            guard sender.has(.delegate) else {
                return .refuse(route: route, request: envelope, error: .forbidden("\(sender.name) may not act on behalf of others"))
            }
            guard let target = directory.principal(named: envelope.onBehalfOf) else {
                return .refuse(route: route, request: envelope, error: .forbidden("unknown principal \(envelope.onBehalfOf)"))
            }
            principal = target
        }
        if envelope.deadlineUnixMs > 0 && Int64(Date().timeIntervalSince1970 * 1000) > envelope.deadlineUnixMs {
            return .refuse(route: route, request: envelope, error: .timeout("deadline passed before the request was served"))
        }
        return .serve(route: route, context: RequestContext(sender: sender, principal: principal, envelope: envelope))
    }

    /// [route, reply or error envelope, body], counted.
    func reply(_ route: [UInt8], _ request: Envelope?, body: [UInt8] = [], error: BusError? = nil) -> OutgoingMessage {
        OutgoingMessage(frames: [route, replyEnvelope(request, error: error), body])
    }

    /// The reply's (or error's) envelope, counted: alone in a reply, or packed in a reply batch.
    func replyEnvelope(_ request: Envelope?, error: BusError? = nil) -> [UInt8] {
        var envelope = Envelope(kind: error == nil ? .reply : .error)
        envelope.requestID = request?.requestID ?? ""
        envelope.method = request?.method ?? ""
        envelope.timestampUs = BusProtocol.nowMicros()
        if let error {
            envelope.error.code = error.code
            envelope.error.message = error.message
            count { $0.errors += 1 }
        } else {
            count { $0.replies += 1 }
        }
        return envelope.bytes()
    }
}
