import AgorTestSupport
import AgentRunner
import Bus
import Foundation
import RunnerAPI
import Testing

/// Agent teams with real processes: the runner spawns children of a manager's session, each a new
/// agent with its own key in the runner's part of the directory; limits, rights, stop cascade, and a
/// child's end reaching its parent as a turn.
@Suite("agent teams", .serialized, .timeLimit(.minutes(4)))
struct TeamsProcessTests {
    /// `who`'s key: in keys/, or (a spawned child, which has none there) its session folder's copy.
    func spawn(_ agor: AgorHome, as who: String, parent: String, role: String = "", prompt: String = "write the tests",
               keyFile: URL? = nil) async throws -> Agor_Runner_V1_Session {
        var request = Agor_Runner_V1_SpawnRequest()
        request.parent = parent; request.role = role; request.prompt = prompt
        let rpc = try ServiceClient(home: agor.home, keyFile: keyFile ?? agor.home.secretKeyFile(who)).rpc(RunnerAPI.service)
        defer { Task { await rpc.close() } }
        return try await rpc.call(RunnerAPI.spawn, request, options: .init(timeout: .seconds(20)))
    }

    func refusal(_ agor: AgorHome, as who: String, parent: String, role: String = "", keyFile: URL? = nil) async -> BusError? {
        do { _ = try await spawn(agor, as: who, parent: parent, role: role, keyFile: keyFile); return nil } catch let error as BusError { return error } catch {
            return BusError.internalError("\(error)")
        }
    }

    @Test("a manager's session spawns a child agent with its own key; rights, depth and fan-out are checked; stop ends the team; a child's end reaches its parent")
    func teams() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        for (name, role) in [("m1", "manager"), ("w1", "worker")] {
            #expect(try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root]).status == 0)
        }
        #expect(try AgorHome.run(["settings", "set", "runner.team.max_children", "2", "--home", root]).status == 0)
        #expect(try AgorHome.run(["settings", "set", "runner.team.max_depth", "1", "--home", root]).status == 0)
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        var start = ["start", "--agent", "m1", "--provider", "claude", "--command", "/usr/bin/python3", "\(RunnerProcessTests.fixtures)/fake_claude.py",
                     "--prompt", "lead the work", "--json"]
        let started = try RunnerProcessTests.session(agor, start)
        let parent = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        _ = try await RunnerProcessTests.waitFor(agor, parent, state: "idle")

        // The parent's agent spawns a child: a new agent of its group, its own key, its certificate in spawned/.
        let child = try await spawn(agor, as: "m1", parent: parent)
        #expect(child.agent == "m1-1" && child.parent == parent && child.depth == 1 && child.group == "default")
        let certificate = agor.home.directoryFolder.appendingPathComponent("spawned/m1-1.cert")
        #expect(FileManager.default.fileExists(atPath: certificate.path))
        #expect(try String(contentsOf: certificate, encoding: .utf8).contains("role = \"worker\""))
        #expect(try await WakeProcessTests.waitForLog(agor, child.id, "On it: write the tests"))
        // btmsg knows the child (its watcher read spawned/): the child is a messaging party of the group.
        #expect(try await eventually(100) { try agor.btmsg("operator", ["send", "m1-1", "welcome"]).status == 0 })

        // Refusals: someone else's session (404), a role above the parent's or an operator (403/400),
        // deeper than runner.team.max_depth (403), more children than runner.team.max_children (409).
        #expect(await refusal(agor, as: "w1", parent: parent)?.errorCode == .notFound)
        #expect(await refusal(agor, as: "m1", parent: parent, role: "operator")?.errorCode == .badRequest)
        let childKey = agor.home.dataFolder.appendingPathComponent("runner/sessions/\(child.id)/agent.key")
        let above = await refusal(agor, as: "m1-1", parent: child.id, role: "manager", keyFile: childKey)
        #expect(above?.errorCode == .forbidden && above?.message.contains("no more rights than its parent") == true)
        let deeper = await refusal(agor, as: "operator", parent: child.id)
        #expect(deeper?.errorCode == .forbidden && deeper?.message.contains("at most 1 deep") == true)
        let second = try await spawn(agor, as: "operator", parent: parent, prompt: "write the docs")
        #expect(await refusal(agor, as: "m1", parent: parent)?.errorCode == .conflict)
        var list = Agor_Runner_V1_ListRequest()
        list.parent = parent
        let runner = try agor.client(key: "m1").rpc(RunnerAPI.service)
        #expect(Set(try await runner.call(RunnerAPI.list, list, options: .init(timeout: .seconds(10))).sessions.map(\.id)) == [child.id, second.id])

        // The parent's agent stops its child: the child's key is refused from then on (its
        // certificate gone) and its end reaches the parent as a turn.
        var ref = Agor_Runner_V1_SessionRef()
        ref.id = child.id
        _ = try await runner.call(RunnerAPI.stop, ref, options: .init(timeout: .seconds(10)))
        _ = try await RunnerProcessTests.waitFor(agor, child.id, state: "stopped")
        #expect(!FileManager.default.fileExists(atPath: certificate.path))
        #expect(try await WakeProcessTests.waitForLog(agor, parent, "On it: team: m1-1 stopped"))

        // Stopping the parent stops the rest of its team.
        start = ["stop", parent]
        #expect(try RunnerProcessTests.session(agor, start).status == 0)
        _ = try await RunnerProcessTests.waitFor(agor, second.id, state: "stopped")
        #expect(!FileManager.default.fileExists(atPath: agor.home.directoryFolder.appendingPathComponent("spawned/\(second.agent).cert").path))
        await runner.close()
    }

    @Test("a team shares its parent's budget: a child gets what is left, the team's turns count against the parent, a spent parent spawns no more")
    func sharedBudget() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        #expect(try AgorHome.run(["agent", "add", "m1", "--group", "default", "--role", "manager", "--home", root]).status == 0)
        #expect(try AgorHome.run(["settings", "set", "runner.budget.max_turns", "5", "--home", root]).status == 0)
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        func turns(_ id: String, _ count: Int) async throws -> [String: Any] {
            var shown: [String: Any] = [:]
            if try await eventually(400, { () async throws -> Bool in
                shown = try RunnerProcessTests.show(agor, id)
                return shown["turns"] as? Int == count && shown["state"] as? String != "running"
            }) { return shown }
            Issue.record("session \(id) never finished \(count) turns: \(shown)")
            return shown
        }
        let start = ["start", "--agent", "m1", "--provider", "claude", "--command", "/usr/bin/python3", "\(RunnerProcessTests.fixtures)/fake_claude.py",
                     "--prompt", "lead the work", "--json"]
        let started = try RunnerProcessTests.session(agor, start)
        let parent = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        _ = try await turns(parent, 1)

        // The parent finished 1 turn of 5: its first child may spend the 4 left.
        let first = try await spawn(agor, as: "m1", parent: parent, prompt: "write the tests")
        #expect(first.budget.maxTurns == 4 && first.parent == parent)
        _ = try await turns(first.id, 1)
        // 2 of 5 spent by the team: a second child asking for 9 (through the command line) gets 3.
        let spawned = try RunnerProcessTests.session(agor, ["start", "--parent", parent, "--prompt", "write the docs", "--max-turns", "9", "--json"])
        let second = try #require(((try? JSONSerialization.jsonObject(with: Data(spawned.out.utf8))) as? [String: Any])?["id"] as? String, "\(spawned.err)")
        let secondShown = try await turns(second, 1)
        #expect((secondShown["budget"] as? [String: Any])?["max_turns"] as? Int == 3 && secondShown["depth"] as? Int == 1)

        // The parent's second turn: 4 of 5. The first child's second turn is within its own 4 but
        // brings the team to 5: it pauses, naming its parent's budget.
        #expect(try RunnerProcessTests.session(agor, ["send", parent, "go on"]).status == 0)
        #expect(try await turns(parent, 2)["state"] as? String == "idle")
        #expect(try RunnerProcessTests.session(agor, ["send", first.id, "go on"]).status == 0)
        let child = try await RunnerProcessTests.waitFor(agor, first.id, state: "needs_input")
        #expect(child["state_reason"] as? String == "budget: 5 turns with its team (limit 5) of parent session \(parent.prefix(8))", "\(child)")
        // A spent parent spawns no more; its own next step pauses it too (its turn, or any event before it).
        let refused = await refusal(agor, as: "m1", parent: parent)
        #expect(refused?.errorCode == .conflict && refused?.message.contains("the parent's budget: 5 turns with its team (limit 5) is spent") == true,
                "\(String(describing: refused))")
        #expect(try RunnerProcessTests.session(agor, ["send", parent, "go on"]).status == 0)
        let paused = try await RunnerProcessTests.waitFor(agor, parent, state: "needs_input")
        let reason = paused["state_reason"] as? String ?? ""
        #expect(["budget: 5 turns with its team (limit 5)", "budget: 6 turns with its team (limit 5)"].contains(reason), "\(paused)")
        // Bad input: budgets without --parent, and a child with a program of its own.
        #expect(try RunnerProcessTests.session(agor, ["start", "--agent", "m1", "--provider", "claude", "--prompt", "x", "--max-turns", "2"]).status != 0)
        #expect(try RunnerProcessTests.session(agor, ["start", "--parent", parent, "--provider", "claude", "--prompt", "x"]).status != 0)
        #expect(try RunnerProcessTests.session(agor, ["start", "--parent", parent, "--prompt", "x", "--max-turns", "0"]).status != 0)
        #expect(try RunnerProcessTests.session(agor, ["stop", parent]).status == 0)
        _ = try await RunnerProcessTests.waitFor(agor, second, state: "stopped")
    }

    @Test("the directory reads the runner's part with its limits: no operator, no rights, no name of the rest")
    func spawnedCertificatesAreLimited() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spawned-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let directory = Directory(folder: folder)
        try directory.write(Principal(name: "lead", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["default"], role: .manager, rights: []))
        try directory.writeSpawned(Principal(name: "lead-1", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["default"], role: .worker, rights: []))
        try directory.writeSpawned(Principal(name: "boss", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["default"], role: .operator_, rights: []))
        try directory.writeSpawned(Principal(name: "helper", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["default"], role: .worker, rights: [.delegate]))
        try directory.writeSpawned(Principal(name: "lead", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["default"], role: .worker, rights: []))
        #expect(directory.principal(named: "lead-1")?.role == .worker)
        #expect(directory.principal(named: "boss") == nil && directory.principal(named: "helper") == nil)
        #expect(directory.principal(named: "lead")?.role == .manager)   // the spawned namesake is refused
        #expect(directory.current.rejected.keys.sorted() == ["boss.cert", "helper.cert", "lead.cert"])
        directory.removeSpawned("lead-1")
        #expect(directory.principal(named: "lead-1") == nil)
    }
}
