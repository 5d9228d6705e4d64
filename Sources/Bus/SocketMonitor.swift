import CLibZMQ
import Foundation
import Synchronization

/// A socket's connection history as libzmq reports it (zmq_socket_monitor), for Diagnostics and for
/// subscribers that must refill after a reconnect.
public final class SocketMonitor: Sendable {
    public enum Kind: String, Sendable, Codable {
        case connected, connectDelayed, connectRetried, listening, bindFailed, accepted, acceptFailed
        case closed, closeFailed, disconnected, monitorStopped
        case handshakeFailedNoDetail, handshakeSucceeded, handshakeFailedProtocol, handshakeFailedAuth
        case unknown
    }

    public struct Event: Sendable, Equatable {
        public var kind: Kind
        /// errno, fd or interval, depending on the kind (libzmq's event value).
        public var value: UInt32
        public var endpoint: String
        public var time: Date
    }

    /// The monitor's events, newest kept when the reader falls behind. One consumer.
    public typealias Events = AsyncStream<Event>

    private static let counter = Atomic<Int>(0)
    let pair: Socket
    public let events: Events
    private let drain: Task<Void, Never>

    /// Must be called before the watched socket is handed to its thread.
    init(context: Context, watching raw: RawSocket) throws {
        let n = SocketMonitor.counter.add(1, ordering: .relaxed).newValue
        let endpoint = "inproc://agor.monitor.\(getpid()).\(n)"
        try zmqCall { zmq_socket_monitor(raw.handle, endpoint, ZMQ_EVENT_ALL) }
        let pair = try Socket(context: context, type: .pair, .init(options: [.linger(0)], connect: [endpoint]))
        self.pair = pair
        // libzmq sends monitor events blocking from its I/O thread: always read them, so a slow or
        // absent consumer can never stall the context.
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        self.events = events
        drain = Task { [messages = pair.messages] in
            for await message in messages {
                if let event = SocketMonitor.parse(message) { continuation.yield(event) }
            }
            continuation.finish()
        }
    }

    func stop() {
        Task { [pair] in await pair.close() }
    }

    static func parse(_ message: ReceivedMessage) -> Event? {
        guard message.frameCount >= 2, message.frameSize(0) == 6 else { return nil }
        let (code, value): (UInt16, UInt32) = message.withFrame(0) { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt16.self), raw.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        let endpoint = String(decoding: message.frame(1), as: UTF8.self)
        return Event(kind: kind(of: Int32(code)), value: value, endpoint: endpoint, time: Date())
    }

    static func kind(of code: Int32) -> Kind {
        switch code {
        case ZMQ_EVENT_CONNECTED: .connected
        case ZMQ_EVENT_CONNECT_DELAYED: .connectDelayed
        case ZMQ_EVENT_CONNECT_RETRIED: .connectRetried
        case ZMQ_EVENT_LISTENING: .listening
        case ZMQ_EVENT_BIND_FAILED: .bindFailed
        case ZMQ_EVENT_ACCEPTED: .accepted
        case ZMQ_EVENT_ACCEPT_FAILED: .acceptFailed
        case ZMQ_EVENT_CLOSED: .closed
        case ZMQ_EVENT_CLOSE_FAILED: .closeFailed
        case ZMQ_EVENT_DISCONNECTED: .disconnected
        case ZMQ_EVENT_MONITOR_STOPPED: .monitorStopped
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: .handshakeFailedNoDetail
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: .handshakeSucceeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: .handshakeFailedProtocol
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: .handshakeFailedAuth
        default: .unknown
        }
    }
}
