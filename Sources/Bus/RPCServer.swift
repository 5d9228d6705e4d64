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

/// The ROUTER side of request/reply: authenticates every request through the directory, decodes the
/// envelope, dispatches by method and replies with the body or a typed error. Bad input is answered
/// with an error (or dropped when there is no one to answer) and counted; the server goes on.
public final class RPCServer: Sendable {
    public typealias Handler = @Sendable (RequestContext, [UInt8]) async throws -> [UInt8]

    public struct Counts: Sendable, Equatable, Codable {
        public var requests = 0
        public var replies = 0
        public var errors = 0
        public var malformed = 0
        public var unauthenticated = 0
    }

    public let socket: Socket
    public var endpoint: String { socket.boundEndpoints.first ?? "" }
    private let directory: Directory
    private let handlers = Mutex<[String: Handler]>([:])
    private let counts = Mutex(Counts())
    private let inFlightCount = Atomic<Int>(0)
    private let limiter: AsyncLimiter
    private let logger: Logger
    /// Called with each request's method and duration (Diagnostics hooks in here).
    private let observer: (@Sendable (String, Duration, Bool) -> Void)?

    /// Binds a CURVE server ROUTER at `endpoint`. The context's ZAPAuthenticator checks every client.
    public init(context: Context, endpoint: String, also: [String] = [], serverKey: CurveKeyPair, directory: Directory,
                maxMessageSize: Int64 = BusProtocol.defaultMaxMessageSize, maxConcurrent: Int = 64,
                logger: Logger = Logger(label: "agor.rpc"), monitor: Bool = false,
                observer: (@Sendable (String, Duration, Bool) -> Void)? = nil) throws {
        var configuration = Socket.Configuration(
            options: [.curveServer(secretKey: serverKey.secretKey), .zapDomain(ZAPAuthenticator.domain),
                      .maxMessageSize(maxMessageSize), .linger(500), .routerMandatory(false),
                      .sendHighWaterMark(100_000), .receiveHighWaterMark(100_000),
                      .heartbeatInterval(5_000), .heartbeatTimeout(15_000)],
            bind: [endpoint] + also, readUserId: true)
        configuration.monitor = monitor
        socket = try Socket(context: context, type: .router, configuration)
        self.directory = directory
        self.limiter = AsyncLimiter(limit: maxConcurrent)
        self.logger = logger
        self.observer = observer
    }

    public func register(_ method: String, _ handler: @escaping Handler) {
        handlers.withLock { $0[method] = handler }
    }

    public var statistics: Counts { counts.withLock { $0 } }

    /// Requests being handled now.
    public var inFlight: Int { inFlightCount.load(ordering: .relaxed) }

    /// Serves until the socket is closed.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await request in socket.messages {
                await limiter.acquire()
                group.addTask {
                    await self.handle(request)
                    self.limiter.release()
                }
            }
        }
    }

    public func close() async { await socket.close() }

    private func count(_ update: (inout Counts) -> Void) { counts.withLock { update(&$0) } }

    private func handle(_ request: ReceivedMessage) async {
        count { $0.requests += 1 }
        inFlightCount.add(1, ordering: .relaxed)
        defer { inFlightCount.subtract(1, ordering: .relaxed) }
        guard request.frameCount >= 2 else { count { $0.malformed += 1 }; return }
        let route = request.frame(0)
        guard request.frameCount == 3, let envelope = try? Envelope(serializedBytes: request.frame(1)) else {
            count { $0.malformed += 1 }
            logger.notice("malformed request", metadata: ["rpc.frames": "\(request.frameCount)"])
            await reply(route, nil, error: .badRequest("malformed request: expected [envelope, body] with a protobuf envelope"))
            return
        }
        guard envelope.version == BusProtocol.version else {
            count { $0.malformed += 1 }
            await reply(route, envelope, error: .unsupportedVersion("envelope version \(envelope.version) not supported; this server speaks \(BusProtocol.version)"))
            return
        }
        guard envelope.kind == .request, !envelope.method.isEmpty else {
            count { $0.malformed += 1 }
            await reply(route, envelope, error: .badRequest("expected a request with a method"))
            return
        }
        guard let userId = request.userId, let sender = directory.principal(named: userId) else {
            count { $0.unauthenticated += 1 }
            await reply(route, envelope, error: .unauthenticated("your key is not (or no longer) in the directory"))
            return
        }
        var principal = sender
        if !envelope.onBehalfOf.isEmpty && envelope.onBehalfOf != sender.name {
            guard sender.has(.delegate) else {
                await reply(route, envelope, error: .forbidden("\(sender.name) may not act on behalf of others"))
                return
            }
            guard let target = directory.principal(named: envelope.onBehalfOf) else {
                await reply(route, envelope, error: .forbidden("unknown principal \(envelope.onBehalfOf)"))
                return
            }
            principal = target
        }
        if envelope.deadlineUnixMs > 0 && Int64(Date().timeIntervalSince1970 * 1000) > envelope.deadlineUnixMs {
            await reply(route, envelope, error: .timeout("deadline passed before the request was served"))
            return
        }
        guard let handler = handlers.withLock({ $0[envelope.method] }) else {
            await reply(route, envelope, error: .notFound("unknown method \(envelope.method)"))
            return
        }
        let context = RequestContext(sender: sender, principal: principal, envelope: envelope)
        let started = ContinuousClock.now
        do {
            let body = try await handler(context, request.frame(2))
            observer?(envelope.method, ContinuousClock.now - started, true)
            await reply(route, envelope, body: body)
        } catch let error as BusError {
            observer?(envelope.method, ContinuousClock.now - started, false)
            await reply(route, envelope, error: error)
        } catch {
            observer?(envelope.method, ContinuousClock.now - started, false)
            logger.error("handler failed", metadata: ["rpc.method": "\(envelope.method)", "rpc.error": "\(error)"])
            await reply(route, envelope, error: .internalError("\(error)"))
        }
    }

    private func reply(_ route: [UInt8], _ request: Envelope?, body: [UInt8] = [], error: BusError? = nil) async {
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
        await socket.send(frames: [route, envelope.bytes(), body])
    }
}
