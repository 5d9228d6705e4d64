import Bus
import Foundation
import Glibc

/// One HTTP/1.1 POST over plain TCP whose response body is a stream of lines (Ollama's
/// `application/x-ndjson`): the body is de-chunked as it arrives and split on 0x0A with the same
/// bounds as an agent's output. Small on purpose: http only (a model server on loopback or the
/// LAN), one request per connection, no redirects.
struct HTTPLineStream {
    /// The response: its status, and for a status other than 200 the first 64 KiB of its body.
    struct Answer {
        var status: Int
        var body: [UInt8]
    }

    let host: String
    let port: Int

    /// `http://HOST[:PORT]` (default port 11434, Ollama's).
    init(url: String) throws {
        guard url.hasPrefix("http://") else { throw RunnerError(.http, "\(url.prefix(80)) is not an http:// address (https is not supported here)") }
        var rest = url.dropFirst("http://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var hostPart = String(rest), portNumber = 11434
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let parsed = Int(rest[rest.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw RunnerError(.http, "bad port in \(url.prefix(80))")
            }
            portNumber = parsed
            hostPart = String(rest[..<colon])
        }
        if hostPart.hasPrefix("[") && hostPart.hasSuffix("]") { hostPart = String(hostPart.dropFirst().dropLast()) }
        guard !hostPart.isEmpty else { throw RunnerError(.http, "no host in \(url.prefix(80))") }
        host = hostPart
        port = portNumber
    }

    /// POSTs `body` as JSON to `path`; each line of a 200 response goes to `onLine` as it arrives.
    func post(_ path: String, body: [UInt8], lineLimit: Int = 10 << 20, onLine: ([UInt8]) -> Void) throws -> Answer {
        let fd = try connect()
        defer { close(fd) }
        let head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\nAccept: application/x-ndjson\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        try send(fd, Array(head.utf8) + body)

        var reader = Reader(fd: fd)
        let statusLine = try reader.line()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw RunnerError(.http, "not an HTTP response: \(statusLine.prefix(80))")
        }
        var chunked = false, length: Int?
        while true {
            let header = try reader.line()
            if header.isEmpty { break }
            guard let colon = header.firstIndex(of: ":") else { continue }
            let name = header[..<colon].lowercased(), value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "transfer-encoding" && value.lowercased().contains("chunked") { chunked = true }
            if name == "content-length" { length = Int(value) }
        }
        var splitter = LineSplitter(limit: lineLimit)
        var kept: [UInt8] = []
        func deliver(_ bytes: [UInt8]) {
            if status == 200 {
                bytes.withUnsafeBytes { raw in
                    splitter.feed(raw) { piece in if case .line(let line) = piece, !line.isEmpty { onLine(line) } }
                }
            } else if kept.count < 65_536 {
                kept += bytes.prefix(65_536 - kept.count)
            }
        }
        if chunked {
            while true {
                let sizeLine = try reader.line()
                guard let size = Int(sizeLine.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? "", radix: 16), size >= 0 else {
                    throw RunnerError(.http, "bad chunk size \(sizeLine.prefix(40))")
                }
                if size == 0 { break }
                var remaining = size
                while remaining > 0 {
                    let piece = try reader.bytes(upTo: remaining)
                    remaining -= piece.count
                    deliver(piece)
                }
                _ = try reader.line()
            }
        } else {
            var remaining = length ?? Int.max
            while remaining > 0, let piece = try reader.bytesOrEnd(upTo: min(remaining, 65_536)) {
                remaining -= piece.count
                deliver(piece)
            }
        }
        if status == 200, let last = splitter.finish(), case .line(let line) = last, !line.isEmpty { onLine(line) }
        return Answer(status: status, body: kept)
    }

    /// A connection to the server, through `HTTP_PROXY` (a CONNECT tunnel) when the environment
    /// names one: in the runner's strict tier that is the only way out.
    private func connect() throws -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        guard let proxyURL = environment["HTTP_PROXY"] ?? environment["http_proxy"], !proxyURL.isEmpty else {
            return try HTTPLineStream.open(host: host, port: port)
        }
        let proxy = try HTTPLineStream(url: proxyURL)
        let fd = try HTTPLineStream.open(host: proxy.host, port: proxy.port)
        do {
            try send(fd, Array("CONNECT \(host):\(port) HTTP/1.1\r\nHost: \(host):\(port)\r\n\r\n".utf8))
            let head = ModelProxy.readHead(fd) ?? ""
            guard head.hasPrefix("HTTP/1.1 200") || head.hasPrefix("HTTP/1.0 200") else {
                throw RunnerError(.http, "the proxy at \(proxyURL) refused a tunnel to \(host):\(port): \(head.prefix(40))")
            }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// A TCP connection to `host:port` (each address it resolves to, in turn); the model proxy's too.
    static func open(host: String, port: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, "\(port)", &hints, &list)
        guard resolved == 0, let first = list else { throw RunnerError(.http, "cannot resolve \(host): \(String(cString: gai_strerror(resolved)))") }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd >= 0 {
                if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
                lastError = errno
                close(fd)
            }
            entry = info.pointee.ai_next
        }
        throw RunnerError(.http, "cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RunnerError(.http, "sending to \(host):\(port): \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Buffered reads from the socket: header lines (bounded) and body bytes.
    private struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []
        var start = 0
        var ended = false

        init(fd: Int32) { self.fd = fd }

        mutating func fill() throws -> Bool {
            // What was read already is dropped first, so the buffer holds only what is pending.
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw RunnerError(.http, "reading the response: \(String(cString: strerror(errno)))") }
                if n == 0 { ended = true; return false }
                buffer += chunk[0..<n]
                return true
            }
        }

        /// One CRLF-ended line (at most 64 KiB), without the CRLF.
        mutating func line() throws -> String {
            while true {
                if let newline = buffer[start...].firstIndex(of: 0x0A) {
                    var end = newline
                    if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                    let text = String(decoding: buffer[start..<end], as: UTF8.self)
                    start = newline + 1
                    return text
                }
                guard buffer.count - start < 65_536 else { throw RunnerError(.http, "a header line over 64 KiB") }
                guard try fill() else { throw RunnerError(.http, "the connection ended inside the response") }
            }
        }

        mutating func bytes(upTo count: Int) throws -> [UInt8] {
            guard let piece = try bytesOrEnd(upTo: count) else { throw RunnerError(.http, "the connection ended inside a chunk") }
            return piece
        }

        mutating func bytesOrEnd(upTo count: Int) throws -> [UInt8]? {
            if start == buffer.count, !(try fill()) { return nil }
            let end = min(buffer.count, start + count)
            defer { start = end }
            return Array(buffer[start..<end])
        }
    }
}
