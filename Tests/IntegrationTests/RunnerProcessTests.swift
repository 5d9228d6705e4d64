import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Testing

/// The runner as `agor serve runner`, driven by the real `agor session` command, with fake agents
/// (Tests/Fixtures/agents) in the providers' real formats, spawned through the real exec helper.
@Suite("runner processes", .serialized, .timeLimit(.minutes(4)))
struct RunnerProcessTests {
    static let fixtures = AgorHome.packageRoot.appendingPathComponent("Tests/Fixtures/agents").path

    /// A home with agent w1 (worker) and manager m1 in `default`, x1 (manager) in `other`, the runner serving.
    static func makeHome() async throws -> AgorHome {
        let agor = try AgorHome()
        let root = agor.home.root.path
        #expect(try AgorHome.run(["group", "add", "other", "--home", root]).status == 0)
        for (name, group, role) in [("w1", "default", "worker"), ("m1", "default", "manager"), ("x1", "other", "manager")] {
            #expect(try AgorHome.run(["agent", "add", name, "--group", group, "--role", role, "--home", root]).status == 0)
        }
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        return agor
    }

    /// `agor session ARGS` as `who` (default the operator).
    static func session(_ agor: AgorHome, _ arguments: [String], as who: String = "operator") throws -> (status: Int32, out: String, err: String) {
        try agor.tool(AgorHome.agor, who, ["session"] + arguments + ["--home", agor.home.root.path])
    }

    static func show(_ agor: AgorHome, _ id: String, as who: String = "operator") throws -> [String: Any] {
        let result = try session(agor, ["show", id, "--json"], as: who)
        return (try? JSONSerialization.jsonObject(with: Data(result.out.utf8))) as? [String: Any] ?? [:]
    }

    /// Waits (bounded) until the session's state is `state`.
    static func waitFor(_ agor: AgorHome, _ id: String, as who: String = "operator", state: String) async throws -> [String: Any] {
        var shown: [String: Any] = [:]
        if try await eventually(400, { () async throws -> Bool in
            shown = try show(agor, id, as: who)
            return shown["state"] as? String == state
        }) { return shown }
        Issue.record("session \(id) never became \(state): \(shown)")
        return shown
    }

    static func startClaude(_ agor: AgorHome, approval: Bool = true) throws -> String {
        var arguments = ["start", "--agent", "w1", "--provider", "claude", "--command", "/usr/bin/python3", "\(fixtures)/fake_claude.py",
                         "--prompt", "list the files", "--json"]
        if approval { arguments += ["--arg=--approval"] }
        let started = try session(agor, arguments)
        #expect(started.status == 0, "\(started.err)")
        let object = (try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any] ?? [:]
        return try #require(object["id"] as? String, "start printed \(started.out)")
    }

    @Test("a Claude session: approval answered, a second turn, logs from a number, stop")
    func claudeSessionEndToEnd() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let id = try Self.startClaude(agor)
        let waiting = try await Self.waitFor(agor, id, state: "needs_input")
        #expect(Set(waiting["tools_in_flight"] as? [String] ?? []) == ["t1_a", "t1_b"])
        for key in ["id", "agent", "provider", "state", "tools_in_flight", "usage", "cost_usd", "sandbox", "worktree"] {
            #expect(waiting[key] != nil, "show --json lacks \(key)")
        }
        let sandbox = waiting["sandbox"] as? [String: String] ?? [:]
        #expect(sandbox["process_group"] == "held" && sandbox["no_new_privs"] == "held" && ["held", "unavailable"].contains(sandbox["landlock"] ?? ""))
        #expect(try Self.session(agor, ["answer", id, "allow"]).status == 0)
        let idle = try await Self.waitFor(agor, id, state: "idle")
        #expect((idle["tools_in_flight"] as? [String])?.isEmpty == true && (idle["cost_usd"] as? Double ?? 0) > 0)
        #expect(try Self.session(agor, ["send", id, "and now the tests"]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "needs_input")
        #expect(try Self.session(agor, ["answer", id, "deny"]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "idle")

        let logs = try Self.session(agor, ["logs", id, "--json"])
        let events = logs.out.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        #expect(events.count >= 20 && events.allSatisfy { $0["seq"] is Int && $0["type"] is String })
        #expect(events.map { $0["seq"] as? Int ?? 0 } == Array(1...events.count))
        #expect(events.contains { $0["type"] as? String == "approval.answered" && $0["by"] as? String == "operator" })
        #expect(events.contains { $0["type"] as? String == "assistant.text" && $0["text"] as? String == "permission: deny" })
        let tail = try Self.session(agor, ["logs", id, "--json", "--from", "5"])
        #expect(tail.out.split(separator: "\n").first.map { $0.contains("\"seq\":5") } == true)

        #expect(try Self.session(agor, ["stop", id]).status == 0)
        let stopped = try await Self.waitFor(agor, id, state: "stopped")
        #expect((stopped["tools_in_flight"] as? [String])?.isEmpty == true)
        let last = try Self.session(agor, ["logs", id, "--json"]).out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("\"type\":\"session.finished\""))
        #expect(try Self.session(agor, ["send", id, "too late"]).status == 5)
    }

    @Test("refusals are typed, exit with their status and change nothing")
    func refusals() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let id = try Self.startClaude(agor)
        _ = try await Self.waitFor(agor, id, state: "needs_input")
        let base = ["start", "--agent", "w1", "--provider", "claude", "--command", "/usr/bin/python3", "\(Self.fixtures)/fake_claude.py", "--prompt", "x"]
        let cases: [(String, [String], Int32)] = [
            ("w1", base, 3),                                                   // a worker starts nothing
            ("x1", base, 3),                                                   // a manager of another group
            ("operator", ["start", "--agent", "w1", "--provider", "gpt9", "--prompt", "x"], 2),
            ("operator", ["start", "--agent", "w1", "--provider", "ndjson", "--prompt", "x"], 2),   // no command
            ("operator", ["start", "--agent", "nobody", "--provider", "claude", "--prompt", "x"], 4),
            ("operator", ["start", "--agent", "w1", "--provider", "claude", "--command", "/nonexistent/claude", "--prompt", "x"], 2),
            ("operator", ["start", "--agent", "w1", "--provider", "claude"], 2),                    // no prompt
            ("operator", ["show", "00000000-0000-0000-0000-000000000000"], 4),
            ("x1", ["show", id], 4),                                           // not its group: not even seen
            ("w1", ["stop", id], 3),                                           // the agent reads its session, does not stop it
            ("operator", ["answer", id, "maybe"], 2),
        ]
        for (who, arguments, status) in cases {
            let result = try Self.session(agor, arguments, as: who)
            #expect(result.status == status, "\(who) \(arguments): \(result.status) \(result.err)")
            #expect(result.err.split(separator: "\n").count == 1, "\(arguments): \(result.err)")
        }
        // The agent may read its own session; nothing above changed it.
        #expect(try Self.session(agor, ["show", id, "--json"], as: "w1").status == 0)
        let list = try Self.session(agor, ["list", "--json"])
        let state = try Self.show(agor, id)["state"] as? String
        #expect(list.out.split(separator: "\n").count == 1 && state == "needs_input")
    }

    @Test("the session's stream: the group's managers and the agent itself, nobody else")
    func streamRights() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let id = try Self.startClaude(agor, approval: false)
        _ = try await Self.waitFor(agor, id, state: "idle")
        let config = try BusConfig.load(from: agor.home.configFile)
        let endpoint = try #require(config.service("runner")).pub
        let serverKey = try #require(Directory(folder: agor.home.directoryFolder).principal(named: "runner")).publicKey
        let context = Context()
        func tap(_ who: String, _ prefix: String) throws -> EventTap {
            try EventTap(context: context, endpoint: endpoint, serverKey: serverKey,
                         key: try CurveKeyPair.read(from: agor.home.secretKeyFile(who)), prefix: prefix)
        }
        let stream = "runner/default/\(id)"
        let taps = [("m1", "runner/default/", true), ("w1", stream, true), ("w1", "runner/default/", false), ("x1", stream, false)]
        let opened = try taps.map { (try tap($0.0, $0.1), $0.2) }
        try await Task.sleep(for: .milliseconds(500))   // let the subscriptions reach the runner
        #expect(try Self.session(agor, ["send", id, "one more"]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "idle")
        try await Task.sleep(for: .milliseconds(500))
        for ((who, prefix, allowed), (tap, _)) in zip(taps, opened) {
            #expect(tap.eventSeqs.isEmpty != allowed, "\(who) on \(prefix): \(tap.eventSeqs.count) events")
            await tap.close()
        }
    }

    @Test("bounded lines, U+2028 unchanged, and a runner restart interrupts running sessions and resumes them")
    func boundsAndRestart() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let flood = try Self.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/usr/bin/python3",
                                            "\(Self.fixtures)/misbehave.py", "bigline", "12", "--prompt", "x", "--json"])
        let floodId = try #require(((try? JSONSerialization.jsonObject(with: Data(flood.out.utf8))) as? [String: Any])?["id"] as? String, "\(flood.err)")
        _ = try await Self.waitFor(agor, floodId, state: "finished")
        let lines = try Self.session(agor, ["logs", floodId, "--json"]).out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("\"line_too_long\"") })
        #expect(lines.contains { $0.contains("sep\u{2028}arated") }, "U+2028 must come out unchanged")
        #expect(lines.contains { $0.contains("after the flood") })

        let id = try Self.startClaude(agor)
        _ = try await Self.waitFor(agor, id, state: "needs_input")
        let runner = try #require(agor.children.first { $0.isRunning && $0.arguments?.contains("runner") == true })
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        // Marked interrupted, then resumed from the same directory (Claude's --resume): it waits for a turn.
        let resumed = try await Self.waitFor(agor, id, state: "idle")
        #expect(resumed["state_reason"] as? String == "resumed: waiting for a turn")
        let log = try Self.session(agor, ["logs", id]).out
        #expect(log.contains("interrupted: the runner stopped while the session ran") && log.contains("resumed after the runner restarted"))
        #expect(try Self.session(agor, ["send", id, "after the restart"]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "needs_input")   // the same arguments: it asks again
        #expect(try Self.session(agor, ["answer", id, "allow"]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "idle")
        let floodState = try Self.show(agor, floodId)["state"] as? String
        #expect(floodState == "finished")
    }

    @Test("silence past the project's stall threshold is stalled, and stop ends it")
    func stalls() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        #expect(try AgorHome.run(["settings", "set", "stall_threshold_s", "10", "--home", agor.home.root.path]).status == 0)
        let started = try Self.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/usr/bin/python3",
                                              "\(Self.fixtures)/misbehave.py", "ignore-term", "--prompt", "x", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        _ = try await Self.waitFor(agor, id, state: "running")
        let stalled = try await Self.waitFor(agor, id, state: "stalled")
        #expect((stalled["state_reason"] as? String ?? "").hasPrefix("silent for"))
        #expect(try Self.session(agor, ["stop", id]).status == 0)
        let stopped = try await Self.waitFor(agor, id, state: "stopped")
        #expect(stopped["signal"] as? Int == Int(SIGKILL))   // it ignores SIGTERM: the group was killed
    }

    @Test("a provider's secrets from the vault reach its agents only, and the environment is cleared")
    func secretsAndEnvironment() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        #expect(try AgorHome.run(["vault", "set", "provider/ndjson/NDJSON_TOKEN", "s3cret", "--home", root]).status == 0)
        #expect(try AgorHome.run(["vault", "set", "provider/claude/ANTHROPIC_API_KEY", "not-for-ndjson", "--home", root]).status == 0)
        let started = try Self.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/usr/bin/python3",
                                              "\(Self.fixtures)/misbehave.py", "env", "--prompt", "x", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        _ = try await Self.waitFor(agor, id, state: "finished")
        let logs = try Self.session(agor, ["logs", id, "--json"]).out.split(separator: "\n")
        let text = try #require(logs.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            .first { $0["type"] as? String == "assistant.text" }?["text"] as? String)
        let environment = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(environment["NDJSON_TOKEN"] == "s3cret" && environment["ANTHROPIC_API_KEY"] == nil)
        #expect(environment["AGOR_SESSION"] == id && environment["AGOR_KEY"]?.hasSuffix("/agent.key") == true)
        // The agent's key copy is the agent's own key, readable by it alone.
        let copy = try #require(environment["AGOR_KEY"])
        #expect(try CurveKeyPair.read(from: URL(fileURLWithPath: copy)).publicKey
                == CurveKeyPair.read(from: agor.home.secretKeyFile("w1")).publicKey)
        #expect(Set(environment.keys).isSubset(of: ["PATH", "HOME", "TMPDIR", "LANG", "AGOR_HOME", "AGOR_KEY", "AGOR_SESSION", "NDJSON_TOKEN", "LC_CTYPE"]),
                "\(environment.keys.sorted())")
    }

    @Test("through the Gateway: a manager starts a session over REST and follows it on /v1/stream")
    func throughTheGateway() async throws {
        let home = try AgorHome()
        defer { home.cleanUp() }
        let (ann, http) = try await GatewayProcessTests.startSystem(home)
        #expect(try AgorHome.run(["agent", "add", "w9", "--group", "web", "--role", "worker", "--home", home.home.root.path]).status == 0)
        let worker = try AgorHome.run(["user", "add", "bob", "--group", "web", "--role", "worker", "--home", home.home.root.path])
        let bob = String(worker.output.split(separator: "\n").last ?? "")
        let url = "ws://\(http)/v1/stream?services=runner"
        let client = try GatewayProcessTests.startStream(url, token: ann, count: 6)
        #expect(await client.waitForHello())
        let watcher = try GatewayProcessTests.startStream(url, token: bob, count: 1)
        #expect(await watcher.waitForHello())
        let started = try await GatewayProcessTests.send("POST", "http://\(http)/v1/sessions", token: ann, json: [
            "agent": "w9", "provider": "claude", "command": "/usr/bin/python3", "args": ["\(Self.fixtures)/fake_claude.py"], "prompt": "hello"])
        #expect(started.status == 201, "\(String(decoding: started.body, as: UTF8.self))")
        let id = try #require(started.json["id"] as? String)
        let events = GatewayProcessTests.events(client.finish())
        #expect(events.count == 6 && events.allSatisfy { $0.stream == "runner/web/\(id)" })
        #expect(events.map(\.seq) == Array(1...6))
        let shown = try await GatewayProcessTests.send("GET", "http://\(http)/v1/sessions/\(id)", token: ann)
        #expect(shown.status == 200 && shown.json["agent"] as? String == "w9")
        // Its stored events over REST, from a number on.
        let stored = try await GatewayProcessTests.send("GET", "http://\(http)/v1/sessions/\(id)/events?from=3&limit=2", token: ann)
        let frames = stored.json["events"] as? [[String: Any]] ?? []
        #expect(stored.status == 200 && frames.map { $0["seq"] as? Int } == [3, 4], "\(String(decoding: stored.body, as: UTF8.self))")
        #expect(frames.allSatisfy { $0["stream"] as? String == "runner/web/\(id)" && $0["type"] is String && $0["event"] is [String: Any] })
        #expect((stored.json["head_seq"] as? Int ?? 0) >= 6)
        for query in ["from=0", "from=x", "limit=0", "limit=99999"] {
            #expect(try await GatewayProcessTests.send("GET", "http://\(http)/v1/sessions/\(id)/events?\(query)", token: ann).status == 400, "\(query)")
        }
        #expect(try await GatewayProcessTests.send("GET", "http://\(http)/v1/sessions/\(id)/events", token: bob).status == 404)
        // A worker person sees neither the session nor its stream.
        #expect(try await GatewayProcessTests.send("GET", "http://\(http)/v1/sessions/\(id)", token: bob).status == 404)
        #expect(try await GatewayProcessTests.send("POST", "http://\(http)/v1/sessions/\(id)/stop", token: bob, json: [:]).status == 404)
        watcher.process.terminate()
        let seen = GatewayProcessTests.events(watcher.finish())
        #expect(seen.isEmpty, "bob saw \(seen.count) session events")
        #expect(try await GatewayProcessTests.send("POST", "http://\(http)/v1/sessions/\(id)/stop", token: ann, json: [:]).status == 200)
    }

    @Test("agor project untrack deletes the project's sessions, and changes nothing while the runner is down")
    func untrack() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        let folder = agor.home.root.appendingPathComponent("p1-root")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #expect(try AgorHome.run(["project", "add", "p1", "--group", "default", "--root", folder.path, "--home", root]).status == 0)
        let started = try Self.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--project", "p1", "--command", "/usr/bin/python3",
                                              "\(Self.fixtures)/misbehave.py", "env", "--prompt", "x", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        let finished = try await Self.waitFor(agor, id, state: "finished")
        #expect(finished["cwd"] as? String == folder.path)
        // Runner down: refused, nothing changes.
        let runner = try #require(agor.children.first { $0.isRunning && $0.arguments?.contains("runner") == true })
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        let refused = try AgorHome.run(["project", "untrack", "p1", "--home", root, "--timeout", "1"])
        #expect(refused.status == 6, "\(refused.output)")
        #expect(try AgorHome.run(["project", "list", "--home", root]).output.contains("p1"))
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        #expect(try Self.session(agor, ["show", id]).status == 0)
        let untracked = try AgorHome.run(["project", "untrack", "p1", "--home", root])
        #expect(untracked.status == 0 && untracked.output.contains("1 session(s) deleted"), "\(untracked.output)")
        #expect(try Self.session(agor, ["show", id]).status == 4)
        #expect(!(try AgorHome.run(["project", "list", "--home", root]).output.contains("p1")))
        #expect(!FileManager.default.fileExists(atPath: agor.home.dataFolder.appendingPathComponent("runner/sessions/\(id)").path))
        #expect(try AgorHome.run(["project", "untrack", "nope", "--home", root]).status == 4)
    }

    @Test("the loop guard and a turn budget pause a session in needs_input; a person lets it go on or stops it")
    func budgets() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let loop = try Self.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/usr/bin/python3",
                                           "\(Self.fixtures)/misbehave.py", "loop", "8", "--prompt", "x", "--json"])
        let loopId = try #require(((try? JSONSerialization.jsonObject(with: Data(loop.out.utf8))) as? [String: Any])?["id"] as? String, "\(loop.err)")
        let paused = try await Self.waitFor(agor, loopId, state: "needs_input")
        #expect((paused["state_reason"] as? String ?? "").hasPrefix("loop guard: the same tool call 5 times"))
        #expect(try Self.session(agor, ["answer", loopId, "deny"]).status == 0)
        _ = try await Self.waitFor(agor, loopId, state: "stopped")

        #expect(try AgorHome.run(["settings", "set", "runner.budget.max_turns", "1", "--home", agor.home.root.path]).status == 0)
        let id = try Self.startClaude(agor, approval: false)
        let spent = try await Self.waitFor(agor, id, state: "needs_input")
        #expect(spent["state_reason"] as? String == "budget: 1 turns (limit 1)")
        #expect(try Self.session(agor, ["answer", id, "allow"]).status == 0)   // let it go on
        _ = try await Self.waitFor(agor, id, state: "running")
        #expect(try Self.session(agor, ["send", id, "one more"]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "idle")
    }

    @Test("an idle Claude session finishes after the idle timeout")
    func idleTimeout() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        #expect(try AgorHome.run(["settings", "set", "runner.idle_timeout_s", "2", "--home", agor.home.root.path]).status == 0)
        let id = try Self.startClaude(agor, approval: false)
        _ = try await Self.waitFor(agor, id, state: "idle")
        let finished = try await Self.waitFor(agor, id, state: "finished")
        #expect(finished["exit_code"] as? Int == 0)
    }

    @Test("a project that asks for worktrees gets one per session: its own branch, locked while it runs, removed on untrack")
    func worktrees() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        let repo = agor.home.root.appendingPathComponent("repo").path
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try "hello\n".write(toFile: repo + "/README", atomically: true, encoding: .utf8)
        for command in [["init", "-q", "-b", "main"], ["-c", "user.name=t", "-c", "user.email=t@t", "add", "README"],
                        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first"]] {
            #expect(try AgorHome.run(["-C", repo] + command, program: URL(fileURLWithPath: "/usr/bin/git")).status == 0)
        }
        #expect(try AgorHome.run(["project", "add", "p1", "--group", "default", "--root", repo, "--home", root]).status == 0)
        #expect(try AgorHome.run(["settings", "set", "runner.worktree", "on", "--project", "p1", "--home", root]).status == 0)
        let started = try Self.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--project", "p1", "--command", "/usr/bin/python3",
                                              "\(Self.fixtures)/misbehave.py", "ignore-term", "--prompt", "x", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        let running = try await Self.waitFor(agor, id, state: "running")
        let worktree = try #require(running["worktree"] as? String)
        #expect(running["cwd"] as? String == worktree && FileManager.default.fileExists(atPath: worktree + "/README"))
        func list() throws -> String { try AgorHome.run(["-C", repo, "worktree", "list", "--porcelain"], program: URL(fileURLWithPath: "/usr/bin/git")).output }
        let whileRunning = try list()
        #expect(whileRunning.contains("branch refs/heads/agor/\(id)\nlocked"), "\(whileRunning)")
        #expect(try Self.session(agor, ["stop", id]).status == 0)
        _ = try await Self.waitFor(agor, id, state: "stopped")
        #expect(try await eventually(100) { try !list().contains("locked") })
        #expect(try AgorHome.run(["project", "untrack", "p1", "--home", root]).status == 0)
        let after = try list()
        #expect(!after.contains("agor/\(id)") && !FileManager.default.fileExists(atPath: worktree), "\(after)")
    }
}
