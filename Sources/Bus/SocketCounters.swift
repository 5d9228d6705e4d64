import Synchronization

/// Per-socket counters, updated by the socket's thread and read by anyone (Diagnostics).
public final class SocketCounters: Sendable {
    let messagesIn = Atomic<Int>(0)
    let messagesOut = Atomic<Int>(0)
    let bytesIn = Atomic<Int>(0)
    let bytesOut = Atomic<Int>(0)
    let batchesIn = Atomic<Int>(0)
    let messagesCoalesced = Atomic<Int>(0)
    let sendErrors = Atomic<Int>(0)
    /// XPUB with a subscription gate: subscriptions it refused.
    let subscriptionsRefused = Atomic<Int>(0)
    /// Messages the thread took from the queue but libzmq did not accept yet.
    let queuedOut = Atomic<Int>(0)
    /// Bytes of those messages.
    let pendingBytes = Atomic<Int>(0)

    public struct Snapshot: Sendable, Equatable, Codable {
        public var messagesIn: Int
        public var messagesOut: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var batchesIn: Int
        /// Logical messages that travelled inside a batch frame instead of their own.
        public var messagesCoalesced: Int
        public var sendErrors: Int
        public var subscriptionsRefused: Int
        /// Messages waiting in the send queue (not yet handed to libzmq).
        public var sendQueueDepth: Int
        /// Batches received but not yet taken by the consumer.
        public var receiveQueueDepth: Int
        /// Bytes the socket's thread holds because libzmq would block (its high-water mark is reached).
        public var pendingBytes: Int
        /// The bound of agor's send queue: a full queue makes `send` wait and `tryPublish` drop.
        public var sendQueueLimit: Int
        /// The bound of the receive queue (batches): a full queue pauses reading from libzmq.
        public var receiveQueueLimit: Int
    }
}
