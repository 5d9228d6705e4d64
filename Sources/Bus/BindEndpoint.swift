import Foundation

/// Debian's libzmq (4.3.4) binds `tcp://` only to an address, `*` or an interface name: a host
/// name (`tcp://btmsg:9762`, as `agor init --host-per-service` writes for containers, or a name
/// each host resolves to its own address) fails with ENODEV. A bind endpoint naming a host is
/// resolved here first, to that host's first IPv4 address (else IPv6); anything else, and a name
/// that does not resolve (an interface name), goes to libzmq unchanged.
enum BindEndpoint {
    static func resolved(_ endpoint: String) -> String {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return endpoint }
        let host = String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon])
        let port = endpoint[endpoint.index(after: colon)...]
        guard !host.isEmpty, host != "*", !host.hasPrefix("["), !isNumeric(host) else { return endpoint }
        guard let address = firstAddress(of: host) else { return endpoint }
        return address.contains(":") ? "tcp://[\(address)]:\(port)" : "tcp://\(address):\(port)"
    }

    private static func isNumeric(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    private static func firstAddress(of host: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var found: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                found.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            entry = current.pointee.ai_next
        }
        return found.first { !$0.contains(":") } ?? found.first
    }
}
