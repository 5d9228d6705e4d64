import AgorTestSupport
import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import Testing

/// `agor mcp` as agents run it: a real process on stdio, against real btmsg and bttask processes.
@Suite("agor mcp", .serialized, .timeLimit(.minutes(3)))
struct MCPProcessTests {
    static func makeHome() async throws -> AgorHome {
        let agor = try AgorHome()
        let root = agor.home.root.path
        for (name, role) in [("mia", "manager"), ("wes", "worker")] {
            let added = try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root])
            #expect(added.status == 0, "\(added.output)")
        }
        _ = try agor.serve("btmsg")
        _ = try agor.serve("bttask")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        #expect(try await agor.waitUntilAnswers("bttask"))
        return agor
    }

    @Test("PyPI's MCP client drives agor mcp: tools listed with schemas, send, claim, wait woken by a message, refusals as tool errors")
    func pythonClient() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        var create = Agor_Bttask_V1_CreateRequest()
        create.title = "wire the MCP door"
        let rpc = try agor.client(key: "mia").rpc(BttaskMethods.service)
        let task = try await rpc.call(BttaskMethods.create, create, options: .init(timeout: .seconds(10), idempotent: true)).task
        await rpc.close()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", AgorHome.packageRoot.appendingPathComponent("Tests/Interop/mcp_client.py").path,
                             AgorHome.agor.path, agor.home.root.path, agor.home.secretKeyFile("wes").path,
                             agor.home.secretKeyFile("mia").path, task.id]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readAll(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("mcp interop ok"), "\(output)")

        // What the agent did through MCP is in the services, as wes.
        let board = try agor.client(key: "mia").rpc(BttaskMethods.service)
        var ref = Agor_Bttask_V1_TaskRef()
        ref.id = task.id
        #expect(try await board.call(BttaskMethods.show, ref).task.assignee == "wes")
        await board.close()
        let inbox = try agor.btmsg("mia", ["inbox", "--json"])
        #expect(inbox.out.contains("hello from wes over mcp"))
    }

    @Test("bad input on stdin: an oversized line and a line that is not JSON get JSON-RPC errors; the server goes on answering")
    func badInput() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let process = Process()
        process.executableURL = AgorHome.agor
        process.arguments = ["mcp", "--home", agor.home.root.path, "--key", agor.home.secretKeyFile("wes").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let lines = LineCollector(output)

        // 5 MiB in one line (the limit is 4 MiB): dropped as it arrives, answered with a parse error.
        var big = Data("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"pad\":\"".utf8)
        big.append(Data(repeating: 0x61, count: 5 << 20))
        big.append(Data("\"}}\n".utf8))
        try input.fileHandleForWriting.write(contentsOf: big)
        try input.fileHandleForWriting.write(contentsOf: Data("this is not json\n".utf8))
        let initialize = """
            {"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}
            {"jsonrpc":"2.0","method":"notifications/initialized"}
            {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}

            """
        try input.fileHandleForWriting.write(contentsOf: Data(initialize.utf8))
        _ = await eventually(2000, every: .milliseconds(10)) { lines.lines.withLock { $0.count } >= 4 }
        let answers = lines.lines.withLock { $0 }
        #expect(answers.count == 4, "\(answers)")
        let parsed = answers.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
        let tooLong = parsed.first { (($0["error"] as? [String: Any])?["message"] as? String)?.contains("over the limit") == true }
        #expect((tooLong?["error"] as? [String: Any])?["code"] as? Int == -32700)
        #expect(parsed.contains { ($0["error"] as? [String: Any])?["code"] as? Int == -32700 && $0 as NSDictionary != tooLong as NSDictionary? })
        let initialized = parsed.first { ($0["id"] as? Int) == 2 }
        #expect((initialized?["result"] as? [String: Any])?["serverInfo"] != nil)
        let whoami = parsed.first { ($0["id"] as? Int) == 3 }
        let content = ((whoami?["result"] as? [String: Any])?["content"] as? [[String: Any]])?.first?["text"] as? String
        #expect(content?.contains("\"name\":\"wes\"") == true, "\(String(describing: whoami))")
        #expect(process.isRunning)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test("a session the runner starts has agor's tools: Claude gets --mcp-config, and agor mcp answers inside the sandbox as the session's agent")
    func runnerWritesTheMCPConfig() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        _ = try agor.serve("runner")
        #expect(try await agor.waitUntilAnswers("runner"))
        let started = try agor.tool(AgorHome.agor, "operator", ["session", "start", "--agent", "wes", "--provider", "claude",
                                                                "--command", "/usr/bin/python3", "\(RunnerProcessTests.fixtures)/fake_claude.py",
                                                                "--arg=--probe-mcp", "--prompt", "hello", "--json", "--home", agor.home.root.path])
        #expect(started.status == 0, "\(started.err)")
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String)
        #expect(try await WakeProcessTests.waitForLog(agor, id, "mcp (strict): "))
        let line = try WakeProcessTests.log(agor, id).first { $0.contains("mcp (strict): ") } ?? ""
        #expect(line.contains("\"name\":\"wes\"") && line.contains("\"role\":\"worker\""), "\(line)")
        // The configuration names agor mcp with the session's own key copy, not the agent's key in keys/.
        let config = try String(contentsOf: agor.home.root.appendingPathComponent("data/runner/sessions/\(id)/mcp.json"), encoding: .utf8)
        #expect(config.contains("sessions\\/\(id)\\/agent.key") || config.contains("sessions/\(id)/agent.key"), "\(config)")
    }
}
