import Foundation
import Glibc

/// A service's ipc:// endpoints in the home's run/ folder (`run/NAME.rpc`, `run/NAME.pub`), bound
/// beside its tcp ones. Agents in the runner's strict tier have no network but this folder, and a
/// client started with `AGOR_TRANSPORT=ipc` reaches every service here (`BusConfig.load`). CURVE
/// and ZAP hold on ipc exactly as on tcp, so the socket files may be open to every local user.
public struct IPCEndpoints: Sendable {
    public let rpcPath: String
    public let pubPath: String
    public var rpc: String { "ipc://" + rpcPath }
    public var pub: String { "ipc://" + pubPath }

    /// nil when the paths would not fit a unix socket address (108 bytes).
    public init?(home: Home, service: String) {
        self.init(runFolder: home.runFolder.path, service: service)
    }

    init?(runFolder: String, service: String) {
        rpcPath = "\(runFolder)/\(service).rpc"
        pubPath = "\(runFolder)/\(service).pub"
        guard rpcPath.utf8.count < 100, pubPath.utf8.count < 100 else { return nil }
    }

    /// Whether the endpoints can be bound: a socket file left by a process that was killed is
    /// removed; one that still answers belongs to a running instance and is left alone.
    func claim() -> Bool {
        try? FileManager.default.createDirectory(atPath: (rpcPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        for path in [rpcPath, pubPath] where FileManager.default.fileExists(atPath: path) {
            if IPCEndpoints.answers(path) { return false }
            unlink(path)
        }
        return true
    }

    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// Connecting to a unix socket needs write permission on its file.
    func openToAgents() {
        chmod(rpcPath, 0o666)
        chmod(pubPath, 0o666)
    }
}
