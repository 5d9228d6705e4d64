import Foundation
import RunnerAPI

public typealias AgentEvent = Agor_Runner_V1_Event
public typealias SessionState = Agor_Runner_V1_SessionState

extension Agor_Runner_V1_Event {
    /// The event's type on the stream (`Envelope.method`).
    public var typeName: String {
        switch kind {
        case .sessionStarted: "session.started"
        case .assistantText: "assistant.text"
        case .thinking: "thinking"
        case .toolCall: "tool.call"
        case .toolResult: "tool.result"
        case .approvalRequested: "approval.requested"
        case .approvalAnswered: "approval.answered"
        case .usage: "usage"
        case .rateLimit: "rate_limit"
        case .error: "error"
        case .turnFinished: "turn.finished"
        case .sessionFinished: "session.finished"
        case .stateChanged: "state"
        case .messageDelivered: "message.delivered"
        case nil: "unknown"
        }
    }

    static func error(_ kind: String, _ message: String, fatal: Bool = false) -> AgentEvent {
        var error = Agor_Runner_V1_AgentError()
        error.kind = kind
        error.message = message
        error.fatal = fatal
        var event = AgentEvent()
        event.error = error
        return event
    }

    static func text(_ text: String, parent: String = "") -> AgentEvent {
        var event = AgentEvent()
        event.assistantText = textBody(text, parent: parent)
        return event
    }

    static func thinking(_ text: String, parent: String = "") -> AgentEvent {
        var event = AgentEvent()
        event.thinking = textBody(text, parent: parent)
        return event
    }

    private static func textBody(_ text: String, parent: String) -> Agor_Runner_V1_Text {
        var body = Agor_Runner_V1_Text()
        body.text = text
        body.parentToolUseID = parent
        return body
    }

    static func toolCall(id: String, name: String, inputJSON: String, parent: String = "") -> AgentEvent {
        var call = Agor_Runner_V1_ToolCall()
        call.id = id
        call.name = name
        call.inputJson = inputJSON
        call.parentToolUseID = parent
        var event = AgentEvent()
        event.toolCall = call
        return event
    }

    static func toolResult(id: String, isError: Bool, content: String, parent: String = "") -> AgentEvent {
        var result = Agor_Runner_V1_ToolResult()
        result.id = id
        result.isError = isError
        result.content = content
        result.parentToolUseID = parent
        var event = AgentEvent()
        event.toolResult = result
        return event
    }

    static func usage(input: Int64 = 0, output: Int64 = 0, cacheRead: Int64 = 0, cacheWrite: Int64 = 0, costUSD: Double = 0) -> AgentEvent {
        var usage = Agor_Runner_V1_Usage()
        usage.inputTokens = input
        usage.outputTokens = output
        usage.cacheReadTokens = cacheRead
        usage.cacheWriteTokens = cacheWrite
        var report = Agor_Runner_V1_UsageReport()
        report.usage = usage
        report.costUsd = costUSD
        var event = AgentEvent()
        event.usage = report
        return event
    }

    static func turnFinished(text: String, isError: Bool, subtype: String, turns: Int32 = 0) -> AgentEvent {
        var turn = Agor_Runner_V1_TurnFinished()
        turn.finalText = text
        turn.isError = isError
        turn.subtype = subtype
        turn.turns = turns
        var event = AgentEvent()
        event.turnFinished = turn
        return event
    }
}
