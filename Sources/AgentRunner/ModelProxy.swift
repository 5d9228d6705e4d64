import Bus
import Foundation
import Glibc
import Synchronization

/// The strict tier's only way out: an HTTP CONNECT proxy on a unix socket in the session's folder
/// (which bubblewrap binds into the agent's namespace; the exec helper relays 127.0.0.1:3128 there,
/// so `HTTPS_PROXY` works for any program). A tunnel opens only to an allow-listed host; anything
/// else is answered 403 and reported. Nothing but CONNECT is spoken: the model APIs are https.
final class ModelProxy: Sendable {
    /// The port agents see inside their namespace.
    static let agentPort = 3128
    let path: String
    let allowed: Set<String>
    private let listener: Int32
    private let refused: @Sendable (String) -> Void
    /// Tunnels open now: each is a thread; past `maxTunnels` a connection is answered 503.
    private let open = Mutex(0)
    static let maxTunnels = 32

    /// Listens at `path`; `refused` hears each host that was turned away.
    init(path: String, allowed: Set<String>, owner: AgentUser?, refused: @escaping @Sendable (String) -> Void) throws {
        self.path = path
        self.allowed = allowed
        self.refused = refused
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard fd >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            if fd >= 0 { Glibc.close(fd) }
            throw BusError.unavailable("the model proxy's socket path is too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (index, byte) in bytes.enumerated() { raw[index] = byte } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard bound, listen(fd, 64) == 0 else {
            Glibc.close(fd)
            throw BusError.unavailable("the model proxy cannot listen at \(path): \(String(cString: strerror(errno)))")
        }
        if let owner { chown(path, owner.uid, owner.gid) }
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "agor.runner.proxy"
        thread.start()
    }

    /// Stops listening (tunnels already open end with the agent).
    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        unlink(path)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                Glibc.close(listener)
                return
            }
            let admitted = open.withLock { count -> Bool in
                guard count < ModelProxy.maxTunnels else { return false }
                count += 1
                return true
            }
            guard admitted else {
                ModelProxy.send(client, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                Glibc.close(client)
                continue
            }
            Thread { [self] in
                serve(client)
                open.withLock { $0 -= 1 }
            }.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { Glibc.close(client) }
        guard let head = ModelProxy.readHead(client) else { return }
        let words = head.split(separator: "\r\n").first?.split(separator: " ") ?? []
        guard words.count >= 2, words[0] == "CONNECT" else {
            ModelProxy.send(client, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        }
        let target = String(words[1])
        guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]), (1...65535).contains(port) else {
            ModelProxy.send(client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        }
        let host = String(target[..<colon]).lowercased()
        guard allowed.contains(host) else {
            refused(target)
            ModelProxy.send(client, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        }
        guard let upstream = try? HTTPLineStream.open(host: host, port: port) else {
            ModelProxy.send(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        }
        defer { Glibc.close(upstream) }
        ModelProxy.send(client, "HTTP/1.1 200 Connection established\r\n\r\n")
        ModelProxy.relay(client, upstream)
    }

    /// The request head, up to its blank line (at most 8 KiB), read a byte at a time so that
    /// nothing of the tunnel's own bytes is consumed.
    static func readHead(_ fd: Int32) -> String? {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while head.count < 8192 {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return nil }
            head.append(byte)
            if head.count >= 4 && head.suffix(4) == [13, 10, 13, 10] { return String(decoding: head, as: UTF8.self) }
        }
        return nil
    }

    static func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Copies both ways until both directions end.
    static func relay(_ a: Int32, _ b: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var open = (a: true, b: true)
        while open.a || open.b {
            var fds = [pollfd(fd: a, events: open.a ? Int16(POLLIN) : 0, revents: 0), pollfd(fd: b, events: open.b ? Int16(POLLIN) : 0, revents: 0)]
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; return }
            for k in 0..<2 where fds[k].revents != 0 {
                let from = k == 0 ? a : b, to = k == 0 ? b : a
                let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
                if n <= 0 {
                    shutdown(to, Int32(SHUT_WR))
                    if k == 0 { open.a = false } else { open.b = false }
                    continue
                }
                var offset = 0
                while offset < n {
                    let w = buffer.withUnsafeBytes { Glibc.send(to, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL)) }
                    if w < 0 && errno == EINTR { continue }
                    if w <= 0 { return }
                    offset += w
                }
            }
        }
    }

    /// The hosts each provider's agents need by default (`runner.sandbox.proxy_hosts` replaces them).
    static func defaultHosts(provider: String) -> [String] {
        switch provider {
        case "claude": ["api.anthropic.com"]
        case "codex": ["api.openai.com", "chatgpt.com"]
        default: []
        }
    }
}
