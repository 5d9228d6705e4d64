import CLibZMQ

/// zmq_poll over raw sockets and file descriptors, for code that owns its sockets on one thread
/// (as each `Socket`'s own thread does). Not thread-safe.
public struct Poller {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
        public static let error = Events(rawValue: Int16(ZMQ_POLLERR))
    }

    private var items: [zmq_pollitem_t] = []
    /// Keeps the polled sockets alive while registered.
    private var sockets: [RawSocket?] = []

    public init() {}

    /// Registers a socket; returns its index in `poll`'s result.
    @discardableResult
    public mutating func add(_ socket: RawSocket, _ events: Events) -> Int {
        var item = zmq_pollitem_t()
        item.socket = socket.handle
        item.events = events.rawValue
        items.append(item)
        sockets.append(socket)
        return items.count - 1
    }

    /// Registers a plain file descriptor (an eventfd, a pipe, a tcp socket of another library).
    @discardableResult
    public mutating func add(fd: Int32, _ events: Events) -> Int {
        var item = zmq_pollitem_t()
        item.fd = fd
        item.events = events.rawValue
        items.append(item)
        sockets.append(nil)
        return items.count - 1
    }

    /// Waits until an item is ready or `timeoutMs` passes (-1: no limit). Returns the ready events
    /// per registered item, in registration order. EINTR is retried.
    public mutating func poll(timeoutMs: Int) throws(ZMQError) -> [Events] {
        for index in items.indices { items[index].revents = 0 }
        let count = items.count
        try zmqCall { zmq_poll(&items, Int32(count), timeoutMs) }
        return items.map { Events(rawValue: $0.revents) }
    }
}

@available(*, unavailable)
extension Poller: Sendable {}
