import Foundation
import Logging
import Synchronization

/// The ZAP handler (ZeroMQ RFC 27) of one context: every CURVE handshake on a server socket of that
/// context is checked here against the directory. Known keys are allowed with the principal's name as
/// User-Id; unknown keys and every NULL or PLAIN client are refused. Each decision is counted and
/// logged.
public final class ZAPAuthenticator: Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"
    /// The ZAP domain agor's server sockets use.
    public static let domain = "agor"

    public struct Counts: Sendable, Equatable, Codable {
        public var allowed: Int
        public var denied: Int
    }

    private let socket: Socket
    private let directory: Directory
    private let allowed = Atomic<Int>(0)
    private let denied = Atomic<Int>(0)
    private let logger: Logger

    /// Binds the handler. Must run before any server socket of the context accepts connections.
    public init(context: Context, directory: Directory, logger: Logger = Logger(label: "agor.zap")) throws {
        socket = try Socket(context: context, type: .router, .init(options: [.linger(0)], bind: [ZAPAuthenticator.endpoint]))
        self.directory = directory
        self.logger = logger
        Task { [self] in await serve() }
    }

    public var counts: Counts {
        Counts(allowed: allowed.load(ordering: .relaxed), denied: denied.load(ordering: .relaxed))
    }

    public func stop() async { await socket.close() }

    private func serve() async {
        for await request in socket.messages {
            // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
            guard request.frameCount >= 8 else { continue }
            let version = request.frame(2)
            let requestId = request.frame(3)
            let address = String(decoding: request.frame(5), as: UTF8.self)
            let mechanism = String(decoding: request.frame(7), as: UTF8.self)
            var decision: (code: String, text: String, user: String)
            if version != Array("1.0".utf8) {
                decision = ("400", "unsupported ZAP version", "")
            } else if mechanism != "CURVE" {
                decision = ("400", "mechanism \(mechanism) refused: CURVE required", "")
            } else if request.frameCount < 9 || request.frameSize(8) != 32 {
                decision = ("400", "bad CURVE credentials", "")
            } else if let principal = directory.principal(forKey: request.frame(8)) {
                decision = ("200", "OK", principal.name)
            } else {
                decision = ("400", "unknown key", "")
            }
            if decision.code == "200" {
                allowed.add(1, ordering: .relaxed)
                logger.info("zap allow", metadata: ["zap.user": "\(decision.user)", "zap.address": "\(address)"])
            } else {
                denied.add(1, ordering: .relaxed)
                let key = request.frameCount >= 9 && request.frameSize(8) == 32 ? Z85.encode(request.frame(8)) : "-"
                logger.notice("zap deny", metadata: ["zap.reason": "\(decision.text)", "zap.address": "\(address)",
                                                     "zap.mechanism": "\(mechanism)", "zap.key": "\(key)"])
            }
            await socket.send(frames: [request.frame(0), [], Array("1.0".utf8), requestId,
                                       Array(decision.code.utf8), Array(decision.text.utf8),
                                       Array(decision.user.utf8), []])
        }
    }
}
