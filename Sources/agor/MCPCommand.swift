import AgorCLI
import AgorMCP
import ArgumentParser
import Bus
import Foundation
import Logging

/// `agor mcp`: the agents' own door. An MCP server over stdin/stdout acting as one agent: the owner
/// of `--key` (else `$AGOR_KEY`). Every tool call is checked by btmsg and bttask as that agent.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Serve agor's tools to an agent over MCP (stdio), as the agent whose key is given.")

    @Option(help: "The agor home (default: $AGOR_HOME, else $HOME/.local/share/agor).") var home: String?
    @Option(help: "The agent's secret key file (default: $AGOR_KEY).") var key: String?

    func run() async throws {
        try await guarded(program: "agor mcp") {
            let home = Home.resolve(home)
            guard home.isInitialized else { throw Failure(.badInput, "no agor home at \(home.root.path) (set AGOR_HOME or run `agor init`)") }
            guard let path = key ?? ProcessInfo.processInfo.environment["AGOR_KEY"], !path.isEmpty else {
                throw Failure(.badInput, "name the agent's key: --key FILE or AGOR_KEY (agor mcp acts as exactly one agent)")
            }
            // stdout carries the protocol: logs go to stderr.
            var logger = Logger(label: "agor.mcp") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = .warning
            try await AgentMCPServer.run(home: home, keyFile: URL(fileURLWithPath: path), logger: logger)
        }
    }
}
