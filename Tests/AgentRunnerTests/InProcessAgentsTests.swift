import Foundation
import RunnerAPI
import Testing
@testable import AgentRunner

/// A Claude manager's in-process sub-agents (the Task tool), as its session record lists them.
@Suite struct InProcessAgentsTests {
    func record(_ lines: [String]) -> Agor_Runner_V1_Session {
        var adapter = ClaudeAdapter()
        var record = Agor_Runner_V1_Session()
        for line in lines {
            for event in adapter.events(for: Array(line.utf8)) { InProcessAgents.track(event, in: &record) }
        }
        return record
    }

    @Test func aTaskCallIsAnInProcessAgentUntilItsResult() {
        let running = record([
            #"{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"task1","name":"Task","input":{"description":"check the tests","subagent_type":"general-purpose","prompt":"go"}}]},"parent_tool_use_id":null}"#,
            #"{"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"running them"}]},"parent_tool_use_id":"task1"}"#,
            #"{"type":"assistant","message":{"id":"m2","content":[{"type":"tool_use","id":"b1","name":"Bash","input":{"command":"make"}}]},"parent_tool_use_id":"task1"}"#,
            // Another sub-agent's line, and a Bash call of the manager itself: neither counts for task1.
            #"{"type":"assistant","message":{"id":"m3","content":[{"type":"text","text":"elsewhere"}]},"parent_tool_use_id":"task9"}"#,
            #"{"type":"assistant","message":{"id":"m4","content":[{"type":"tool_use","id":"b2","name":"Bash","input":{"command":"ls"}}]},"parent_tool_use_id":null}"#,
        ])
        #expect(running.inProcess.count == 1)
        let agent = running.inProcess.first
        #expect(agent?.toolUseID == "task1" && agent?.kind == "general-purpose" && agent?.description_p == "check the tests")
        #expect(agent?.state == "running" && agent?.events == 2)

        let failed = record([
            #"{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"task1","name":"Task","input":"not an object"}]}}"#,
            #"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"task1","type":"tool_result","content":"boom","is_error":true}]}}"#,
        ])
        #expect(failed.inProcess.map(\.state) == ["failed"] && failed.inProcess.first?.kind == "")
    }

    @Test func theListIsBoundedDroppingFinishedOnesFirst() {
        var lines: [String] = []
        for n in 0..<(InProcessAgents.limit + 10) {
            lines.append(#"{"type":"assistant","message":{"id":"m\#(n)","content":[{"type":"tool_use","id":"t\#(n)","name":"Task","input":{}}]}}"#)
            if n > 0 { lines.append(#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t\#(n)","type":"tool_result","content":"ok"}]}}"#) }
        }
        let record = record(lines)
        #expect(record.inProcess.count == InProcessAgents.limit)
        #expect(record.inProcess.first?.toolUseID == "t0" && record.inProcess.first?.state == "running")   // the running one stays
    }
}
