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
    static let runners: [String: @Sendable (Home) async throws -> Void] = [
        "btmsg": BtmsgService.run(home:),
        "bttask": BttaskService.run(home:),
        "diagnostics": DiagnosticsService.run(home:),
        "gateway": GatewayService.run(home:),
        "runner": RunnerService.run(home:),
    ]

    static func serve(_ name: String, home: Home) async throws {
        guard let run = runners[name] else {
            throw HomeError.config(file: home.configFile.path,
                              reason: "unknown service \(name); this build runs: \(ServiceCatalog.names.joined(separator: ", "))")
        }
        try await run(home)
    }
}
