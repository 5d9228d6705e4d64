import Bus
import ConfigText
import Foundation
import Testing
@testable import AgentRunner

/// The MCP configuration the runner writes per session (AgentMCPConfig), read back as the providers read it.
@Suite struct MCPConfigTests {
    func folder() -> (Home, SessionFolder) {
        let home = Home(root: FileManager.default.temporaryDirectory.appendingPathComponent("mcp-config-\(UUID().uuidString.prefix(8))"))
        return (home, SessionFolder(home: home, session: "s-1"))
    }

    @Test("Claude: a JSON file naming agor mcp with the session's key, passed with --strict-mcp-config")
    func claude() throws {
        let (home, folder) = folder()
        defer { try? FileManager.default.removeItem(at: home.root) }
        let launch = try AgentMCPConfig.write(provider: "claude", folder: folder, home: home, agor: "/opt/agor/bin/agor")
        #expect(launch.arguments == ["--mcp-config", folder.mcpConfig, "--strict-mcp-config"] && launch.environment.isEmpty)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.mcpConfig))) as? [String: Any]
        let server = (object?["mcpServers"] as? [String: Any])?["agor"] as? [String: Any]
        #expect(server?["command"] as? String == "/opt/agor/bin/agor" && server?["args"] as? [String] == ["mcp"])
        #expect(server?["env"] as? [String: String] == ["AGOR_HOME": home.root.path, "AGOR_KEY": folder.key])
    }

    @Test("Codex: a CODEX_HOME of the session's own whose config.toml has [mcp_servers.agor], quoted for TOML")
    func codex() throws {
        let (home, folder) = folder()
        defer { try? FileManager.default.removeItem(at: home.root) }
        let agor = "/opt/a \"quoted\" path/agor"
        let launch = try AgentMCPConfig.write(provider: "codex", folder: folder, home: home, agor: agor)
        #expect(launch.arguments.isEmpty && launch.environment == ["CODEX_HOME": folder.codexHome])
        let text = try String(contentsOfFile: folder.codexHome + "/config.toml", encoding: .utf8)
        let server = try TOML.parse(text)["mcp_servers"]?.table?["agor"]?.table
        #expect(server?["command"]?.string == agor && server?["args"]?.strings == ["mcp"])
        #expect(server?["env"]?.table?["AGOR_KEY"]?.string == folder.key && server?["env"]?.table?["AGOR_HOME"]?.string == home.root.path)
    }

    @Test("Ollama and NDJSON sessions get no file and no flag")
    func others() throws {
        let (home, folder) = folder()
        defer { try? FileManager.default.removeItem(at: home.root) }
        for provider in ["ollama", "ndjson"] {
            #expect(try AgentMCPConfig.write(provider: provider, folder: folder, home: home, agor: "/x/agor") == .init())
        }
        #expect(!FileManager.default.fileExists(atPath: folder.mcpConfig))
    }
}
