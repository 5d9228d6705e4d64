import RunnerAPI
import Testing
@testable import AgentRunner

@Suite struct SessionHealthTests {
    @Test func parallelToolsInAnyOrderAndUnknownResults() {
        var health = SessionHealth(keepsInputOpen: true)
        var states: [SessionState] = []
        func apply(_ event: AgentEvent) -> AgentEvent {
            var event = event
            if let change = health.apply(&event) { states.append(change.stateChanged.state) }
            return event
        }
        _ = apply(.text("hi"))
        _ = apply(.toolCall(id: "a", name: "Bash", inputJSON: "{}"))
        _ = apply(.toolCall(id: "b", name: "Read", inputJSON: "{}"))
        _ = apply(.toolCall(id: "c", name: "Grep", inputJSON: "{}"))
        #expect(health.toolsInFlight == ["a", "b", "c"])
        _ = apply(.toolResult(id: "b", isError: false, content: ""))
        #expect(health.toolsInFlight == ["a", "c"])   // the first result does not end the others
        let stray = apply(.toolResult(id: "zzz", isError: false, content: ""))
        #expect(stray.toolResult.unknownCall && health.toolsInFlight == ["a", "c"])
        _ = apply(.toolResult(id: "c", isError: true, content: ""))
        _ = apply(.toolResult(id: "a", isError: false, content: ""))
        #expect(health.toolsInFlight.isEmpty)
        _ = apply(.turnFinished(text: "done", isError: false, subtype: "success"))
        #expect(states == [.running, .idle])
    }

    @Test func approvalsNeedAPersonAndTheEndSaysHowItEnded() {
        var health = SessionHealth(keepsInputOpen: false)
        var asked = Agor_Runner_V1_ApprovalRequested()
        asked.requestID = "r1"
        var event = AgentEvent()
        event.approvalRequested = asked
        _ = health.apply(&event)
        #expect(health.state == .needsInput)
        var answer = AgentEvent()
        answer.approvalAnswered = .with { $0.requestID = "r1"; $0.allowed = true }
        _ = health.apply(&answer)
        #expect(health.state == .running)
        var end = AgentEvent()
        end.sessionFinished = .with { $0.exitCode = 2 }
        let change = health.apply(&end)
        #expect(health.state == .failed && change?.stateChanged.reason == "exit 2")
        var stopped = SessionHealth(keepsInputOpen: true)
        stopped.stopRequested = true
        var killed = AgentEvent()
        killed.sessionFinished = .with { $0.signal = 15 }
        _ = stopped.apply(&killed)
        #expect(stopped.state == .stopped)
    }

    @Test func silenceIsAStallOnlyPastTheRightLimit() {
        var health = SessionHealth(keepsInputOpen: false)
        var call = AgentEvent.toolCall(id: "t", name: "Bash", inputJSON: "{}")
        _ = health.apply(&call)
        // A tool running: the stall threshold does not apply, the tool timeout does.
        #expect(health.checkSilence(.seconds(120), threshold: .seconds(60), toolTimeout: .seconds(600)) == nil)
        #expect(health.checkSilence(.seconds(601), threshold: .seconds(60), toolTimeout: .seconds(600))?.stateChanged.state == .stalled)
        var quiet = SessionHealth(keepsInputOpen: false)
        var text = AgentEvent.text("x")
        _ = quiet.apply(&text)
        #expect(quiet.checkSilence(.seconds(61), threshold: .seconds(60), toolTimeout: .seconds(600))?.stateChanged.state == .stalled)
        var usage = AgentEvent.usage(input: 5, output: 7, costUSD: 0.5)
        _ = quiet.apply(&usage)
        #expect(quiet.usage.inputTokens == 5 && quiet.costUSD == 0.5)
    }

    @Test func aPauseHoldsUntilAPersonLiftsIt() {
        var health = SessionHealth(keepsInputOpen: true)
        var text = AgentEvent.text("x")
        _ = health.apply(&text)
        #expect(health.pause("budget: 3 turns (limit 3)")?.stateChanged.state == .needsInput)
        #expect(health.pause("again") == nil)                       // one pause at a time
        var more = AgentEvent.toolCall(id: "t", name: "Bash", inputJSON: "{}")
        #expect(health.apply(&more) == nil && health.state == .needsInput)   // the program goes on; the state holds
        #expect(health.lift()?.stateChanged.state == .running)
        #expect(health.lift() == nil && health.pauseReason.isEmpty)
    }
}
