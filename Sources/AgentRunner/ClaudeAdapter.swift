import Foundation
import RunnerAPI

/// Claude Code's `--output-format stream-json` lines (../shared/provider-formats.md): system/init,
/// assistant content blocks (text, thinking, tool_use), user tool_result blocks, result, the
/// control protocol's can_use_tool requests, rate limits. Parallel tool calls may come one block per
/// line with the same message id, or several per line: blocks are deduplicated by message id and
/// block id, and a message's usage is counted once.
public struct ClaudeAdapter: ProviderAdapter {
    public let provider = "claude"
    private var blocksSeen: Set<String> = []
    private var usageCounted: Set<String> = []

    public init() {}

    public mutating func events(for line: [UInt8]) -> [AgentEvent] {
        guard let json = JSONLine(line) else { return [.error("bad_json", "not a JSON object: \(JSONLine.excerpt(line))")] }
        let parent = json.string("parent_tool_use_id") ?? ""
        switch json.string("type") {
        case "system":
            guard json.string("subtype") == "init" else { return [] }   // hooks, status, compaction...
            var started = Agor_Runner_V1_SessionStarted()
            started.provider = provider
            started.providerSessionID = json.string("session_id") ?? ""
            started.model = json.string("model") ?? ""
            started.cwd = json.string("cwd") ?? ""
            started.tools = (json.object["tools"] as? [Any] ?? []).compactMap { $0 as? String }
            var event = AgentEvent()
            event.sessionStarted = started
            return [event]
        case "assistant":
            guard let message = json.child("message") else { return [.error("unknown_line", "assistant line without a message")] }
            let messageId = message.string("id") ?? ""
            var events: [AgentEvent] = []
            for (index, block) in message.children("content").enumerated() {
                let blockKey = "\(messageId)/\(block.string("id") ?? "\(block.string("type") ?? "")#\(index)")"
                if !messageId.isEmpty && !blocksSeen.insert(blockKey).inserted { continue }
                switch block.string("type") {
                case "text": events.append(.text(block.string("text") ?? "", parent: parent))
                case "thinking": events.append(.thinking(block.string("thinking") ?? "", parent: parent))
                case "tool_use", "server_tool_use":
                    events.append(.toolCall(id: block.string("id") ?? "", name: block.string("name") ?? "",
                                            inputJSON: JSONLine.text(of: block.object["input"]), parent: parent))
                default: break   // block types added later are not errors
                }
            }
            if let usage = message.child("usage"), messageId.isEmpty || usageCounted.insert(messageId).inserted {
                events.append(.usage(input: usage.int("input_tokens") ?? 0, output: usage.int("output_tokens") ?? 0,
                                     cacheRead: usage.int("cache_read_input_tokens") ?? 0,
                                     cacheWrite: usage.int("cache_creation_input_tokens") ?? 0))
            }
            if let error = json.string("error") { events.append(.error("provider", error)) }
            return events
        case "user":
            if json.bool("isReplay") == true { return [] }   // our own turn, echoed back
            guard let message = json.child("message") else { return [] }
            return message.children("content").compactMap { block -> AgentEvent? in
                guard block.string("type") == "tool_result" else { return nil }
                return .toolResult(id: block.string("tool_use_id") ?? "", isError: block.bool("is_error") ?? false,
                                   content: ClaudeAdapter.resultText(block.object["content"]), parent: parent)
            }
        case "result":
            let subtype = json.string("subtype") ?? ""
            let isError = (json.bool("is_error") ?? false) || subtype.hasPrefix("error")
            let text = json.string("result") ?? ((json.object["errors"] as? [Any])?.compactMap { $0 as? String }.joined(separator: "\n") ?? "")
            var events: [AgentEvent] = []
            if let cost = json.double("total_cost_usd") { events.append(.usage(costUSD: cost)) }
            events.append(.turnFinished(text: text, isError: isError, subtype: subtype, turns: Int32(clamping: json.int("num_turns") ?? 0)))
            return events
        case "control_request":
            guard let request = json.child("request"), request.string("subtype") == "can_use_tool" else { return [] }
            var asked = Agor_Runner_V1_ApprovalRequested()
            asked.requestID = json.string("request_id") ?? ""
            asked.toolName = request.string("tool_name") ?? ""
            asked.inputJson = JSONLine.text(of: request.object["input"])
            var event = AgentEvent()
            event.approvalRequested = asked
            return [event]
        case "rate_limit_event":
            let info = json.child("rate_limit_info")
            var limit = Agor_Runner_V1_RateLimit()
            limit.status = info?.string("status") ?? ""
            limit.resetsAtUnix = info?.int("resetsAt") ?? 0
            limit.utilization = info?.double("utilization") ?? 0
            var event = AgentEvent()
            event.rateLimit = limit
            return [event]
        case "stream_event", "control_response", "control_cancel_request":
            return []
        default:
            return [.error("unknown_line", "unknown line type: \(JSONLine.excerpt(line))")]
        }
    }

    /// A tool result's content: a string, or text blocks joined.
    static func resultText(_ content: Any?) -> String {
        if let string = content as? String { return string }
        let blocks = (content as? [Any] ?? []).compactMap { $0 as? [String: Any] }
        return blocks.compactMap { $0["text"] as? String }.joined(separator: "\n")
    }

    /// The stdin line that answers a pending approval (the control protocol's response).
    public static func approvalAnswer(requestId: String, allow: Bool, message: String = "") -> [UInt8] {
        var response: [String: Any] = ["behavior": allow ? "allow" : "deny"]
        if !allow { response["message"] = message.isEmpty ? "denied by a person in agor" : message }
        let object: [String: Any] = ["type": "control_response",
                                     "response": ["subtype": "success", "request_id": requestId, "response": response]]
        return Array(JSONLine.text(of: object).utf8) + [0x0A]
    }

    /// The stdin line of a new user turn (stream-json input).
    public static func userTurn(_ text: String, sessionId: String) -> [UInt8] {
        let object: [String: Any] = ["type": "user", "message": ["role": "user", "content": text],
                                     "parent_tool_use_id": NSNull(), "session_id": sessionId]
        return Array(JSONLine.text(of: object).utf8) + [0x0A]
    }
}
