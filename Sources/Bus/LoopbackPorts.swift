import Foundation

/// Finding free tcp ports on 127.0.0.1, for tests, benchmarks and `agor init` on a busy host.
public enum LoopbackPorts {
    /// A port number such that `count` consecutive ports from it can be bound right now, chosen at
    /// random below the kernel's ephemeral range (read at run time; Linux's default starts at
    /// 32768), so that no outgoing connection can take one of them between now and the bind.
    public static func freeBase(count: Int) -> Int {
        let top = max(12_000, min(60_000, ephemeralStart() ?? 32_768)) - count
        while true {
            let base = Int.random(in: 10_000...top)
            if (0..<count).allSatisfy({ isFree(base + $0) }) { return base }
        }
    }

    /// The first port of the kernel's ephemeral range, when it can be read.
    static func ephemeralStart() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return nil }
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
    }

    /// Whether a tcp port on 127.0.0.1 can be bound now.
    public static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
