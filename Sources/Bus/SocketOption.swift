import CLibZMQ

/// The socket options that matter for the Bus, typed.
public enum SocketOption: Sendable, Equatable {
    /// Outgoing high-water mark in messages (0 = unlimited).
    case sendHighWaterMark(Int32)
    /// Incoming high-water mark in messages (0 = unlimited).
    case receiveHighWaterMark(Int32)
    /// How long unsent messages are kept after close, in ms (-1 = forever).
    case linger(Int32)
    /// ZMTP heartbeat: interval, timeout and remote TTL, in ms.
    case heartbeatInterval(Int32)
    case heartbeatTimeout(Int32)
    case heartbeatTTL(Int32)
    /// Reconnect interval and its exponential back-off ceiling, in ms.
    case reconnectInterval(Int32)
    case reconnectIntervalMax(Int32)
    /// Largest accepted message in bytes (-1 = no limit); bigger ones drop the connection.
    case maxMessageSize(Int64)
    /// ROUTER: fail with EHOSTUNREACH instead of silently dropping to an unknown peer.
    case routerMandatory(Bool)
    /// Queue only to completed connections.
    case immediate(Bool)
    /// Identity (routing id) this socket presents to a ROUTER peer.
    case routingId([UInt8])
    /// SUB: subscribe / unsubscribe to a topic prefix.
    case subscribe([UInt8])
    case unsubscribe([UInt8])
    /// XPUB: pass every subscription message up, not only new ones.
    case xpubVerbose(Bool)
    /// XPUB: subscriptions take effect only when the application passes them on (ZMQ_SUBSCRIBE
    /// right after reading each one): lets a publisher refuse topics per subscriber.
    case xpubManual(Bool)
    /// Handshake timeout in ms.
    case handshakeInterval(Int32)
    /// CURVE: act as server with this secret key (32 bytes).
    case curveServer(secretKey: [UInt8])
    /// CURVE: act as client with this key pair, expecting this server key.
    case curveClient(publicKey: [UInt8], secretKey: [UInt8], serverKey: [UInt8])
    /// ZAP domain; with it set, even NULL-mechanism connections are passed to ZAP.
    case zapDomain(String)

    public static func subscribe(_ topic: String) -> SocketOption { .subscribe(Array(topic.utf8)) }
}

extension RawSocket {
    /// Applies one typed option.
    public func set(_ option: SocketOption) throws(ZMQError) {
        switch option {
        case .sendHighWaterMark(let v): try setInt(ZMQ_SNDHWM, v)
        case .receiveHighWaterMark(let v): try setInt(ZMQ_RCVHWM, v)
        case .linger(let v): try setInt(ZMQ_LINGER, v)
        case .heartbeatInterval(let v): try setInt(ZMQ_HEARTBEAT_IVL, v)
        case .heartbeatTimeout(let v): try setInt(ZMQ_HEARTBEAT_TIMEOUT, v)
        case .heartbeatTTL(let v): try setInt(ZMQ_HEARTBEAT_TTL, v)
        case .reconnectInterval(let v): try setInt(ZMQ_RECONNECT_IVL, v)
        case .reconnectIntervalMax(let v): try setInt(ZMQ_RECONNECT_IVL_MAX, v)
        case .maxMessageSize(let v): try setInt64(ZMQ_MAXMSGSIZE, v)
        case .routerMandatory(let v): try setInt(ZMQ_ROUTER_MANDATORY, v ? 1 : 0)
        case .immediate(let v): try setInt(ZMQ_IMMEDIATE, v ? 1 : 0)
        case .routingId(let v): try setBytes(ZMQ_ROUTING_ID, v)
        case .subscribe(let v): try setBytes(ZMQ_SUBSCRIBE, v)
        case .unsubscribe(let v): try setBytes(ZMQ_UNSUBSCRIBE, v)
        case .xpubVerbose(let v): try setInt(ZMQ_XPUB_VERBOSE, v ? 1 : 0)
        case .xpubManual(let v): try setInt(ZMQ_XPUB_MANUAL, v ? 1 : 0)
        case .handshakeInterval(let v): try setInt(ZMQ_HANDSHAKE_IVL, v)
        case .curveServer(let secret):
            try setInt(ZMQ_CURVE_SERVER, 1)
            try setBytes(ZMQ_CURVE_SECRETKEY, secret)
        case .curveClient(let pub, let secret, let server):
            try setBytes(ZMQ_CURVE_SERVERKEY, server)
            try setBytes(ZMQ_CURVE_PUBLICKEY, pub)
            try setBytes(ZMQ_CURVE_SECRETKEY, secret)
        case .zapDomain(let domain): try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8))
        }
    }
}
