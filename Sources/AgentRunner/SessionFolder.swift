import Bus
import Foundation

/// Where a session keeps its files: `data/runner/sessions/<id>/` with `work/` (its working
/// directory when it has no project), `tmp/`, `worktree/` (when its project asks for one) and
/// `agent.key` (the copy of the agent's key it runs with). One place that names them.
struct SessionFolder {
    let root: URL

    init(home: Home, session: String) {
        root = home.dataFolder.appendingPathComponent("runner/sessions/\(session)")
    }

    var work: String { root.appendingPathComponent("work").path }
    var temporary: String { root.appendingPathComponent("tmp").path }
    var worktree: String { root.appendingPathComponent("worktree").path }
    var key: String { root.appendingPathComponent("agent.key").path }
    /// Claude's MCP configuration (AgentMCPConfig).
    var mcpConfig: String { root.appendingPathComponent("mcp.json").path }
    /// Codex's own home for this session, with its MCP configuration.
    var codexHome: String { root.appendingPathComponent("codex").path }

    /// The PATH agents get (and the runner looks programs up on).
    static let programSearchPath = "/usr/local/bin:/usr/bin:/bin"
}
