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
        /// The other side's address (ip:port) when known: accepted connections are looked up with
        /// getpeername on their descriptor, connected ones are their endpoint.
        public var peer: String = ""
        public var time: Date
    }

    /// The monitor's events, newest kept when the reader falls behind. One consumer.
    public typealias Events = AsyncStream<Event>

    private static let counter = Atomic<Int>(0)
    let pair: Socket
    public let events: Events
    private let drain: Task<Void, Never>
    private let observers = Locked<[@Sendable (Event) -> Void]>([])

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
        let observers = self.observers
        drain = Task { [messages = pair.messages] in
            var peers: [UInt32: String] = [:]
            var bound: Set<String> = []
            for await message in messages {
                guard var event = SocketMonitor.parse(message) else { continue }
                if event.kind == .listening || event.kind == .accepted { bound.insert(event.endpoint) }
                SocketMonitor.resolvePeer(&event, peers: &peers, bound: bound)
                continuation.yield(event)
                for observer in observers.withLock({ $0 }) { observer(event) }
            }
            continuation.finish()
        }
    }

    /// Calls `observer` with every event from now on (on the monitor's task; keep it short).
    /// Any number of observers; the `events` stream is unaffected.
    public func observe(_ observer: @escaping @Sendable (Event) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Fills `peer`: for accepted connections libzmq gives the descriptor, which getpeername turns
    /// into an address remembered until the descriptor closes; connect-side events name the peer.
    /// `bound`: endpoints this socket listens on; their handshake events cannot name one peer.
    static func resolvePeer(_ event: inout Event, peers: inout [UInt32: String], bound: Set<String> = []) {
        switch event.kind {
        case .accepted:
            let peer = peerAddress(fd: Int32(bitPattern: event.value))
            peers[event.value] = peer
            event.peer = peer
        case .disconnected, .closed, .handshakeSucceeded, .handshakeFailedAuth, .handshakeFailedProtocol, .handshakeFailedNoDetail:
            if let peer = peers[event.value] {
                event.peer = peer
                if event.kind == .disconnected || event.kind == .closed { peers[event.value] = nil }
            } else if !bound.contains(event.endpoint) {
                event.peer = connectedPeer(event.endpoint)
            }
        case .connected, .connectDelayed, .connectRetried:
            event.peer = connectedPeer(event.endpoint)
        default:
            break
        }
    }

    /// A connect endpoint names its peer ("tcp://127.0.0.1:9761" -> "127.0.0.1:9761").
    private static func connectedPeer(_ endpoint: String) -> String {
        endpoint.hasPrefix("tcp://") ? String(endpoint.dropFirst(6)) : ""
    }

    static func peerAddress(fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return "" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let ok = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard ok == 0 else { return "" }
        let hostText = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let serviceText = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return hostText.contains(":") ? "[\(hostText)]:\(serviceText)" : "\(hostText):\(serviceText)"
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

extension SocketMonitor.Event {
    /// The event as a step in a link's history (heartbeats, the collector), or nil for the ones
    /// that are not: a connection attempt merely delayed, a socket starting to listen, the monitor
    /// stopping.
    public func linkEvent(socket: String, outbound: Bool) -> Agor_Bus_V1_LinkEvent? {
        guard kind != .connectDelayed, kind != .monitorStopped, kind != .listening else { return nil }
        var link = Agor_Bus_V1_LinkEvent()
        link.socket = socket
        link.kind = kind.rawValue
        link.endpoint = endpoint
        link.peer = peer
        link.outbound = outbound
        link.timeUs = Int64(time.timeIntervalSince1970 * 1_000_000)
        return link
    }
}
