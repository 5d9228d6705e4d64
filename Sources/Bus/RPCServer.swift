import Foundation
import Logging
import Synchronization

/// The ROUTER side of request/reply: authenticates every request through the directory, decodes the
/// envelope, dispatches by method and replies with the body or a typed error. Write methods
/// (`registerWrite`) are served on the socket's thread in batches (InlineWrites); the others by
/// async handlers (`register`). Bad input is answered with an error (or dropped when there is no one
/// to answer) and counted; the server goes on.
public final class RPCServer: Sendable {
    public typealias Handler = @Sendable (RequestContext, [UInt8]) async throws -> [UInt8]

    public struct Counts: Sendable, Equatable, Codable {
        public var requests = 0
        public var replies = 0
        public var errors = 0
        public var malformed = 0
        public var unauthenticated = 0
        /// Refused because the sender was over its request rate (see RequestThrottle).
        public var throttled = 0
    }

    /// The most requests read, admitted and committed in one pass of the ROUTER's thread.
    public static let maxBatchRequests = 128

    public let socket: Socket
    public var endpoint: String { socket.boundEndpoints.first ?? "" }
    private let handlers = Mutex<[String: Handler]>([:])
    private let admission: RequestAdmission
    private let writes: InlineWrites
    private let inFlightCount = Atomic<Int>(0)
    private let limiter: AsyncLimiter
    private let logger: Logger
    /// Called with each request's method and duration (Diagnostics hooks in here).
    private let observer: (@Sendable (String, Duration, Bool) -> Void)?

    /// Binds a CURVE server ROUTER at `endpoint`. The context's ZAPAuthenticator checks every client.
    public init(context: Context, endpoint: String, also: [String] = [], serverKey: CurveKeyPair, directory: Directory,
                maxMessageSize: Int64 = BusProtocol.defaultMaxMessageSize, maxConcurrent: Int = 64,
                requestsPerPrincipal: Int64 = 0,
                logger: Logger = Logger(label: "agor.rpc"), monitor: Bool = false,
                observer: (@Sendable (String, Duration, Bool) -> Void)? = nil) throws {
        var configuration = Socket.Configuration(
            options: [.curveServer(secretKey: serverKey.secretKey), .zapDomain(ZAPAuthenticator.domain),
                      .maxMessageSize(maxMessageSize), .linger(500), .routerMandatory(false),
                      .sendHighWaterMark(100_000), .receiveHighWaterMark(100_000),
                      .heartbeatInterval(5_000), .heartbeatTimeout(15_000)],
            bind: [endpoint] + also, readUserId: true)
        configuration.monitor = monitor
        // A request waits for the whole batch it was read in (its reply goes out after the batch's
        // commit): smaller batches keep one client's flood, refused or not, from holding everyone
        // else's requests for long (a flood beside ten steady clients, debug build: p99 570 ms with
        // 4096, 190 ms with 256, 77 ms with 64); 128 still lets a commit carry many writes.
        configuration.maxBatchMessages = RPCServer.maxBatchRequests
        let admission = RequestAdmission(directory: directory, throttle: RequestThrottle(perSecond: requestsPerPrincipal), logger: logger)
        let writes = InlineWrites(admission: admission, logger: logger, observer: observer)
        configuration.inlineHandler = { batch in writes.handle(batch) }
        socket = try Socket(context: context, type: .router, configuration)
        self.admission = admission
        self.writes = writes
        self.limiter = AsyncLimiter(limit: maxConcurrent)
        self.logger = logger
        self.observer = observer
    }

    public func register(_ method: String, _ handler: @escaping Handler) {
        handlers.withLock { $0[method] = handler }
    }

    /// Registers a write method, served on the ROUTER's thread (see InlineWrites): `prepare` decodes
    /// and checks the request without I/O and returns the work to run in `commit`'s next batch
    /// transaction; the reply is sent after that commit. Throwing a `BusError` refuses the request.
    public func registerWrite(_ method: String, through commit: GroupCommit,
                              _ prepare: @escaping @Sendable (RequestContext, [UInt8]) throws -> GroupCommit.Work) {
        writes.register(method, commit: commit, prepare: prepare)
    }

    public var statistics: Counts { admission.statistics }

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

    private func handle(_ request: ReceivedMessage) async {
        inFlightCount.add(1, ordering: .relaxed)
        defer { inFlightCount.subtract(1, ordering: .relaxed) }
        switch admission.admit(request) {
        case .refuse(let route, let envelope, let error):
            if let route { await socket.send(admission.reply(route, envelope, error: error)) }
        case .serve(let route, let context):
            await serve(route, context, request)
        }
    }

    private func serve(_ route: [UInt8], _ context: RequestContext, _ request: ReceivedMessage) async {
        let envelope = context.envelope
        guard let handler = handlers.withLock({ $0[envelope.method] }) else {
            await socket.send(admission.reply(route, envelope, error: .notFound("unknown method \(envelope.method)")))
            return
        }
        let started = ContinuousClock.now
        do {
            let body = try await handler(context, request.frame(2))
            observer?(envelope.method, ContinuousClock.now - started, true)
            await socket.send(admission.reply(route, envelope, body: body))
        } catch let error as BusError {
            observer?(envelope.method, ContinuousClock.now - started, false)
            await socket.send(admission.reply(route, envelope, error: error))
        } catch {
            observer?(envelope.method, ContinuousClock.now - started, false)
            logger.error("handler failed", metadata: ["rpc.method": "\(envelope.method)", "rpc.error": "\(error)"])
            await socket.send(admission.reply(route, envelope, error: .internalError("\(error)")))
        }
    }
}
