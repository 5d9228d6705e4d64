import CLibZMQ

/// A libzmq socket with synchronous calls. Not thread-safe: like every ZeroMQ socket it belongs to
/// one thread at a time. Async code uses `Socket`, which owns a `RawSocket` on its own thread.
public final class RawSocket {
    let handle: UnsafeMutableRawPointer
    public let type: SocketType
    /// Keeps the context alive while the socket is open.
    let context: Context
    private(set) var isClosed = false

    public init(context: Context, type: SocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else { throw ZMQError.current() }
        self.handle = handle
        self.type = type
        self.context = context
    }

    deinit { close(linger: 0) }

    public func close(linger: Int32 = 0) {
        guard !isClosed else { return }
        isClosed = true
        var value = linger
        zmq_setsockopt(handle, ZMQ_LINGER, &value, MemoryLayout<Int32>.size)
        zmq_close(handle)
    }

    // MARK: options

    func setInt(_ name: Int32, _ value: Int32) throws(ZMQError) {
        var v = value
        try zmqCall { zmq_setsockopt(handle, name, &v, MemoryLayout<Int32>.size) }
    }

    func setInt64(_ name: Int32, _ value: Int64) throws(ZMQError) {
        var v = value
        try zmqCall { zmq_setsockopt(handle, name, &v, MemoryLayout<Int64>.size) }
    }

    func setBytes(_ name: Int32, _ value: [UInt8]) throws(ZMQError) {
        let handle = self.handle
        let rc = value.withUnsafeBytes { raw in zmq_setsockopt(handle, name, raw.baseAddress, raw.count) }
        if rc != 0 { throw ZMQError.current() }
    }

    public func getInt(_ name: Int32) throws(ZMQError) -> Int32 {
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCall { zmq_getsockopt(handle, name, &v, &size) }
        return v
    }

    /// The endpoint of the last bind, with the real port when bound to `*`.
    public var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// ZMQ_EVENTS: whether a receive or send would succeed now.
    public var events: (readable: Bool, writable: Bool) {
        let value = (try? getInt(ZMQ_EVENTS)) ?? 0
        return (value & Int32(ZMQ_POLLIN) != 0, value & Int32(ZMQ_POLLOUT) != 0)
    }

    // MARK: endpoints

    public func bind(_ endpoint: String) throws(ZMQError) {
        let address = BindEndpoint.resolved(endpoint)
        try zmqCall { zmq_bind(handle, address) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        try zmqCall { zmq_connect(handle, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try zmqCall { zmq_disconnect(handle, endpoint) }
    }

    public func unbind(_ endpoint: String) throws(ZMQError) {
        try zmqCall { zmq_unbind(handle, endpoint) }
    }

    // MARK: sending

    /// Sends one frame. Returns false when it would block (with `dontWait`).
    @inline(__always)
    public func sendFrame(_ bytes: UnsafeRawBufferPointer, more: Bool, dontWait: Bool = true) throws(ZMQError) -> Bool {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        while true {
            if zmq_send(handle, bytes.baseAddress, bytes.count, flags) >= 0 { return true }
            let error = zmq_errno()
            if error == EINTR { continue }
            if error == EAGAIN { return false }
            throw ZMQError(code: error)
        }
    }

    @inline(__always)
    public func sendFrame(_ bytes: [UInt8], more: Bool, dontWait: Bool = true) throws(ZMQError) -> Bool {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        let handle = self.handle
        while true {
            let rc = bytes.withUnsafeBytes { raw in zmq_send(handle, raw.baseAddress, raw.count, flags) }
            if rc >= 0 { return true }
            let error = zmq_errno()
            if error == EINTR { continue }
            if error == EAGAIN { return false }
            throw ZMQError(code: error)
        }
    }

    /// Sends a whole multipart message. Once the first frame is accepted the rest is sent blocking,
    /// as libzmq queues multipart messages atomically.
    public func send(_ message: OutgoingMessage, dontWait: Bool = true) throws(ZMQError) -> Bool {
        switch message.storage {
        case .single(let frame):
            return try sendFrame(frame, more: false, dontWait: dontWait)
        case .multi(let frames):
            guard let first = frames.first else { return true }
            guard try sendFrame(first, more: frames.count > 1, dontWait: dontWait) else { return false }
            var index = 1
            while index < frames.count {
                _ = try sendFrame(frames[index], more: index < frames.count - 1, dontWait: false)
                index += 1
            }
            return true
        }
    }

    // MARK: receiving

    /// Receives one whole message, or nil when none is waiting (with `dontWait`).
    public func receive(dontWait: Bool = true) throws(ZMQError) -> ReceivedMessage? {
        var builder = BatchBuilder(readUserId: true)
        guard try builder.receiveOne(from: self, dontWait: dontWait) else { return nil }
        return builder.finish()?.first
    }
}

@available(*, unavailable)
extension RawSocket: Sendable {}
