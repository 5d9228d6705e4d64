import AgorTestSupport
import Bus
import Foundation
import Testing

/// Wake on message with real processes: btmsg and the runner as `agor serve`, a fake Claude Code
/// session, messages sent with the real `btmsg` command.
@Suite("wake on message", .serialized, .timeLimit(.minutes(4)))
struct WakeProcessTests {
    static func makeHome() async throws -> AgorHome {
        let agor = try AgorHome()
        let root = agor.home.root.path
        for (name, role) in [("w1", "worker"), ("m1", "manager")] {
            #expect(try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root]).status == 0)
        }
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        return agor
    }

    /// The session's stored events as `agor session logs` prints them: "SEQ TYPE SUMMARY".
    static func log(_ agor: AgorHome, _ id: String) throws -> [String] {
        try RunnerProcessTests.session(agor, ["logs", id]).out.split(separator: "\n").map(String.init)
    }

    /// Waits (bounded) until a line of the session's log contains `text`.
    static func waitForLog(_ agor: AgorHome, _ id: String, _ text: String) async throws -> Bool {
        if try await eventually(400, { try log(agor, id).contains(where: { $0.contains(text) }) }) { return true }
        Issue.record("no \(text) in the log of \(id): \(try log(agor, id).suffix(20))")
        return false
    }

    @Test("a message to an agent is a new turn of its session; ignore holds it back; a runner restart delivers what came meanwhile, each once")
    func wakeOnMessage() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let id = try RunnerProcessTests.startClaude(agor, approval: false)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "idle")

        // A manager's message reaches the idle session as a user turn, which the agent answers.
        #expect(try agor.btmsg("m1", ["send", "w1", "please look at the build"]).status == 0)
        #expect(try await Self.waitForLog(agor, id, "On it: new message from m1: please look at the build"))
        #expect(try Self.log(agor, id).contains { $0.contains("message.delivered 1 message(s): new message from m1: please look at the build") })

        // Policy ignore: nothing reaches the session; back to wake, the next message does.
        let shown = try RunnerProcessTests.session(agor, ["policy", "w1"])
        #expect(shown.status == 0 && shown.out.contains("w1: wake (setting runner.on_message)"), "\(shown.out)\(shown.err)")
        #expect(try RunnerProcessTests.session(agor, ["policy", "w1", "ignore"]).out.contains("w1: ignore (set for it)"))
        #expect(try RunnerProcessTests.session(agor, ["policy", "w1", "sometimes"]).status == 2)
        #expect(try RunnerProcessTests.session(agor, ["policy", "w1", "wake"], as: "w1").status == 3)   // an agent may not set its own
        #expect(try agor.btmsg("m1", ["send", "w1", "not for the session"]).status == 0)
        #expect(try RunnerProcessTests.session(agor, ["policy", "w1", "default"]).out.contains("w1: wake"))

        // The runner goes down; a message arrives meanwhile; the restarted runner resumes the
        // session and delivers it, once, and delivers nothing it had delivered (or ignored) before.
        let runner = try #require(agor.children.first { $0.isRunning && $0.arguments?.contains("runner") == true })
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        #expect(try agor.btmsg("m1", ["send", "w1", "while you were away"]).status == 0)
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        #expect(try await Self.waitForLog(agor, id, "On it: new message from m1: while you were away"))
        #expect(try agor.btmsg("m1", ["send", "w1", "second request"]).status == 0)
        #expect(try await Self.waitForLog(agor, id, "On it: new message from m1: second request"))
        let lines = try Self.log(agor, id)
        for text in ["please look at the build", "second request", "while you were away"] {
            #expect(lines.filter { $0.contains("message.delivered") && $0.contains(text) }.count == 1, "\(text) delivered once: \(lines)")
        }
        // What was ignored stays ignored, also after the restart.
        #expect(!lines.contains { $0.contains("not for the session") })
    }

    @Test("an ended session is resumed with the message as its turn; policy start gives an agent with no session a new one")
    func resumeAndStart() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        for (name, role) in [("w1", "worker"), ("w2", "worker"), ("m1", "manager")] {
            #expect(try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root]).status == 0)
        }
        // The provider's program for sessions the runner starts by itself: the fake Claude.
        // (Beside its wrapper: the sandbox lets a session read its program's own folder.)
        let bin = agor.home.root.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(RunnerProcessTests.fixtures)/fake_claude.py", toPath: bin.appendingPathComponent("fake_claude.py").path)
        let wrapper = bin.appendingPathComponent("fake-claude.sh")
        try "#!/bin/sh\nexec /usr/bin/python3 \(bin.path)/fake_claude.py \"$@\"\n".write(to: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper.path)
        let config = try String(contentsOf: agor.home.configFile, encoding: .utf8)
        try (config + "\n[runner.providers.claude]\ncommand = \"\(wrapper.path)\"\n").write(to: agor.home.configFile, atomically: true, encoding: .utf8)
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))

        // w1's session is stopped; a message resumes it (Claude --resume) with the message as its turn.
        let id = try RunnerProcessTests.startClaude(agor, approval: false)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        #expect(try RunnerProcessTests.session(agor, ["stop", id]).status == 0)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "stopped")
        #expect(try agor.btmsg("m1", ["send", "w1", "one more thing"]).status == 0)
        #expect(try await Self.waitForLog(agor, id, "On it: new message from m1: one more thing"))
        #expect(try Self.log(agor, id).contains { $0.contains("state starting: resumed for a new message") })

        // w2 has no session: with wake nothing starts (the message waits); with start, a session is
        // started for it.
        #expect(try agor.btmsg("m1", ["send", "w2", "are you there"]).status == 0)
        #expect(try RunnerProcessTests.session(agor, ["policy", "w2", "start"]).out.contains("w2: start"))
        #expect(try agor.btmsg("m1", ["send", "w2", "start on the docs"]).status == 0)
        var started: [String: Any] = [:]
        for _ in 0..<400 {
            let list = try RunnerProcessTests.session(agor, ["list", "--json"]).out
            let sessions = list.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            if let found = sessions.first(where: { $0["agent"] as? String == "w2" }) { started = found; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let newId = try #require(started["id"] as? String, "no session started for w2")
        // Its first turn holds both messages: the one that came while nothing could take it waited.
        #expect(started["started_by"] as? String == "runner")
        #expect(try await Self.waitForLog(agor, newId, "On it: new message from m1: are you there"))
        #expect(try Self.log(agor, newId).contains { $0.contains("message.delivered 2 message(s): new message from m1: are you there") })
    }

    @Test("a runner started before btmsg wakes agents once btmsg is up")
    func runnerBeforeBtmsg() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        for (name, role) in [("w1", "worker"), ("m1", "manager")] {
            #expect(try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root]).status == 0)
        }
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        let id = try RunnerProcessTests.startClaude(agor, approval: false)
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        #expect(try agor.btmsg("m1", ["send", "w1", "late but here"]).status == 0)
        #expect(try await Self.waitForLog(agor, id, "On it: new message from m1: late but here"))
    }
}
