import Bus
import Foundation
import Glibc
import Testing
@testable import AgentRunner

/// The strict tier's model proxy with real sockets: a tunnel to an allowed host carries bytes both
/// ways; anything else is refused with a status, reported, and the proxy keeps serving.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ModelProxyTests {
    /// Connects to the proxy's unix socket, writes `request`, returns what comes back until the
    /// proxy closes or `expect` bytes arrived.
    static func exchange(_ path: String, _ request: [UInt8], expect: Int = 4096) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (index, byte) in path.utf8.enumerated() { raw[index] = byte } }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard connected else { return "no connection" }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.count < expect {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func tunnelsOnlyToAllowedHostsAndRefusesEverythingElse() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-proxy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // An upstream that answers "pong:" and echoes what it gets.
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(upstream, $0, length) == 0 && listen(upstream, 8) == 0 && getsockname(upstream, $0, &length) == 0 }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        Thread {
            let client = accept(upstream, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            let reply = Array("pong:".utf8) + buffer[0..<max(n, 0)]
            _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
            close(upstream)
        }.start()

        let refused = Locked<[String]>([])
        let proxy = try ModelProxy(path: folder.appendingPathComponent("proxy.sock").path, allowed: ["127.0.0.1"], owner: nil) { target in
            refused.withLock { $0.append(target) }
        }
        defer { proxy.close() }
        let tunnel = Self.exchange(proxy.path, Array("CONNECT 127.0.0.1:\(port) HTTP/1.1\r\nHost: x\r\n\r\nping".utf8),
                                   expect: "HTTP/1.1 200 Connection established\r\n\r\npong:ping".utf8.count)
        #expect(tunnel == "HTTP/1.1 200 Connection established\r\n\r\npong:ping")

        #expect(Self.exchange(proxy.path, Array("CONNECT example.com:443 HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 403 Forbidden"))
        #expect(refused.withLock { $0 } == ["example.com:443"])
        #expect(Self.exchange(proxy.path, Array("GET http://127.0.0.1/ HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 405"))
        #expect(Self.exchange(proxy.path, Array("CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
        #expect(Self.exchange(proxy.path, Array("CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
        // A head that never ends is cut at 8 KiB with nothing answered.
        #expect(Self.exchange(proxy.path, [UInt8](repeating: 0x41, count: 10_000)) == "")
        // An allowed host with nothing listening: 502. And the proxy still serves after all that.
        #expect(Self.exchange(proxy.path, Array("CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 502"))
        #expect(Self.exchange(proxy.path, Array("CONNECT example.org:443 HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 403"))
    }
}
