import Bus
import Foundation
import Logging
import MCP

/// The MCP stdio transport of `agor mcp`, in place of the SDK's (which keeps an unbounded buffer
/// and hands every request to its own task, so answers can overtake each other).
///
/// - Bounded: input is split on the byte 0x0A with `LineSplitter`; a line over `lineLimit` is
///   dropped as it arrives and answered with a JSON-RPC parse error. At most `maxQueued` requests
///   wait; past that the reader stops reading stdin (the client's pipe fills and it waits).
/// - In order: a request goes to the server only after the previous request was answered, so
///   tools run and answer in the order they were asked. Notifications (a cancellation, say) and
///   replies to the server's own requests pass at once.
public actor OrderedStdioTransport: Transport {
    public nonisolated let logger: Logger
    public static let defaultLineLimit = 4 << 20
    public static let maxQueued = 64

    private let input: FileHandle
    private let output: FileHandle
    private let lineLimit: Int
    private var deliver: AsyncThrowingStream<Data, Swift.Error>.Continuation?
    private let messages: AsyncThrowingStream<Data, Swift.Error>
    /// The request the server is working on (its JSON-RPC id, as JSON text), if any.
    private var inFlight: String?
    private var waiting: [(id: String, data: Data)] = []
    private var reading = false
    /// Free places for requests; the reader thread takes one per request before passing it on.
    private let places = DispatchSemaphore(value: OrderedStdioTransport.maxQueued)

    public init(input: FileHandle = .standardInput, output: FileHandle = .standardOutput,
                lineLimit: Int = OrderedStdioTransport.defaultLineLimit, logger: Logger = Logger(label: "agor.mcp")) {
        self.input = input
        self.output = output
        self.lineLimit = lineLimit
        self.logger = logger
        let (stream, continuation) = AsyncThrowingStream<Data, Swift.Error>.makeStream()
        messages = stream
        deliver = continuation
    }

    public func connect() async throws {
        guard !reading else { return }
        reading = true
        let (lines, sink) = AsyncStream<LineSplitter.Piece>.makeStream()
        let fd = input.fileDescriptor, limit = lineLimit, places = self.places
        // A thread of its own: read(2) on stdin blocks, and must not hold a cooperative thread.
        let reader = Thread {
            var splitter = LineSplitter(limit: limit)
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                buffer.withUnsafeBytes { bytes in
                    splitter.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<n])) { piece in
                        if case .line(let line) = piece, OrderedStdioTransport.isRequest(line) { places.wait() }
                        sink.yield(piece)
                    }
                }
            }
            if let last = splitter.finish() { sink.yield(last) }
            sink.finish()
        }
        reader.name = "mcp-stdin"
        reader.start()
        Task { await self.consume(lines) }
    }

    public func disconnect() async {
        deliver?.finish()
        deliver = nil
    }

    public func receive() -> AsyncThrowingStream<Data, Swift.Error> { messages }

    public func send(_ data: Data) async throws {
        write(data)
        // The answer to the request in flight lets the next one in.
        if let inFlight, let id = Self.answeredId(data), id == inFlight {
            self.inFlight = nil
            places.signal()
            passNext()
        }
    }

    // MARK: input

    private func consume(_ lines: AsyncStream<LineSplitter.Piece>) async {
        for await piece in lines {
            switch piece {
            case .tooLong(let length):
                logger.warning("dropped an input line over the limit", metadata: ["mcp.bytes": "\(length)"])
                write(Self.errorLine(code: -32700, "a message of \(length) bytes is over the limit of \(lineLimit) bytes"))
            case .line(let line):
                guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) else { continue }
                let data = Data(line)
                if let id = Self.requestId(line) {
                    waiting.append((id, data))
                    passNext()
                } else {
                    deliver?.yield(data)
                }
            }
        }
        // stdin closed: the client is gone; answer what was asked, then end.
        while inFlight != nil || !waiting.isEmpty {
            try? await Task.sleep(for: .milliseconds(10))
        }
        deliver?.finish()
        deliver = nil
    }

    private func passNext() {
        guard inFlight == nil, !waiting.isEmpty else { return }
        let next = waiting.removeFirst()
        inFlight = next.id
        deliver?.yield(next.data)
    }

    private func write(_ data: Data) {
        var line = data
        if line.last != 0x0A { line.append(0x0A) }
        try? output.write(contentsOf: line)
    }

    // MARK: JSON-RPC framing (only what ordering needs: is it a request, and which id)

    private struct Head: Decodable {
        let id: IdValue?
        let method: String?
        let result: IgnoredValue?
        let error: IgnoredValue?
    }

    /// A JSON-RPC id (a string or a number), kept as its JSON text so both spellings compare.
    private struct IdValue: Decodable {
        let text: String
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = "\"\(string)\""
            } else if let number = try? container.decode(Int64.self) {
                text = String(number)
            } else {
                text = "null"
            }
        }
    }

    private struct IgnoredValue: Decodable {
        init(from decoder: Decoder) throws {}
    }

    private static func head(_ bytes: some DataProtocol) -> Head? {
        try? JSONDecoder().decode(Head.self, from: Data(bytes))
    }

    static func isRequest(_ line: [UInt8]) -> Bool { requestId(line) != nil }

    /// The id of a request (a method and an id); nil for notifications, replies and non-JSON.
    static func requestId(_ line: [UInt8]) -> String? {
        guard let head = head(line), head.method != nil, let id = head.id else { return nil }
        return id.text
    }

    /// The id a reply answers; nil for anything else.
    static func answeredId(_ data: Data) -> String? {
        guard let head = head(data), head.method == nil, head.result != nil || head.error != nil else { return nil }
        return head.id?.text
    }

    static func errorLine(code: Int, _ message: String) -> Data {
        let body: [String: Any] = ["jsonrpc": "2.0", "id": NSNull(), "error": ["code": code, "message": message]]
        return (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
    }
}
