import AgentRunner
import Bus
import Foundation
import Logging
import MCP

/// agor's tools for the runner's Ollama client (`agor ollama-chat`): the same tools, descriptions
/// and schemas as `agor mcp`, run as the session's agent, in Ollama's `tools` format.
public struct AgentChatTools: ChatTools {
    let agent: AgentConnection
    let logger: Logger

    /// The agent of `keyFile` in `home`; nil when the key is not there (the client answers "unavailable").
    public init?(home: Home, keyFile: URL, logger: Logger) {
        guard FileManager.default.isReadableFile(atPath: keyFile.path), let agent = try? AgentConnection(home: home, keyFile: keyFile) else { return nil }
        self.agent = agent
        self.logger = logger
    }

    public func definitions() -> [[String: Any]] {
        AgentTools.all.map { tool in
            let schema = (try? JSONEncoder().encode(tool.tool.inputSchema)).flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? [:]
            return ["type": "function", "function": ["name": tool.name, "description": tool.description, "parameters": schema]]
        }
    }

    public func call(_ name: String, argumentsJSON: Data) async -> (isError: Bool, content: String) {
        guard let arguments = try? JSONDecoder().decode([String: Value].self, from: argumentsJSON) else {
            return (true, "bad_request: the arguments of \(name.prefix(100)) are not a JSON object")
        }
        let result = await AgentMCPServer.answer(.init(name: name, arguments: arguments), agent: agent, logger: logger)
        let text = result.content.compactMap { content -> String? in
            if case .text(let text, _, _) = content { return text }
            return nil
        }.joined(separator: "\n")
        return (result.isError ?? false, text)
    }

    public func close() async { await agent.close() }
}
