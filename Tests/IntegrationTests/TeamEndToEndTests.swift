import Bus
import Foundation
import Testing

/// The realistic fixtures (Tests/Fixtures/projects: four projects in two groups, Claude, Codex and
/// Ollama, five roles, worktrees on and off) run on a real system, and a team works end to end on
/// one of them with a person answering its approval in the dashboard.
@Suite("team end to end", .serialized, .timeLimit(.minutes(5)))
struct TeamEndToEndTests {
    struct Fixture: Decodable {
        var group: String
        var provider: String
        var worktree: Bool
        var agents: [String: String]
        var program: [String]
        var tasks: [String]
    }

    static let folder = AgorHome.packageRoot.appendingPathComponent("Tests/Fixtures")

    /// Each fixture project copied into the home's folder (a git repository when it wants worktrees),
    /// its group, agents, project and settings added; the fixtures by name.
    static func install(_ agor: AgorHome) throws -> [String: Fixture] {
        let root = agor.home.root.path
        var fixtures: [String: Fixture] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("projects").path).sorted()
        for name in names {
            let source = folder.appendingPathComponent("projects/\(name)")
            let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: source.appendingPathComponent("fixture.json")))
            fixtures[name] = fixture
            if !Directory(folder: agor.home.directoryFolder).groups.contains(fixture.group) {
                #expect(try AgorHome.run(["group", "add", fixture.group, "--home", root]).status == 0)
            }
            // Sessions are started by a manager of their group: one per group.
            var agents = fixture.agents
            agents["chief-\(fixture.group)"] = "manager"
            for (agent, role) in agents.sorted(by: { $0.key < $1.key }) where Directory(folder: agor.home.directoryFolder).principal(named: agent) == nil {
                #expect(try AgorHome.run(["agent", "add", agent, "--group", fixture.group, "--role", role, "--home", root]).status == 0)
            }
            let copy = agor.home.root.appendingPathComponent("projects/\(name)")
            try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source, to: copy)
            if fixture.worktree {
                for step in [["init", "-q"], ["add", "."], ["-c", "user.name=fixture", "-c", "user.email=f@x", "commit", "-qm", "fixture"]] {
                    #expect(try AgorHome.run(["-C", copy.path] + step, program: URL(fileURLWithPath: "/usr/bin/git")).status == 0)
                }
            }
            #expect(try AgorHome.run(["project", "add", name, "--group", fixture.group, "--root", copy.path, "--home", root]).status == 0)
            if fixture.worktree {
                #expect(try AgorHome.run(["settings", "set", "runner.worktree", "on", "--project", name, "--home", root]).status == 0)
            }
        }
        return fixtures
    }

    static func program(_ fixture: Fixture) -> [String] {
        fixture.program.enumerated().map { $0.offset == 0 ? $0.element : folder.appendingPathComponent($0.element).path }
    }

    @Test("every fixture project runs its provider in its group: Codex with agor's tools from CODEX_HOME, Ollama, Claude in a worktree")
    func fixturesRun() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let fixtures = try await offThePool { try Self.install(agor) }
        #expect(Set(fixtures.values.map(\.provider)) == ["claude", "codex", "ollama"] && Set(fixtures.values.map(\.group)).count == 2)
        #expect(Set(fixtures.values.flatMap(\.agents.values)).count >= 4)
        let (ollama, _) = try await RunnerOllamaProcessTests.startFakeOllama(agor)
        defer { RunnerOllamaProcessTests.stop(ollama) }
        for service in ["btmsg", "bttask", "runner"] { _ = try agor.serve(service) }
        for service in ["btmsg", "bttask", "runner"] { #expect(try await agor.waitUntilAnswers(service)) }

        for (name, fixture) in fixtures.sorted(by: { $0.key < $1.key }) where name != "webshop" {
            let agent = try #require(fixture.agents.keys.first)
            var arguments = ["start", "--agent", agent, "--provider", fixture.provider, "--project", name, "--prompt", "look at \(name)", "--json"]
            if !fixture.program.isEmpty { arguments += ["--command"] + Self.program(fixture) }
            if fixture.provider == "ollama" { arguments += ["--model", "fake-model"] }
            let started = try RunnerProcessTests.session(agor, arguments, as: "chief-\(fixture.group)")
            let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String,
                                  "\(name): \(started.err)")
            let shown = try await RunnerProcessTests.waitFor(agor, id, as: "chief-\(fixture.group)", state: fixture.provider == "codex" ? "finished" : "idle")
            #expect(shown["group"] as? String == fixture.group && shown["project"] as? String == name)
            #expect((shown["worktree"] as? String ?? "").isEmpty == !fixture.worktree, "\(name): \(shown)")
            let events = try RunnerLimitsProcessTests.logs(agor, id, as: "chief-\(fixture.group)")
            #expect(events.contains { $0["type"] as? String == "turn.finished" }, "\(name): \(events.suffix(6))")
            if fixture.provider == "codex" {
                // The fake Codex called agor's whoami through the MCP server its CODEX_HOME names.
                let result = events.first { event in
                    let content = event["content"] as? String ?? ""
                    return event["type"] as? String == "tool.result" && content.contains(agent) && content.contains(fixture.agents[agent] ?? "?")
                }
                #expect(result != nil, "\(events.filter { $0["type"] as? String == "tool.result" })")
            }
            if fixture.provider != "codex" { #expect(try RunnerProcessTests.session(agor, ["stop", id], as: "chief-\(fixture.group)").status == 0) }
        }
    }

    @Test("a team on the webshop: the manager spawns two children through MCP, they claim, lease and message, a person allows in Chromium, all finish, in order on the stream")
    func teamEndToEnd() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let fixtures = try await offThePool { try Self.install(agor) }
        let webshop = try #require(fixtures["webshop"])
        let user = try AgorHome.run(["user", "add", "ann", "--group", webshop.group, "--role", "manager", "--home", agor.home.root.path])
        let token = String(user.output.split(separator: "\n").last ?? "")
        let http = try await agor.serveAll().http
        var tasks: [String] = []
        for title in webshop.tasks {
            let created = try await GatewayProcessTests.send("POST", "http://\(http)/v1/tasks", token: token, json: ["title": title, "group": webshop.group])
            #expect(created.status == 201)
            tasks.append(try #require((created.json["task"] as? [String: Any])?["id"] as? String))
        }
        #expect(tasks.count == 2)

        let screenshot = AgorHome.packageRoot.appendingPathComponent(".build/team.png")
        let driver = [AgorHome.packageRoot.appendingPathComponent("Tests/Interop/team_e2e.py").path, "http://\(http)", token,
                      screenshot.path, Self.folder.appendingPathComponent("agents/mcp_agent.py").path, tasks[0], tasks[1]]
        let (status, output) = try await offThePool { () -> (Int32, String) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + driver
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: out.fileHandleForReading.readAll(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output)
        }
        #expect(status == 0, "\(output)")
        let checks = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:]
        for check in ["signed_in", "team_tree", "builder_needs_you", "leases_shown", "team_finished", "tasks_done", "leases_gone",
                      "streams_gapless", "children_linked", "builder_steps_in_order", "checker_steps_in_order", "screenshot"] {
            #expect(checks[check] as? Bool == true, "\(check): \(output)")
        }
        // The children's certificates are gone with them.
        #expect(!FileManager.default.fileExists(atPath: agor.home.directoryFolder.appendingPathComponent("spawned/builder.cert").path))
    }
}
