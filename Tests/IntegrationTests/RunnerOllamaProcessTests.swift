import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Testing

/// Ollama sessions end to end: the runner's own client (`agor ollama-chat`, spawned through the
/// exec helper like any agent) against a fake Ollama server speaking /api/chat's chunked NDJSON.
@Suite("runner ollama", .serialized, .timeLimit(.minutes(3)))
struct RunnerOllamaProcessTests {
    /// A runner home whose config points the Ollama provider at a fake server; the server's request log.
    static func makeHome() async throws -> (AgorHome, Process, URL) {
        let agor = try await RunnerProcessTests.makeHome()
        let (server, log) = try await startFakeOllama(agor)
        return (agor, server, log)
    }

    /// Starts the fake Ollama server and points the home's Ollama provider at it (read by the
    /// runner at each session start); the server and its request log.
    static func startFakeOllama(_ agor: AgorHome) async throws -> (Process, URL) {
        let portFile = agor.home.root.appendingPathComponent("ollama.port"), log = agor.home.root.appendingPathComponent("ollama.log")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["\(RunnerProcessTests.fixtures)/fake_ollama.py", portFile.path, log.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let port = await eventuallyValue { (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { $0.isEmpty ? nil : $0 } } ?? ""
        let config = try String(contentsOf: agor.home.configFile, encoding: .utf8)
        try (config + "\n[runner.providers.ollama]\nurl = \"http://127.0.0.1:\(port)\"\n").write(to: agor.home.configFile, atomically: true, encoding: .utf8)
        return (server, log)
    }

    /// SIGKILL: the test process may pass SIGTERM on ignored, and Python keeps that.
    static func stop(_ server: Process) {
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
    }

    static func start(_ agor: AgorHome, model: String?, prompt: String) throws -> (id: String?, status: Int32, err: String) {
        let result = try RunnerProcessTests.session(agor, ["start", "--agent", "w1", "--provider", "ollama", "--prompt", prompt, "--json"]
                                                           + (model.map { ["--model", $0] } ?? []))
        let object = (try? JSONSerialization.jsonObject(with: Data(result.out.utf8))) as? [String: Any]
        return (object?["id"] as? String, result.status, result.err)
    }

    static func turns(_ agor: AgorHome, _ id: String) throws -> [String] {
        try RunnerLimitsProcessTests.logs(agor, id).filter { $0["type"] as? String == "turn.finished" }.compactMap { $0["final_text"] as? String }
    }

    @Test("a multi-turn Ollama session: a tool call agor has not answered as an error, the history sent back, a second turn, stop")
    func conversation() async throws {
        let (agor, server, log) = try await Self.makeHome()
        defer { Self.stop(server); agor.cleanUp() }
        let id = try #require(try Self.start(agor, model: "fake-model", prompt: "weather in Tokyo?").id)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        let events = try RunnerLimitsProcessTests.logs(agor, id)
        let call = try #require(events.first { $0["type"] as? String == "tool.call" })
        #expect(call["name"] as? String == "get_weather" && call["id"] as? String == "call_1")
        let result = try #require(events.first { $0["type"] as? String == "tool.result" })
        #expect(result["id"] as? String == "call_1" && result["is_error"] as? Bool == true)
        #expect((result["content"] as? String ?? "").hasPrefix("not_found: no tool get_weather"))
        #expect(try Self.turns(agor, id) == ["It is sunny."])
        #expect((try RunnerProcessTests.show(agor, id)["tools_in_flight"] as? [String])?.isEmpty == true)

        #expect(try RunnerProcessTests.session(agor, ["send", id, "and tomorrow?"]).status == 0)
        _ = try await eventually { try Self.turns(agor, id).count >= 2 }
        #expect(try Self.turns(agor, id) == ["It is sunny.", "Second answer"])
        let idle = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        #expect((idle["usage"] as? [String: Any])?["output_tokens"] as? Int == 9)

        let requests = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0["model"] as? String == "fake-model" && $0["stream"] as? Bool == true })
        let second = requests.count > 1 ? requests[1]["messages"] as? [[String: Any]] ?? [] : []
        #expect(second.map { $0["role"] as? String ?? "" } == ["user", "assistant", "tool"])
        #expect(second.last?["tool_name"] as? String == "get_weather")
        let third = requests.count > 2 ? requests[2]["messages"] as? [[String: Any]] ?? [] : []
        #expect(third.map { $0["role"] as? String ?? "" } == ["user", "assistant", "tool", "assistant", "user"])
        #expect(third[3]["content"] as? String == "It is sunny." && third[4]["content"] as? String == "and tomorrow?")

        #expect(try RunnerProcessTests.session(agor, ["stop", id]).status == 0)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "stopped")
    }

    @Test("an Ollama agent has agor's tools: the runner's client offers them and runs each call as the agent; a refusal is a tool error")
    func agorTools() async throws {
        let (agor, server, log) = try await Self.makeHome()
        defer { Self.stop(server); agor.cleanUp() }
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        #expect(try agor.btmsg("operator", ["allow", "w1", "m1", "-b"]).status == 0)
        let id = try #require(try Self.start(agor, model: "fake-model", prompt: "use agor tools: greet your manager").id)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        #expect(try Self.turns(agor, id) == ["Done."])
        let results = try RunnerLimitsProcessTests.logs(agor, id).filter { $0["type"] as? String == "tool.result" }
        #expect(results.count == 3)
        let contents = results.map { $0["content"] as? String ?? "" }
        #expect(results.map { $0["is_error"] as? Bool ?? false } == [false, false, true], "\(contents)")
        #expect(contents.first?.contains("\"name\":\"w1\"") == true, "\(contents)")
        #expect(contents.last?.hasPrefix("not_found:") == true, "\(contents)")
        // The message is in btmsg, from w1 (the session's agent), not from the runner.
        let inbox = try agor.btmsg("m1", ["inbox", "--json"])
        #expect(inbox.out.contains("hello from ollama") && inbox.out.contains("\"w1\""), "\(inbox.out)")
        // What Ollama was offered: agor's tools with their schemas.
        let first = try #require(try String(contentsOf: log, encoding: .utf8).split(separator: "\n").first
            .flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] })
        let offered = (first["tools"] as? [[String: Any]] ?? []).compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
        #expect(offered.contains("send") && offered.contains("task_claim") && offered.contains("lease_acquire"), "\(offered)")
        #expect(try RunnerProcessTests.session(agor, ["stop", id]).status == 0)
    }

    @Test("in the strict tier (no network) the Ollama client reaches its server through the runner's proxy")
    func strictTier() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") else { return }
        let (agor, server, _) = try await Self.makeHome()
        defer { Self.stop(server); agor.cleanUp() }
        #expect(try AgorHome.run(["settings", "set", "runner.sandbox.strict", "required", "--home", agor.home.root.path]).status == 0)
        let id = try #require(try Self.start(agor, model: "fake-model", prompt: "weather in Tokyo?").id)
        let idle = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        #expect((idle["sandbox"] as? [String: String])?["strict"] == "held")
        #expect(try Self.turns(agor, id) == ["It is sunny."])
        #expect(try RunnerProcessTests.session(agor, ["stop", id]).status == 0)
    }

    @Test("Ollama's refusals: an unknown model (HTTP 404), an error mid-stream, no model at all")
    func refusals() async throws {
        let (agor, server, _) = try await Self.makeHome()
        defer { Self.stop(server); agor.cleanUp() }
        let missing = try #require(try Self.start(agor, model: "missing", prompt: "hi").id)
        _ = try await RunnerProcessTests.waitFor(agor, missing, state: "failed")
        let errors = try RunnerLimitsProcessTests.logs(agor, missing).compactMap { $0["message"] as? String }
        #expect(errors.contains("model 'missing' not found"), "\(errors)")

        let broken = try #require(try Self.start(agor, model: "fake-model", prompt: "fail-mid please").id)
        _ = try await RunnerProcessTests.waitFor(agor, broken, state: "failed")
        let texts = try RunnerLimitsProcessTests.logs(agor, broken)
        #expect(texts.contains { $0["text"] as? String == "Let me" })
        #expect(texts.contains { $0["message"] as? String == "an error was encountered while running the model" })

        // A server that breaks HTTP: the session fails with the reason; the runner goes on.
        for (model, reason) in [("not-http", "not an HTTP response"), ("bad-chunk", "bad chunk size"), ("cut", "the connection ended inside a chunk")] {
            let id = try #require(try Self.start(agor, model: model, prompt: "hi").id)
            _ = try await RunnerProcessTests.waitFor(agor, id, state: "failed")
            let messages = try RunnerLimitsProcessTests.logs(agor, id).compactMap { $0["message"] as? String }
            #expect(messages.contains { $0.contains(reason) }, "\(model): \(messages)")
        }

        let unnamed = try Self.start(agor, model: nil, prompt: "hi")
        #expect(unnamed.status != 0 && unnamed.id == nil && unnamed.err.contains("needs a model"), "\(unnamed)")
        #expect(try AgorHome.run(["settings", "set", "model.ollama", "fake-model", "--home", agor.home.root.path]).status == 0)
        let named = try #require(try Self.start(agor, model: nil, prompt: "weather?").id)
        let shown = try await RunnerProcessTests.waitFor(agor, named, state: "idle")
        #expect(shown["model"] as? String == "fake-model")
    }
}
