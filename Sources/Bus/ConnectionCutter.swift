import Foundation
import Glibc

/// Ends the connections a listening endpoint of this process has accepted, by `shutdown(2)` on
/// their descriptors, found in /proc/self/fd by their local address.
///
/// Why this way: libzmq 4.3.4 has no call to drop one peer of a PUB/XPUB socket, and the message
/// property that names a subscription's descriptor (ZMQ_SRCFD) is deprecated and, measured here,
/// unset on XPUB subscriptions that arrive after a reconnect. A shutdown is immediate and exact:
/// once it returns, nothing more written to that TCP connection reaches the peer (libzmq's next
/// write fails, its engine ends the session and closes the descriptor it owns). libzmq's peers
/// reconnect by themselves and pass the CURVE handshake, ZAP and the subscription gate again.
enum ConnectionCutter {
    /// What a bound endpoint listens on, to recognise its accepted connections.
    enum Listener: Equatable {
        /// Port and address (nil: every address, `*`, 0.0.0.0 or ::).
        case tcp(port: UInt16, address: [UInt8]?)
        case ipc(path: String)

        init?(endpoint: String) {
            if endpoint.hasPrefix("ipc://") {
                self = .ipc(path: String(endpoint.dropFirst(6)))
                return
            }
            guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"),
                  let port = UInt16(endpoint[endpoint.index(after: colon)...]) else { return nil }
            var host = String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if host == "*" || host == "0.0.0.0" || host == "::" {
                self = .tcp(port: port, address: nil)
            } else if let v4 = Listener.parse(host, family: AF_INET, size: 4) {
                self = .tcp(port: port, address: v4)
            } else if let v6 = Listener.parse(host, family: AF_INET6, size: 16) {
                self = .tcp(port: port, address: v6)
            } else {
                self = .tcp(port: port, address: nil)  // a name: match the port alone
            }
        }

        private static func parse(_ host: String, family: Int32, size: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: size)
            return inet_pton(family, host, &bytes) == 1 ? bytes : nil
        }

        /// Whether a connected socket whose local address is `local` was accepted here.
        func accepted(local: sockaddr_storage) -> Bool {
            var local = local
            switch self {
            case .tcp(let port, let address):
                return withUnsafeBytes(of: &local) { raw -> Bool in
                    let family = Int32(raw.load(as: sa_family_t.self))
                    if family == AF_INET {
                        let sin = raw.load(as: sockaddr_in.self)
                        guard UInt16(bigEndian: sin.sin_port) == port else { return false }
                        guard let address else { return true }
                        return withUnsafeBytes(of: sin.sin_addr) { Array($0) } == address
                    }
                    if family == AF_INET6 {
                        let sin6 = raw.load(as: sockaddr_in6.self)
                        guard UInt16(bigEndian: sin6.sin6_port) == port else { return false }
                        guard let address else { return true }
                        let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
                        // An IPv4 listener's peers may show as v4-mapped addresses on a dual stack.
                        return bytes == address || (address.count == 4 && bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + address)
                    }
                    return false
                }
            case .ipc(let path):
                return withUnsafeBytes(of: &local) { raw -> Bool in
                    guard Int32(raw.load(as: sa_family_t.self)) == AF_UNIX else { return false }
                    let offset = MemoryLayout<sa_family_t>.size
                    let name = raw[offset...].prefix { $0 != 0 }
                    return String(decoding: name, as: UTF8.self) == path
                }
            }
        }
    }

    /// Shuts down every connection accepted on `endpoints` (never the listeners themselves) and
    /// returns how many. Runs in microseconds per open descriptor of the process.
    static func cutAccepted(on endpoints: [String]) -> Int {
        let listeners = endpoints.compactMap(Listener.init(endpoint:))
        guard !listeners.isEmpty, let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        let ownFD = dirfd(dir)
        var cut = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd != ownFD, isSocket(fd) else { continue }
            var local = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0, listeners.contains(where: { $0.accepted(local: local) }) else { continue }
            // A listener has no peer; an accepted connection has one.
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let connected = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peerLength) }
            }
            guard connected == 0 else { continue }
            if shutdown(fd, Int32(SHUT_RDWR)) == 0 { cut += 1 }
        }
        return cut
    }

    private static func isSocket(_ fd: Int32) -> Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }
}
