import RunnerAPI
/// Codex's `codex exec --json` lines: thread.started, turn.*, item.* (agent_message, reasoning,
/// command_execution, file_change, mcp_tool_call, web_search, collab_tool_call, error, ...).
/// A tool in flight is an item started and not yet completed. `turn.completed` usage is cumulative
/// for the thread, so each report carries the difference.
public struct CodexAdapter: ProviderAdapter {
    public let provider = "codex"
    private var started: Set<String> = []
    private var lastMessage = ""
    private var totals = (input: Int64(0), cached: Int64(0), output: Int64(0))
    static let toolItems: Set<String> = ["command_execution", "file_change", "mcp_tool_call", "web_search", "collab_tool_call"]

    public init() {}

    public mutating func events(for line: [UInt8]) -> [AgentEvent] {
        guard let json = JSONLine(line) else { return [.error("bad_json", "not a JSON object: \(JSONLine.excerpt(line))")] }
        switch json.string("type") {
        case "thread.started":
            var body = Agor_Runner_V1_SessionStarted()
            body.provider = provider
            body.providerSessionID = json.string("thread_id") ?? ""
            var event = AgentEvent()
            event.sessionStarted = body
            return [event]
        case "turn.started":
            lastMessage = ""
            return []
        case "item.started":
            guard let item = json.child("item"), let type = item.string("type"), CodexAdapter.toolItems.contains(type) else { return [] }
            let id = item.string("id") ?? ""
            started.insert(id)
            return [CodexAdapter.call(item, type: type)]
        case "item.updated":
            return []
        case "item.completed":
            guard let item = json.child("item"), let type = item.string("type") else { return [] }
            let id = item.string("id") ?? ""
            switch type {
            case "agent_message":
                lastMessage = item.string("text") ?? ""
                return [.text(lastMessage)]
            case "reasoning":
                return [.thinking(item.string("text") ?? "")]
            case "error":
                return [.error("provider", item.string("message") ?? "")]
            case _ where CodexAdapter.toolItems.contains(type):
                var events: [AgentEvent] = []
                if started.remove(id) == nil { events.append(CodexAdapter.call(item, type: type)) }
                let status = item.string("status") ?? ""
                let failed = status == "failed" || status == "declined" || (item.int("exit_code").map { $0 != 0 } ?? false)
                let content = item.string("aggregated_output") ?? JSONLine.text(of: item.object["result"] ?? item.object["error"] ?? item.object["changes"])
                events.append(.toolResult(id: id, isError: failed, content: content))
                return events
            default:
                return []   // todo_list, plan and later item types
            }
        case "turn.completed":
            let usage = json.child("usage")
            let now = (input: usage?.int("input_tokens") ?? 0, cached: usage?.int("cached_input_tokens") ?? 0, output: usage?.int("output_tokens") ?? 0)
            defer { totals = now }
            return [.usage(input: max(0, now.input - totals.input), output: max(0, now.output - totals.output),
                           cacheRead: max(0, now.cached - totals.cached)),
                    .turnFinished(text: lastMessage, isError: false, subtype: "turn.completed")]
        case "turn.failed":
            let message = json.child("error")?.string("message") ?? ""
            return [.error("provider", message, fatal: true), .turnFinished(text: message, isError: true, subtype: "turn.failed")]
        case "error":
            return [.error("provider", json.string("message") ?? "")]
        default:
            return [.error("unknown_line", "unknown line type: \(JSONLine.excerpt(line))")]
        }
    }

    private static func call(_ item: JSONLine, type: String) -> AgentEvent {
        let id = item.string("id") ?? ""
        switch type {
        case "command_execution": return .toolCall(id: id, name: "command", inputJSON: JSONLine.text(of: ["command": item.string("command") ?? ""]))
        case "mcp_tool_call":
            return .toolCall(id: id, name: "\(item.string("server") ?? "").\(item.string("tool") ?? "")", inputJSON: JSONLine.text(of: item.object["arguments"]))
        case "collab_tool_call": return .toolCall(id: id, name: item.string("tool") ?? type, inputJSON: JSONLine.text(of: item.object))
        case "web_search": return .toolCall(id: id, name: "web_search", inputJSON: JSONLine.text(of: ["query": item.string("query") ?? ""]))
        default: return .toolCall(id: id, name: type, inputJSON: JSONLine.text(of: item.object["changes"]))
        }
    }
}
