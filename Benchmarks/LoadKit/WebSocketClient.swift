// The WebSocket client of the load tools (gateway-bench, agor-chaos): SwiftNIO, no per-frame task.
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// What a load client does with the frames of one WebSocket connection: the agor stream and the
/// NATS protocol read them differently. Called on the connection's event loop only.
public protocol FrameReader: AnyObject {
    /// Reads one text or binary frame's payload; `reply` sends a (masked) frame back.
    func read(_ payload: inout ByteBuffer, reply: (ByteBuffer) -> Void)
    /// The connection closed, by the server (with its close code) or by the network.
    func closed(code: Int?)
}

/// One WebSocket connection's frame loop, kept on its event loop with no per-frame task or
/// allocation of its own, so the generator spends its CPU on counting rather than on scheduling.
public final class FrameHandler: ChannelInboundHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame

    private let reader: FrameReader
    private var closeCode: Int?

    public init(reader: FrameReader) { self.reader = reader }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            var payload = frame.unmaskedData
            reader.read(&payload) { bytes in
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: bytes)), promise: nil)
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            closeCode = data.readInteger(as: UInt16.self).map(Int.init) ?? 1005
            context.close(promise: nil)
        default:
            break
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        reader.closed(code: closeCode)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

public enum WebSocketClient {
    public enum ConnectError: Error, CustomStringConvertible {
        case notUpgraded(String)
        public var description: String {
            switch self { case .notUpgraded(let uri): "the server did not upgrade \(uri) to a WebSocket" }
        }
    }

    /// Opens a WebSocket to `host`:`port``uri` and hands its frames to `reader`; returns the
    /// channel once the upgrade is done.
    public static func connect(group: EventLoopGroup, host: String = "127.0.0.1", port: Int, uri: String, headers extra: [(String, String)],
                        reader: @escaping @Sendable () -> FrameReader) async throws -> Channel {
        let upgraded: EventLoopFuture<Channel?> = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Channel?>(maxFrameSize: 1 << 24) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(FrameHandler(reader: reader()))
                            return channel
                        }
                    }
                    var headers = HTTPHeaders([("Host", "\(host):\(port)"), ("Content-Length", "0")])
                    for (name, value) in extra { headers.add(name: name, value: value) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
                    let upgrade = NIOTypedHTTPClientUpgradeConfiguration<Channel?>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(nil) })
                    // The server's first frame may arrive in the same read as its 101 answer: keep it.
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgrade)
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                }
            }
        guard let channel = try await upgraded.get() else { throw ConnectError.notUpgraded(uri) }
        return channel
    }

    /// Sends one masked binary frame (clients must mask what they send).
    public static func send(_ bytes: ByteBuffer, on channel: Channel) {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: bytes), promise: nil)
    }
}
