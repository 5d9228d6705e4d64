import Foundation
import Testing
@testable import AgentRunner

/// Each adapter on lines in its provider's real format (../shared/provider-formats.md; ids and
/// numbers invented), garbage and unknown types included.
@Suite struct AdapterTests {
    func run(_ adapter: some ProviderAdapter, _ lines: [String]) -> [AgentEvent] {
        var adapter = adapter
        return lines.flatMap { adapter.events(for: Array($0.utf8)) }
    }

    @Test func claudeParallelToolsInEitherFormResultsOutOfOrderUsageOnce() {
        let events = run(ClaudeAdapter(), [
            #"{"type":"system","subtype":"init","cwd":"/repo","session_id":"s-1","tools":["Bash","Read"],"model":"m1","uuid":"0"}"#,
            #"{"type":"system","subtype":"hook_started","uuid":"h"}"#,
            #"{"type":"assistant","message":{"id":"msg_1","content":[{"type":"text","text":"Both."}],"usage":{"input_tokens":4,"output_tokens":8}},"parent_tool_use_id":null,"session_id":"s-1"}"#,
            #"{"type":"assistant","message":{"id":"msg_1","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":4,"output_tokens":8}},"parent_tool_use_id":null}"#,
            // The same blocks again in one line (another capture's form): nothing twice.
            #"{"type":"assistant","message":{"id":"msg_1","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}},{"type":"tool_use","id":"t2","name":"Read","input":{"file_path":"/x"}}],"usage":{"input_tokens":4,"output_tokens":8}}}"#,
            #"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t2","type":"tool_result","content":[{"type":"text","text":"nope"}],"is_error":true}]}}"#,
            #"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t1","type":"tool_result","content":"README.md\n","is_error":false}]}}"#,
            #"{"type":"assistant","message":{"id":"msg_2","content":[{"type":"text","text":"sub"}]},"parent_tool_use_id":"t9"}"#,
            #"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"There is a README.md.","total_cost_usd":0.0698}"#,
            #"{"type":"brand_new_type"}"#,
            "not json at all",
        ])
        let types = events.map(\.typeName)
        #expect(types == ["session.started", "assistant.text", "usage", "tool.call", "tool.call", "tool.result", "tool.result",
                          "assistant.text", "usage", "turn.finished", "error", "error"])
        #expect(events[0].sessionStarted.providerSessionID == "s-1" && events[0].sessionStarted.tools == ["Bash", "Read"])
        #expect(events[3].toolCall.id == "t1" && events[3].toolCall.inputJson == #"{"command":"ls"}"#)
        #expect(events[4].toolCall.id == "t2")
        #expect(events[5].toolResult.id == "t2" && events[5].toolResult.isError && events[5].toolResult.content == "nope")
        #expect(events[7].assistantText.parentToolUseID == "t9")
        #expect(events[8].usage.costUsd == 0.0698 && events[9].turnFinished.finalText == "There is a README.md.")
        #expect(events[10].error.kind == "unknown_line" && events[11].error.kind == "bad_json")
    }

    @Test func claudeApprovalsErrorsAndTheLinesWeWrite() throws {
        let events = run(ClaudeAdapter(), [
            #"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"rm -rf build"}}}"#,
            #"{"type":"result","subtype":"error_max_turns","is_error":false,"errors":["too many turns"]}"#,
            #"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500"}"#,
        ])
        #expect(events[0].approvalRequested.requestID == "r1" && events[0].approvalRequested.toolName == "Bash")
        #expect(events[1].turnFinished.isError && events[1].turnFinished.finalText == "too many turns")
        #expect(events[2].turnFinished.isError && events[2].turnFinished.finalText == "API Error: 500")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(ClaudeAdapter.approvalAnswer(requestId: "r1", allow: true).dropLast())) as? [String: Any])
        let response = try #require(answer["response"] as? [String: Any])
        #expect(answer["type"] as? String == "control_response" && response["request_id"] as? String == "r1")
        #expect((response["response"] as? [String: Any])?["behavior"] as? String == "allow")
        let turn = ClaudeAdapter.userTurn("hi\u{2028}there", sessionId: "s-1")
        #expect(turn.last == 0x0A && turn.dropLast().allSatisfy { $0 != 0x0A })
        #expect(String(decoding: turn, as: UTF8.self).contains("hi\u{2028}there"))
    }

    @Test func codexItemsToolsAndCumulativeUsage() {
        let events = run(CodexAdapter(), [
            #"{"type":"thread.started","thread_id":"th-1"}"#,
            #"{"type":"turn.started"}"#,
            #"{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Listing**"}}"#,
            #"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            #"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"README.md\n","exit_code":0,"status":"completed"}}"#,
            #"{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"/r/a.py","kind":"update"}],"status":"failed"}}"#,
            #"{"type":"error","message":"Reconnecting... 1/5"}"#,
            #"{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done."}}"#,
            #"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":10}}"#,
            #"{"type":"turn.started"}"#,
            #"{"type":"turn.completed","usage":{"input_tokens":150,"cached_input_tokens":60,"output_tokens":25}}"#,
            #"{"type":"turn.failed","error":{"message":"quota"}}"#,
        ])
        #expect(events.map(\.typeName) == ["session.started", "thinking", "tool.call", "tool.result", "tool.call", "tool.result", "error",
                                           "assistant.text", "usage", "turn.finished", "usage", "turn.finished", "error", "turn.finished"])
        #expect(events[0].sessionStarted.providerSessionID == "th-1")
        #expect(events[3].toolResult.id == "item_1" && !events[3].toolResult.isError && events[3].toolResult.content == "README.md\n")
        #expect(events[5].toolResult.isError)   // a failed file change
        #expect(events[8].usage.usage.inputTokens == 100 && events[10].usage.usage.inputTokens == 50 && events[10].usage.usage.outputTokens == 15)
        #expect(events[9].turnFinished.finalText == "Done.")
        #expect(events[12].error.fatal && events[13].turnFinished.isError)
    }

    @Test func ollamaPiecesToolCallsDoneAndErrors() {
        let events = run(OllamaAdapter(), [
            #"{"model":"llama3.2","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_a","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}}]},"done":false}"#,
            #"{"model":"llama3.2","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":100,"eval_count":5}"#,
            #"{"type":"agor.tool_result","id":"call_a","is_error":true,"content":"unavailable"}"#,
            #"{"model":"llama3.2","message":{"role":"assistant","content":"The"},"done":false}"#,
            #"{"model":"llama3.2","message":{"role":"assistant","content":" sky"},"done":false}"#,
            #"{"model":"llama3.2","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":169,"eval_count":15}"#,
            #"{"error":"an error was encountered while running the model"}"#,
            #"{"unrelated":true}"#,
        ])
        // A round that called a tool is continued by the runner's client: its `done` is usage only.
        #expect(events.map(\.typeName) == ["session.started", "tool.call", "usage", "tool.result", "assistant.text", "assistant.text",
                                           "usage", "turn.finished", "error", "turn.finished", "error"])
        #expect(events[1].toolCall.name == "get_weather" && events[1].toolCall.inputJson == #"{"city":"Tokyo"}"#)
        #expect(events[3].toolResult.id == "call_a" && events[3].toolResult.isError)
        #expect(events[7].turnFinished.finalText == "The sky" && events[6].usage.usage.outputTokens == 15)
        #expect(events[8].error.fatal && events[9].turnFinished.isError)
    }

    @Test func plainNDJSONKeepsUnicodeSeparatorsUnchanged() {
        let events = run(NDJSONAdapter(), [
            "{\"type\":\"text\",\"text\":\"a\u{2028}b\"}",
            #"{"type":"tool_call","id":"c1","name":"grep","input":{"q":"x"}}"#,
            #"{"type":"tool_result","id":"c1","content":"1 match"}"#,
            #"{"type":"done","text":"ok"}"#,
            #"{"type":"mystery"}"#,
            "[1,2,3]",
        ])
        #expect(events.map(\.typeName) == ["assistant.text", "tool.call", "tool.result", "turn.finished", "error", "error"])
        #expect(events[0].assistantText.text == "a\u{2028}b")
    }
}

@Suite struct JSONTextTests {
    @Test func toolInputsAreWrittenAsCompactJSONWithSortedKeys() throws {
        let line = JSONLine(Array(#"{"v":{"b":[1,2.5,true,false,null],"a":"q\"\\\n\u0001\u2028x","n":-3}}"#.utf8))!
        let text = JSONLine.text(of: line.object["v"])
        #expect(text == #"{"a":"q\"\\\n\u0001"# + "\u{2028}" + #"x","b":[1,2.5,true,false,null],"n":-3}"#)
        // It reads back as the same value.
        let back = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(back["n"] as? Int == -3 && (back["a"] as? String)?.contains("\u{2028}") == true)
    }
}
