import Bus
import ConfigText
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Answers a request the HTTP parser cannot read (a NUL in a header, a garbled request line) with
/// a JSON 400 and closes the connection. Without it such a request got no answer at all until the
/// idle timeout: Hummingbird turns NIO's own parse-error handling off and only answers requests
/// it could parse. It also answers a refused WebSocket upgrade with the refusal's own status and
/// JSON body (NIO would answer a bare 400). Wraps the Gateway's HTTP + WebSocket child channel.
struct MalformedRequestGuard<Inner: ServerChildChannel>: ServerChildChannel {
    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Inner.Value> {
        // The catcher goes after the HTTP decoder and upgrade handler, where their errors arrive.
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(ParseErrorCatcher(logger: logger), position: .last)
            return value
        }
    }

    func handle(value: Inner.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Turns the HTTP parser's error into the 400 (once per connection). The answer is written as
/// raw bytes from the HTTP encoder's place in the pipeline, so it goes straight to the socket.
final class ParseErrorCatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let logger: Logger
    private var answered = false

    init(logger: Logger) { self.logger = logger }

    /// Why the Gateway declined the WebSocket upgrade in progress (set on the event loop by the
    /// upgrade decision, read when NIO reports the declined upgrade as an error).
    var upgradeRefusal: APIError?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let refusal: (status: Int, reason: String, code: String, message: String, extra: String)
        if error is HTTPParserError {
            refusal = (400, "Bad Request", "bad_request", "the request could not be parsed as HTTP/1.1 (\(error))", "")
        } else if error as? NIOWebSocketUpgradeError == .unsupportedWebSocketTarget, let declined = upgradeRefusal {
            let extra = declined.headers[.retryAfter].map { "retry-after: \($0)\r\n" } ?? ""
            refusal = (declined.status.code, declined.status.reasonPhrase, declined.code, declined.message, extra)
        } else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered, let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        logger.debug("request answered \(refusal.status)", metadata: ["error": "\(error)"])
        let body = #"{"error":{"code":"# + QuotedString.literal(refusal.code) + #","message":"# + QuotedString.literal(refusal.message) + "}}"
        let head = "HTTP/1.1 \(refusal.status) \(refusal.reason)\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n\(refusal.extra)connection: close\r\n\r\n"
        // Close once the answer is written, so it is not discarded with the connection.
        encoder.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: head + body))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
