import Foundation
import Synchronization

/// The DEALER side of request/reply. Many requests may be in flight; each waits for the reply with
/// its own request id until its deadline. Only requests marked idempotent are retried, with the same
/// id, so the server's dedup applies them once.
public final class RPCClient: Sendable {
    public struct CallOptions: Sendable {
        public var timeout: Duration = .seconds(5)
        /// Safe to send again after a timeout; the server dedups by request id.
        public var idempotent = false
        /// Extra attempts after a timeout (idempotent requests only).
        public var retries = 0
        /// Act for this principal (the caller needs the delegate right).
        public var onBehalfOf: String?
        /// A request id of the caller's own (e.g. a client request id kept across restarts).
        public var requestId: String?

        public init(timeout: Duration = .seconds(5), idempotent: Bool = false, retries: Int = 0,
                    onBehalfOf: String? = nil, requestId: String? = nil) {
            self.timeout = timeout
            self.idempotent = idempotent
            self.retries = retries
            self.onBehalfOf = onBehalfOf
            self.requestId = requestId
        }
    }

    private struct Pending {
        var continuation: CheckedContinuation<[UInt8], Error>
        /// Which call under this id (an id may be used again once its call ended).
        var generation: UInt64
        /// Attempts in all, and those still to send after the current one (idempotent calls).
        var attempts: Int
        var retriesLeft: Int
        var frames: [[UInt8]]
        var timeout: Duration
        /// When its deadline entry fires (taken out of the wheel when the call is answered).
        var deadline: ContinuousClock.Instant
    }

    public let socket: Socket
    private let pending = Locked<[String: Pending]>([:])
    private let generations = Mutex<UInt64>(0)
    /// Every call's deadline, on one task per client.
    private let deadlines: DeadlineWheel
    private let receiver = Mutex<Task<Void, Never>?>(nil)
    /// Set while the server refuses this client's key (its last handshake failed authentication).
    private let refused = Locked(false)

    /// Connects a CURVE client DEALER to `endpoint`, whose server key is `serverKey`.
    public init(context: Context, endpoint: String, serverKey: [UInt8], clientKey: CurveKeyPair,
                maxMessageSize: Int64 = BusProtocol.defaultMaxMessageSize, pipelining: Bool = true) throws {
        var configuration = Socket.Configuration(
            options: [.curveClient(publicKey: clientKey.publicKey, secretKey: clientKey.secretKey, serverKey: serverKey),
                      .maxMessageSize(maxMessageSize), .linger(0), .reconnectInterval(100),
                      .reconnectIntervalMax(2_000), .heartbeatInterval(5_000), .heartbeatTimeout(15_000),
                      .sendHighWaterMark(100_000), .receiveHighWaterMark(100_000)],
            connect: [endpoint])
        // Requests queued at once go out packed in one frame (the server answers them in one).
        configuration.packRequests = pipelining
        // Always monitored: a handshake the server refuses must fail the calls at once, not at
        // their deadlines. (Diagnostics reads the same monitor through `HealthReporter.watch`.)
        configuration.monitor = true
        // On the context's one thread for client sockets, not a thread per client.
        configuration.thread = context.clientThread
        let socket = try Socket(context: context, type: .dealer, configuration)
        self.socket = socket
        let pending = self.pending
        deadlines = DeadlineWheel { entries in
            var again: [(DeadlineWheel.Entry, ContinuousClock.Instant)] = []
            for entry in entries {
                // Due: send again while retries are left (same id: the server applies it once),
                // else the call fails with a timeout.
                let action = pending.withLock { table -> (resend: [[UInt8]]?, timeout: Duration, fail: Pending?) in
                    guard var call = table[entry.id], call.generation == entry.generation else { return (nil, .zero, nil) }
                    if call.retriesLeft > 0 {
                        call.retriesLeft -= 1
                        call.deadline = .now + call.timeout
                        table[entry.id] = call
                        return (call.frames, call.timeout, nil)
                    }
                    table.removeValue(forKey: entry.id)
                    return (nil, .zero, call)
                }
                if let frames = action.resend {
                    _ = socket.trySend(OutgoingMessage(frames: frames))
                    again.append((entry, pending.withLock { $0[entry.id]?.deadline } ?? .now + action.timeout))
                } else if let failed = action.fail {
                    failed.continuation.resume(throwing: BusError.timeout("no reply within \(failed.timeout * failed.attempts)"))
                }
            }
            return again
        }
        socket.monitor?.observe { [pending, refused] event in
            switch event.kind {
            case .handshakeFailedAuth:
                refused.withLock { $0 = true }
                RPCClient.failAll(pending, with: .keyRefused)
            case .handshakeSucceeded:
                refused.withLock { $0 = false }
            default:
                break
            }
        }
        // The task holds the message sequence, not the socket, so a dropped client closes its socket.
        let task = Task { [messages = socket.messages, pending, deadlines] in
            for await message in messages {
                guard message.frameCount >= 1,
                      let envelope = try? Envelope(serializedBytes: message.frame(0)) else { continue }
                guard envelope.kind == .replyBatch else {
                    RPCClient.complete(pending, deadlines, envelope, body: message.frameCount >= 2 ? message.frame(1) : [])
                    continue
                }
                // The answers to requests this client sent packed in one frame.
                guard message.frameCount >= 2, let items = message.withFrame(1, ProtoWire.packedPairs) else { continue }
                for (bytes, body) in items {
                    guard let inner = try? Envelope(serializedBytes: bytes) else { continue }
                    RPCClient.complete(pending, deadlines, inner, body: body)
                }
            }
        }
        receiver.withLock { $0 = task }
    }

    /// Sends a request and waits for its reply body, or throws the server's `BusError`
    /// (or `BusError.timeout` when no reply came in time). An idempotent request is sent again
    /// with the same id after each `timeout` without a reply, up to `retries` times; a reply to
    /// any of the attempts completes the call (the server's dedup applies the request once).
    public func call(_ method: String, _ body: [UInt8] = [], options: CallOptions = .init()) async throws -> [UInt8] {
        if refused.withLock({ $0 }) { throw BusError.keyRefused }
        let id = options.requestId ?? RandomID.timeOrdered()
        let attempts = options.idempotent ? max(0, options.retries) + 1 : 1
        var envelope = Envelope.request(method: method, id: id, idempotent: options.idempotent)
        if let onBehalfOf = options.onBehalfOf { envelope.onBehalfOf = onBehalfOf }
        let total = options.timeout * attempts
        let totalMs = Int64(total.components.seconds * 1000 + total.components.attoseconds / 1_000_000_000_000_000)
        envelope.deadlineUnixMs = Int64(Date().timeIntervalSince1970 * 1000) + totalMs
        let frames = [envelope.bytes(), body]
        let timeout = options.timeout
        let generation = generations.withLock { value -> UInt64 in
            value += 1
            return value
        }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], Error>) in
            // One entry for the whole call: a reply that arrives while a retry is being sent still
            // finds it (per-attempt entries dropped replies that crossed a retry).
            let deadline = ContinuousClock.now + timeout
            let call = Pending(continuation: continuation, generation: generation, attempts: attempts, retriesLeft: attempts - 1,
                               frames: frames, timeout: timeout, deadline: deadline)
            let previous = pending.withLock { $0.updateValue(call, forKey: id) }
            previous?.continuation.resume(throwing: BusError.conflict("request id \(id) reused while in flight"))
            deadlines.schedule(.init(id: id, generation: generation), at: deadline)
            if !socket.trySend(OutgoingMessage(frames: frames)) {
                if let entry = pending.withLock({ $0.removeValue(forKey: id) }) {
                    entry.continuation.resume(throwing: BusError.unavailable("send queue full or client closed"))
                }
            }
        }
    }

    /// Sends `request` (a protobuf message) and decodes the reply as `R`.
    public func call<Q: SwiftProtobufMessage, R: SwiftProtobufMessage>(_ method: String, _ request: Q, as: R.Type, options: CallOptions = .init()) async throws -> R {
        let reply = try await call(method, try request.serializedBytes(), options: options)
        do { return try R(serializedBytes: reply) } catch {
            throw BusError.badRequest("reply to \(method) is not a \(R.self)")
        }
    }

    public var inFlight: Int { pending.withLock { $0.count } }

    /// True while the server refuses this client's key (calls fail at once with `keyRefused`).
    public var isRefused: Bool { refused.withLock { $0 } }

    public func close() async {
        await socket.close()
        RPCClient.failAll(pending, with: .unavailable("client closed"))
    }

    /// Ends the call a reply or error answers; replies nobody waits for (late, or for another
    /// generation of the id) are dropped.
    private static func complete(_ pending: Locked<[String: Pending]>, _ deadlines: DeadlineWheel, _ envelope: Envelope, body: [UInt8]) {
        guard let entry = pending.withLock({ $0.removeValue(forKey: envelope.requestID) }) else { return }
        deadlines.cancel(.init(id: envelope.requestID, generation: entry.generation), at: entry.deadline)
        if envelope.kind == .error || envelope.hasError {
            entry.continuation.resume(throwing: BusError(code: envelope.error.code, message: envelope.error.message))
        } else {
            entry.continuation.resume(returning: body)
        }
    }

    private static func failAll(_ pending: Locked<[String: Pending]>, with error: BusError) {
        let entries = pending.withLock { p -> [Pending] in
            let all = Array(p.values)
            p.removeAll()
            return all
        }
        for entry in entries {
            entry.continuation.resume(throwing: error)
        }
    }
}

import SwiftProtobuf
public typealias SwiftProtobufMessage = SwiftProtobuf.Message
