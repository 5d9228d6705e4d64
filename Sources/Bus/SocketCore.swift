import CLibZMQ
import Foundation
import Synchronization

/// What is queued for a socket's thread to send.
enum Outbound: Sendable {
    case message(OutgoingMessage)
    /// A PUB event that may share a batch frame with others of the same topic.
    case event(topic: [UInt8], envelope: [UInt8], body: [UInt8])

    var byteCount: Int {
        switch self {
        case .message(let message): message.byteCount
        case .event(let topic, let envelope, let body): topic.count + envelope.count + body.count
        }
    }
}

/// The state shared between a `Socket` and the thread that owns its libzmq socket.
final class SocketCore: Sendable {
    private struct Shared {
        var outbound: [Outbound] = []
        var operations: [@Sendable (RawSocket) -> Void] = []
        var sendWaiters: [(items: [Outbound], continuation: CheckedContinuation<Void, Never>)] = []
        var sleeping = false
        var closing = false
        var closed = false
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let shared = Mutex(Shared())
    /// The thread that owns the libzmq socket (shared with other sockets, or its own).
    let thread: SocketThread
    private var wakeup: Wakeup { thread.wakeup }
    let inbound: BatchChannel<ReceivedBatch>
    let counters = SocketCounters()
    let monitor: SocketMonitor?
    private let sendQueueLimit: Int

    init(raw: RawSocket, configuration: Socket.Configuration, linger: Int32, monitor: SocketMonitor?) {
        let thread = configuration.thread ?? configuration.sharesThreadWith?.core.thread ?? SocketThread()
        self.thread = thread
        inbound = BatchChannel(capacity: configuration.receiveQueueBatches, onSpace: { thread.wakeup.signal() })
        sendQueueLimit = configuration.sendQueueLimit
        self.monitor = monitor
        thread.host(SocketLoop(core: self, raw: raw, configuration: configuration, linger: linger), name: "agor.bus.\(raw.type)")
    }

    // MARK: called from any thread

    func enqueue(_ items: [Outbound]) async {
        enum Decision { case queued(wake: Bool), wait, closed }
        let decision: Decision = shared.withLock { s in
            if s.closing { return .closed }
            if s.sendWaiters.isEmpty && s.outbound.count < sendQueueLimit {
                s.outbound.append(contentsOf: items)
                let wake = s.sleeping
                s.sleeping = false
                return .queued(wake: wake)
            }
            return .wait
        }
        switch decision {
        case .queued(let wake):
            if wake { wakeup.signal() }
        case .closed:
            counters.sendErrors.add(items.count, ordering: .relaxed)
        case .wait:
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ok = shared.withLock { s -> Bool in
                    if s.closing { return false }
                    s.sendWaiters.append((items, continuation))
                    return true
                }
                if ok {
                    wakeup.signal()
                } else {
                    counters.sendErrors.add(items.count, ordering: .relaxed)
                    continuation.resume()
                }
            }
        }
    }

    func tryEnqueue(_ item: Outbound) -> Bool {
        let (ok, wake): (Bool, Bool) = shared.withLock { s in
            guard !s.closing, s.sendWaiters.isEmpty, s.outbound.count < sendQueueLimit else { return (false, false) }
            s.outbound.append(item)
            let wake = s.sleeping
            s.sleeping = false
            return (true, wake)
        }
        if wake { wakeup.signal() }
        return ok
    }

    /// Queues as many of `items` as the send queue has room for, in order, with one lock and at
    /// most one wake-up. Returns how many were queued.
    func tryEnqueue(contentsOf items: [Outbound]) -> Int {
        let (queued, wake): (Int, Bool) = shared.withLock { s in
            guard !s.closing, s.sendWaiters.isEmpty else { return (0, false) }
            let count = min(items.count, max(0, sendQueueLimit - s.outbound.count))
            guard count > 0 else { return (0, false) }
            s.outbound.append(contentsOf: items.prefix(count))
            let wake = s.sleeping
            s.sleeping = false
            return (count, wake)
        }
        if wake { wakeup.signal() }
        return queued
    }

    func perform<T: Sendable>(_ body: @escaping @Sendable (RawSocket) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = shared.withLock { s -> Bool in
                if s.closing { return false }
                s.operations.append { raw in
                    do { continuation.resume(returning: try body(raw)) } catch { continuation.resume(throwing: error) }
                }
                s.sleeping = false
                return true
            }
            if accepted { wakeup.signal() } else { continuation.resume(throwing: ZMQError.terminated) }
        }
    }

    /// Queues `body` for the socket's thread without waiting for it. It runs before the thread
    /// writes anything queued after this call. False when the socket is closing.
    func schedule(_ body: @escaping @Sendable (RawSocket) -> Void) -> Bool {
        let accepted = shared.withLock { s -> Bool in
            if s.closing { return false }
            s.operations.append(body)
            s.sleeping = false
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    func requestClose() {
        shared.withLock { $0.closing = true }
        wakeup.signal()
    }

    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s -> Bool in
                if s.closed { return true }
                s.closing = true
                s.closeWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() } else { wakeup.signal() }
        }
    }

    func snapshot() -> SocketCounters.Snapshot {
        SocketCounters.Snapshot(
            messagesIn: counters.messagesIn.load(ordering: .relaxed),
            messagesOut: counters.messagesOut.load(ordering: .relaxed),
            bytesIn: counters.bytesIn.load(ordering: .relaxed),
            bytesOut: counters.bytesOut.load(ordering: .relaxed),
            batchesIn: counters.batchesIn.load(ordering: .relaxed),
            messagesCoalesced: counters.messagesCoalesced.load(ordering: .relaxed),
            sendErrors: counters.sendErrors.load(ordering: .relaxed),
            subscriptionsRefused: counters.subscriptionsRefused.load(ordering: .relaxed),
            sendQueueDepth: counters.queuedOut.load(ordering: .relaxed) + shared.withLock { $0.outbound.count },
            receiveQueueDepth: inbound.depth,
            pendingBytes: counters.pendingBytes.load(ordering: .relaxed),
            sendQueueLimit: sendQueueLimit,
            receiveQueueLimit: inbound.capacity)
    }

    // MARK: called from the socket's thread only

    struct Work {
        var operations: [@Sendable (RawSocket) -> Void]
        var outbound: [Outbound]
        var resumed: [CheckedContinuation<Void, Never>]
        var closing: Bool
    }

    /// Takes everything queued (the thread then sends it).
    /// While the socket is blocked (`takeOutbound` false) new messages stay in the shared queue,
    /// so its limit keeps applying to producers.
    func takeWork(into outbound: inout [Outbound], takeOutbound: Bool) -> (operations: [@Sendable (RawSocket) -> Void], resumed: [CheckedContinuation<Void, Never>], closing: Bool) {
        shared.withLock { s in
            let ops = s.operations
            s.operations = []
            guard takeOutbound else { return (ops, [], s.closing) }
            if outbound.isEmpty {
                swap(&outbound, &s.outbound)
            } else {
                outbound.append(contentsOf: s.outbound)
                s.outbound.removeAll(keepingCapacity: true)
            }
            var resumed: [CheckedContinuation<Void, Never>] = []
            for waiter in s.sendWaiters {
                outbound.append(contentsOf: waiter.items)
                resumed.append(waiter.continuation)
            }
            s.sendWaiters = []
            return (ops, resumed, s.closing)
        }
    }

    /// Marks the thread asleep when nothing is queued, so the next producer signals the eventfd.
    /// Returns false (do not sleep) when work arrived meanwhile.
    func prepareToSleep(blocked: Bool) -> Bool {
        shared.withLock { s in
            guard blocked || (s.outbound.isEmpty && s.sendWaiters.isEmpty), s.operations.isEmpty, !s.closing else { return false }
            s.sleeping = true
            return true
        }
    }

    func markAwake() {
        shared.withLock { $0.sleeping = false }
    }


    func finishClose() {
        let waiters = shared.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            s.closing = true
            let w = s.closeWaiters
            s.closeWaiters = []
            for waiter in s.sendWaiters { waiter.continuation.resume() }
            s.sendWaiters = []
            return w
        }
        inbound.finish()
        monitor?.stop()
        for w in waiters { w.resume() }
    }

    var wakeupFD: Int32 { wakeup.fd }
    func drainWakeup() { wakeup.drain() }
}

/// Moves a value that is not `Sendable` to the thread that will own it from then on.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
