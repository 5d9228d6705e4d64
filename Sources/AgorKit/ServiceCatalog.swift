import Bus
import btmsg
import bttask
import Diagnostics
import Gateway
import AgentRunner

/// The services this build of agor can run, in start order. `agor init` writes an endpoint pair
/// for each; `agor up` starts each as `agor serve NAME`. Later parts (btmsg, bttask, AgentRunner,
/// Diagnostics, Gateway) join this list as they are built.
public enum ServiceCatalog {
    public static let names = ["echo", "btmsg", "bttask", "diagnostics", "gateway", "runner"]
    /// Services that also listen on HTTP (an extra port after their rpc and pub).
    public static let withHTTP: Set<String> = ["diagnostics", "gateway"]
    /// HTTP ports a default home (port base 9760) gives: the Gateway at the address people type.
    public static let defaultHTTPPorts = ["gateway": 9750]

    /// Runs the named service in this process until SIGTERM/SIGINT.
    public static func serve(_ name: String, home: Home) async throws {
        switch name {
        case "echo":
            try await EchoService.run(home: home)
        case "btmsg":
            try await BtmsgService.run(home: home)
        case "bttask":
            try await BttaskService.run(home: home)
        case "diagnostics":
            try await DiagnosticsService.run(home: home)
        case "gateway":
            try await GatewayService.run(home: home)
        case "runner":
            try await RunnerService.run(home: home)
        default:
            throw ConfigError(file: home.configFile.path, reason: "unknown service \(name); this build runs: \(names.joined(separator: ", "))")
        }
    }
}
