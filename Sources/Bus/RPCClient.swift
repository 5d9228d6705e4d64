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

    /// A call waiting for its reply: one entry for all its attempts, so a reply to any attempt
    /// completes it (also one that crosses a retry).
    private struct Pending {
        var continuation: CheckedContinuation<[UInt8], Error>
        var frames: [[UInt8]]
        var timeout: Duration
        var deadline: ContinuousClock.Instant
        var retriesLeft: Int
    }

    private struct State {
        var calls: [String: Pending] = [:]
        /// When the timer task will look next (nil: no timer task running).
        var timerWake: ContinuousClock.Instant?
        var timer: Task<Void, Never>?
    }

    public let socket: Socket
    private let state = Locked(State())
    private let receiver = Mutex<Task<Void, Never>?>(nil)

    /// Connects a CURVE client DEALER to `endpoint`, whose server key is `serverKey`.
    public init(context: Context, endpoint: String, serverKey: [UInt8], clientKey: CurveKeyPair,
                maxMessageSize: Int64 = BusProtocol.defaultMaxMessageSize) throws {
        socket = try Socket(context: context, type: .dealer, .init(
            options: [.curveClient(publicKey: clientKey.publicKey, secretKey: clientKey.secretKey, serverKey: serverKey),
                      .maxMessageSize(maxMessageSize), .linger(0), .reconnectInterval(100),
                      .reconnectIntervalMax(2_000), .heartbeatInterval(5_000), .heartbeatTimeout(15_000),
                      .sendHighWaterMark(100_000), .receiveHighWaterMark(100_000)],
            connect: [endpoint]))
        // The task holds the message sequence, not the socket, so a dropped client closes its socket.
        let task = Task { [messages = socket.messages, state] in
            for await message in messages {
                guard message.frameCount >= 1,
                      let envelope = try? Envelope(serializedBytes: message.frame(0)) else { continue }
                guard let entry = state.withLock({ $0.calls.removeValue(forKey: envelope.requestID) }) else { continue }
                if envelope.kind == .error || envelope.hasError {
                    entry.continuation.resume(throwing: BusError(code: envelope.error.code, message: envelope.error.message))
                } else {
                    entry.continuation.resume(returning: message.frameCount >= 2 ? message.frame(1) : [])
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
        let id = options.requestId ?? RandomID.timeOrdered()
        let attempts = options.idempotent ? max(0, options.retries) + 1 : 1
        var envelope = Envelope.request(method: method, id: id, idempotent: options.idempotent)
        if let onBehalfOf = options.onBehalfOf { envelope.onBehalfOf = onBehalfOf }
        let total = options.timeout * attempts
        let totalMs = Int64(total.components.seconds * 1000 + total.components.attoseconds / 1_000_000_000_000_000)
        envelope.deadlineUnixMs = Int64(Date().timeIntervalSince1970 * 1000) + totalMs
        let frames = [envelope.bytes(), body]
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], Error>) in
            let entry = Pending(continuation: continuation, frames: frames, timeout: options.timeout,
                                deadline: .now + options.timeout, retriesLeft: attempts - 1)
            let previous = state.withLock { $0.calls.updateValue(entry, forKey: id) }
            if let previous {
                previous.continuation.resume(throwing: BusError.conflict("request id \(id) reused while in flight"))
            }
            if !socket.trySend(OutgoingMessage(frames: frames)) {
                if let entry = state.withLock({ $0.calls.removeValue(forKey: id) }) {
                    entry.continuation.resume(throwing: BusError.unavailable("send queue full or client closed"))
                }
                return
            }
            armTimer(for: entry.deadline)
        }
    }

    // MARK: timeouts

    /// One timer task per client, asleep until the earliest deadline, instead of a task per call:
    /// at thousands of calls a second the per-call tasks cost more than the calls.
    private func armTimer(for deadline: ContinuousClock.Instant) {
        let start = state.withLock { state -> Bool in
            if let wake = state.timerWake, wake <= deadline { return false }
            state.timer?.cancel()
            state.timerWake = deadline
            return true
        }
        guard start else { return }
        let task = Task { [weak self] in
            var wake = deadline
            while true {
                try? await Task.sleep(until: wake, clock: .continuous)
                if Task.isCancelled { return }
                guard let self, let next = self.expire() else { return }
                wake = next
            }
        }
        state.withLock { state in
            // Only the task that matches the latest wake time stays; an older one was cancelled.
            if state.timerWake == deadline { state.timer = task } else { task.cancel() }
        }
    }

    /// Retries or fails every call past its deadline; returns the next deadline (nil: none left,
    /// and the timer task ends).
    private func expire() -> ContinuousClock.Instant? {
        let now = ContinuousClock.now
        var resend: [[[UInt8]]] = []
        var failed: [Pending] = []
        let next = state.withLock { state -> ContinuousClock.Instant? in
            var next: ContinuousClock.Instant?
            for (id, var call) in state.calls {
                if call.deadline <= now {
                    if call.retriesLeft > 0 {
                        call.retriesLeft -= 1
                        call.deadline = now + call.timeout
                        resend.append(call.frames)
                        state.calls[id] = call
                    } else {
                        state.calls.removeValue(forKey: id)
                        failed.append(call)
                        continue
                    }
                }
                next = min(next ?? call.deadline, call.deadline)
            }
            state.timerWake = next
            if next == nil { state.timer = nil }
            return next
        }
        for frames in resend { _ = socket.trySend(OutgoingMessage(frames: frames)) }
        for call in failed {
            call.continuation.resume(throwing: BusError.timeout("no reply in time (\(call.timeout) per attempt)"))
        }
        return next
    }

    /// Sends `request` (a protobuf message) and decodes the reply as `R`.
    public func call<Q: SwiftProtobufMessage, R: SwiftProtobufMessage>(_ method: String, _ request: Q, as: R.Type, options: CallOptions = .init()) async throws -> R {
        let reply = try await call(method, try request.serializedBytes(), options: options)
        do { return try R(serializedBytes: reply) } catch {
            throw BusError.badRequest("reply to \(method) is not a \(R.self)")
        }
    }

    public var inFlight: Int { state.withLock { $0.calls.count } }

    public func close() async {
        await socket.close()
        let entries = state.withLock { state -> [Pending] in
            let all = Array(state.calls.values)
            state.calls.removeAll()
            state.timer?.cancel()
            state.timer = nil
            state.timerWake = nil
            return all
        }
        for entry in entries {
            entry.continuation.resume(throwing: BusError.unavailable("client closed"))
        }
    }
}

import SwiftProtobuf
public typealias SwiftProtobufMessage = SwiftProtobuf.Message
