import AgentRunner
import AgorKit
import btmsg
import bttask
import Bus
import Diagnostics
import Gateway

/// How each service of `ServiceCatalog` runs: `agor serve NAME` in this process until
/// SIGTERM/SIGINT. Here, in the executable, so that no library below it links every service.
enum ServiceLauncher {
    static func serve(_ name: String, home: Home) async throws {
        switch name {
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
            throw ConfigError(file: home.configFile.path,
                              reason: "unknown service \(name); this build runs: \(ServiceCatalog.names.joined(separator: ", "))")
        }
    }
}
