import Bus
import ConfigText
import Foundation

/// The MCP configuration the runner writes for each session it starts, so a started agent has
/// agor's tools (`agor mcp`, as that agent) with no manual step: Claude gets
/// `--mcp-config FILE --strict-mcp-config`, Codex a `CODEX_HOME` of the session's own whose
/// config.toml names the server. The server runs as the session's agent: its key copy.
enum AgentMCPConfig {
    struct Launch: Equatable {
        var arguments: [String] = []
        var environment: [String: String] = [:]
    }

    /// Writes the provider's configuration into the session's folder; what to add to its launch.
    static func write(provider: String, folder: SessionFolder, home: Home, agor: String) throws -> Launch {
        let environment = ["AGOR_HOME": home.root.path, "AGOR_KEY": folder.key]
        switch provider {
        case "claude":
            let server: [String: Any] = ["command": agor, "args": ["mcp"], "env": environment]
            let data = try JSONSerialization.data(withJSONObject: ["mcpServers": ["agor": server]], options: [.sortedKeys])
            try FileManager.default.createDirectory(at: folder.root, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: folder.mcpConfig))
            return Launch(arguments: ["--mcp-config", folder.mcpConfig, "--strict-mcp-config"])
        case "codex":
            let env = environment.sorted { $0.key < $1.key }.map { "\($0.key) = \(QuotedString.literal($0.value))" }.joined(separator: "\n")
            let toml = """
                [mcp_servers.agor]
                command = \(QuotedString.literal(agor))
                args = ["mcp"]

                [mcp_servers.agor.env]
                \(env)

                """
            try FileManager.default.createDirectory(atPath: folder.codexHome, withIntermediateDirectories: true)
            try Data(toml.utf8).write(to: URL(fileURLWithPath: folder.codexHome + "/config.toml"))
            return Launch(environment: ["CODEX_HOME": folder.codexHome])
        default:
            // Ollama's tools run in the runner's own loop; NDJSON programs are any program.
            return Launch()
        }
    }

    /// The folders of the shared libraries this process loaded (the Swift runtime among them): the
    /// `agor mcp` an agent starts is this same executable and needs them inside the sandbox. Read
    /// once per process (the runtime's libraries are loaded before the first session).
    static let libraryFolders: [String] = readLibraryFolders()

    private static func readLibraryFolders() -> [String] {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
        var folders = Set<String>()
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            if path.contains(".so") { folders.insert(URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        }
        return folders.sorted()
    }
}
