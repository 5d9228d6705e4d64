import Bus
import Foundation
import Logging
import MCP
import SwiftProtobuf

/// `agor mcp`: an MCP server on stdin/stdout acting as one agent (the owner of the key it is given),
/// with agor's tools (AgentTools). A refusal from a service is a tool error carrying the service's
/// code and message; the process keeps serving.
public enum AgentMCPServer {
    public static let version = "1"

    /// Serves until stdin closes.
    public static func run(home: Home, keyFile: URL, logger: Logger) async throws {
        let agent = try AgentConnection(home: home, keyFile: keyFile)
        let server = Server(name: "agor", version: version,
                            instructions: "agor's messages (btmsg) and task board (bttask), as the agent whose key this server holds.",
                            capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: AgentTools.all.map(\.tool))
        }
        await server.withMethodHandler(CallTool.self) { call in
            await answer(call, agent: agent, logger: logger)
        }
        let transport = OrderedStdioTransport(logger: logger)
        try await server.start(transport: transport)
        await server.waitUntilCompleted()
        await agent.close()
    }

    static func answer(_ call: CallTool.Parameters, agent: AgentConnection, logger: Logger) async -> CallTool.Result {
        guard let tool = AgentTools.named(call.name) else {
            return failure("not_found", "no tool \(call.name.prefix(100)); tools/list names them")
        }
        do {
            let reply = try await tool.run(ToolArguments(call.arguments), agent)
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            return CallTool.Result(content: [.text(text: try reply.jsonString(options: options), annotations: nil, _meta: nil)])
        } catch let error as BusError {
            return failure(error.codeName, error.message)
        } catch {
            logger.error("tool failed", metadata: ["mcp.tool": "\(call.name)", "mcp.error": "\(error)"])
            return failure("internal", "\(error)")
        }
    }

    /// A tool error: `code: message`, the service's words.
    static func failure(_ code: String, _ message: String) -> CallTool.Result {
        CallTool.Result(content: [.text(text: "\(code): \(message)", annotations: nil, _meta: nil)], isError: true)
    }
}
