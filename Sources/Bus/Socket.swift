import CLibZMQ
import Foundation
import Synchronization

/// A ZeroMQ socket for async code.
///
/// The libzmq socket is owned by one thread made for it, which sleeps in `zmq_poll` until the
/// socket is readable or work arrives on an eventfd, so an idle socket costs no CPU. Everything
/// readable at a wake-up is handed over as one `ReceivedBatch`; sends are queued and written by
/// that thread, so no call ever blocks the cooperative pool.
public final class Socket: Sendable {
    public let type: SocketType
    /// The endpoints bound at creation, with real ports where `*` was asked.
    public let boundEndpoints: [String]
    /// The endpoints given to `connect` at creation.
    public let connectedEndpoints: [String]
    let core: SocketCore

    public typealias SubscriptionGate = @Sendable (_ topic: [UInt8], _ userId: String?) -> Bool
    typealias InlineHandler = @Sendable (ReceivedBatch) -> (replies: [OutgoingMessage], rest: [ReceivedBatch])

    public struct Configuration: Sendable {
        public var options: [SocketOption] = []
        public var bind: [String] = []
        public var connect: [String] = []
        /// Read each message's ZAP User-Id (servers that authenticate peers).
        public var readUserId = false
        /// Most messages read in one wake-up.
        public var maxBatchMessages = 4096
        /// Batches that may wait for the consumer before the thread stops reading.
        public var receiveQueueBatches = 8
        /// Messages that may wait in the send queue before `send` suspends.
        public var sendQueueLimit = 100_000
        /// PUB: largest batch frame built from queued events under load (0 = never batch).
        public var maxCoalescedBytes = 64 * 1024
        /// Report socket monitor events through `monitorEvents`.
        public var monitor = false
        /// XPUB with `.xpubManual(true)` and `readUserId`: decides each subscription on the socket's
        /// thread, from the topic prefix and the subscriber's ZAP User-Id. Allowed subscriptions are
        /// applied, refused ones are not (the subscriber receives nothing under that prefix).
        /// Subscription messages are consumed here and never reach `messages`.
        public var subscriptionGate: SubscriptionGate?
        /// Work done on the socket's own thread with each batch as read, before anything is handed
        /// over: what it returns to send goes out at once, and only the messages it leaves reach
        /// `messages` (RPCServer serves its write methods this way, see InlineWrites).
        var inlineHandler: InlineHandler?
        /// DEALER clients of RPCServer: requests queued at once are sent as one request batch frame
        /// (up to `maxCoalescedBytes`), answered by reply batches (docs/PROTOCOL.md, "Pipelining").
        var packRequests = false
        /// Run on the thread of this socket instead of a thread of its own (a service's PUB on its
        /// ROUTER's thread: the writer loop then writes its events without waking another thread).
        public var sharesThreadWith: Socket?
        /// Run on this thread (a context's thread for its client sockets).
        var thread: SocketThread?

        public init(options: [SocketOption] = [], bind: [String] = [], connect: [String] = [],
                    readUserId: Bool = false) {
            self.options = options
            self.bind = bind
            self.connect = connect
            self.readUserId = readUserId
        }
    }

    /// Creates, configures, binds and connects the socket, then starts its thread.
    public init(context: Context, type: SocketType, _ configuration: Configuration = .init()) throws {
        let raw = try RawSocket(context: context, type: type)
        var linger: Int32 = 0
        for option in configuration.options {
            try raw.set(option)
            if case .linger(let value) = option { linger = value }
        }
        var monitor: SocketMonitor?
        if configuration.monitor {
            monitor = try SocketMonitor(context: context, watching: raw)
        }
        var bound: [String] = []
        for endpoint in configuration.bind {
            try raw.bind(endpoint)
            bound.append(raw.lastEndpoint)
        }
        for endpoint in configuration.connect {
            try raw.connect(endpoint)
        }
        self.type = type
        self.boundEndpoints = bound
        self.connectedEndpoints = configuration.connect
        self.core = SocketCore(raw: raw, configuration: configuration, linger: linger, monitor: monitor)
    }

    deinit { core.requestClose() }

    // MARK: sending

    /// Queues a message for sending. Suspends only while the send queue is full.
    public func send(_ message: OutgoingMessage) async {
        // Fast path without an array or a suspension; wait only when the queue is full.
        if core.tryEnqueue(.message(message)) { return }
        await core.enqueue([.message(message)])
    }

    /// Queues several messages in order, with one hand-over.
    public func send(contentsOf messages: [OutgoingMessage]) async {
        await core.enqueue(messages.map { .message($0) })
    }

    public func send(frames: [[UInt8]]) async { await send(OutgoingMessage(frames: frames)) }

    /// Queues without waiting; false when the send queue is full or the socket closed.
    @discardableResult
    public func trySend(_ message: OutgoingMessage) -> Bool {
        core.tryEnqueue(.message(message))
    }

    /// PUB: queues an event [topic, envelope, body]. When several events of one topic are queued at
    /// once (under load), the thread sends them as one batch frame (see docs/PROTOCOL.md).
    public func publish(topic: [UInt8], envelope: [UInt8], body: [UInt8]) async {
        let event = Outbound.event(topic: topic, envelope: envelope, body: body)
        if core.tryEnqueue(event) { return }
        await core.enqueue([event])
    }

    @discardableResult
    public func tryPublish(topic: [UInt8], envelope: [UInt8], body: [UInt8]) -> Bool {
        core.tryEnqueue(.event(topic: topic, envelope: envelope, body: body))
    }

    /// PUB: queues events [topic, envelope, body] in order with one hand-over; returns how many
    /// were queued (the rest did not fit in the send queue).
    @discardableResult
    public func tryPublish(_ events: [(topic: [UInt8], envelope: [UInt8], body: [UInt8])]) -> Int {
        core.tryEnqueue(contentsOf: events.map { .event(topic: $0.topic, envelope: $0.envelope, body: $0.body) })
    }

    // MARK: receiving

    /// Batches of received messages, as read per wake-up. One consumer at a time.
    public var batches: BatchSequence { BatchSequence(channel: core.inbound) }

    /// Received messages one by one (flattening `batches`).
    public var messages: MessageSequence { MessageSequence(channel: core.inbound) }

    /// Socket monitor events, when the socket was made with `monitor: true`.
    public var monitorEvents: SocketMonitor.Events? { core.monitor?.events }

    /// The socket's monitor, when it was made with `monitor: true` (for more observers).
    public var monitor: SocketMonitor? { core.monitor }

    // MARK: control

    /// Runs `body` with the libzmq socket on its own thread (subscribe, connect, options...).
    public func perform<T: Sendable>(_ body: @escaping @Sendable (RawSocket) throws -> T) async throws -> T {
        try await core.perform(body)
    }

    /// Runs `body` on the socket's thread without waiting for it, before the thread writes anything
    /// queued after this call (so it orders with sends). False when the socket is closing.
    @discardableResult
    public func schedule(_ body: @escaping @Sendable (RawSocket) -> Void) -> Bool {
        core.schedule(body)
    }

    public func subscribe(_ topic: String) async throws {
        try await perform { try $0.set(.subscribe(topic)) }
    }

    public func connect(_ endpoint: String) async throws {
        try await perform { try $0.connect(endpoint) }
    }

    public func disconnect(_ endpoint: String) async throws {
        try await perform { try $0.disconnect(endpoint) }
    }

    public var counters: SocketCounters.Snapshot { core.snapshot() }

    /// Sends what is queued, closes the socket (with its linger) and ends `batches`.
    public func close() async {
        await core.close()
    }
}

/// Async sequence of received batches.
public struct BatchSequence: AsyncSequence, Sendable {
    public typealias Element = ReceivedBatch
    let channel: BatchChannel<ReceivedBatch>

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BatchChannel<ReceivedBatch>
        public mutating func next() async -> ReceivedBatch? { await channel.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }
}

/// Async sequence of received messages.
public struct MessageSequence: AsyncSequence, Sendable {
    public typealias Element = ReceivedMessage
    let channel: BatchChannel<ReceivedBatch>

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BatchChannel<ReceivedBatch>
        var current: ReceivedBatch?
        var index = 0

        public mutating func next() async -> ReceivedMessage? {
            while true {
                if let batch = current, index < batch.count {
                    defer { index += 1 }
                    return batch[index]
                }
                guard let batch = await channel.next() else { return nil }
                current = batch
                index = 0
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }
}
