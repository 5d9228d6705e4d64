import Bus
import btmsg
import bttask

/// The services this build of agor can run, in start order. `agor init` writes an endpoint pair
/// for each; `agor up` starts each as `agor serve NAME`. Later parts (btmsg, bttask, AgentRunner,
/// Diagnostics, Gateway) join this list as they are built.
public enum ServiceCatalog {
    public static let names = ["echo", "btmsg", "bttask"]

    /// Runs the named service in this process until SIGTERM/SIGINT.
    public static func serve(_ name: String, home: Home) async throws {
        switch name {
        case "echo":
            try await EchoService.run(home: home)
        case "btmsg":
            try await BtmsgService.run(home: home)
        case "bttask":
            try await BttaskService.run(home: home)
        default:
            throw ConfigError(file: home.configFile.path, reason: "unknown service \(name); this build runs: \(names.joined(separator: ", "))")
        }
    }
}
