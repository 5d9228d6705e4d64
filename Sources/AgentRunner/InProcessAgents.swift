import Foundation
import RunnerAPI

/// Sub-agents a provider runs inside the session's own process: Claude's Task tool starts one, and
/// its lines carry `parent_tool_use_id` = that call's id. The session's record lists them (at most
/// `limit`, the oldest finished ones dropped first), so its team shows them under it, in-process.
enum InProcessAgents {
    /// The tools whose call starts an in-process sub-agent.
    static let starters: Set<String> = ["Task", "Agent"]
    static let limit = 50

    /// Updates `record`'s list with one event of its stream.
    static func track(_ event: AgentEvent, in record: inout Agor_Runner_V1_Session) {
        switch event.kind {
        case .toolCall(let call) where call.parentToolUseID.isEmpty && starters.contains(call.name):
            var agent = Agor_Runner_V1_InProcessAgent()
            agent.toolUseID = call.id
            agent.state = "running"
            if let input = (try? JSONSerialization.jsonObject(with: Data(call.inputJson.utf8))) as? [String: Any] {
                agent.kind = String((input["subagent_type"] as? String ?? "").prefix(100))
                agent.description_p = String((input["description"] as? String ?? "").prefix(200))
            }
            record.inProcess.removeAll { $0.toolUseID == call.id }
            record.inProcess.append(agent)
            if record.inProcess.count > limit, let old = record.inProcess.firstIndex(where: { $0.state != "running" }) ?? record.inProcess.indices.first {
                record.inProcess.remove(at: old)
            }
        case .toolResult(let result) where result.parentToolUseID.isEmpty:
            if let index = record.inProcess.firstIndex(where: { $0.toolUseID == result.id }) {
                record.inProcess[index].state = result.isError ? "failed" : "finished"
            }
        default:
            let parent = parentToolUseID(of: event)
            if !parent.isEmpty, let index = record.inProcess.firstIndex(where: { $0.toolUseID == parent }) {
                record.inProcess[index].events += 1
            }
        }
    }

    /// The call whose sub-agent speaks in `event`, or "".
    static func parentToolUseID(of event: AgentEvent) -> String {
        switch event.kind {
        case .assistantText(let text): text.parentToolUseID
        case .toolCall(let call): call.parentToolUseID
        case .toolResult(let result): result.parentToolUseID
        default: ""
        }
    }
}
