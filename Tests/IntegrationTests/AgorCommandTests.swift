import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Testing

/// `agor` as an operator uses it, each command a real process.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AgorCommandTests {
    @Test func initTwiceChangesNothing() throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let files = ["config.toml", "keys/operator.key", "keys/btmsg.key", "directory/operator.cert", "directory/btmsg.cert", "directory/groups.toml"]
        let before = try files.map { try Data(contentsOf: it.home.root.appendingPathComponent($0)) }
        let again = try AgorHome.run(["init", "--home", it.home.root.path])
        #expect(again.status == 0)
        #expect(again.output.contains("nothing new"))
        let after = try files.map { try Data(contentsOf: it.home.root.appendingPathComponent($0)) }
        #expect(before == after)
        // The tests' echo service is not part of a home agor init makes.
        let config = try BusConfig.load(from: it.home.configFile)
        #expect(config.services.map(\.name) == ServiceCatalog.names && config.service("echo") == nil)
        #expect(!FileManager.default.fileExists(atPath: it.home.secretKeyFile("echo").path))
        let mode = try FileManager.default.attributesOfItem(atPath: it.home.secretKeyFile("operator").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func agentKeyWorksUntilRevoked() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let root = it.home.root.path
        #expect(try AgorHome.run(["agent", "add", "bot", "--group", "nope", "--home", root]).status != 0)
        #expect(try AgorHome.run(["agent", "add", "bot", "--group", "default", "--role", "wizard", "--home", root]).status != 0)
        #expect(try AgorHome.run(["group", "add", "team", "--home", root]).status == 0)
        let added = try AgorHome.run(["agent", "add", "bot", "--group", "team", "--role", "project", "--home", root])
        #expect(added.status == 0)
        let keyLine = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("AGOR_KEY=") })
        #expect(keyLine == "AGOR_KEY=\(it.home.secretKeyFile("bot").path)")
        #expect(try AgorHome.run(["agent", "add", "bot", "--group", "team", "--home", root]).status != 0)

        _ = try it.serve("echo")
        #expect(try await it.waitUntilAnswers("echo", key: "bot"))
        let ping = await (try it.client(key: "bot")).ping("echo")
        #expect(ping?.principal == "bot")

        #expect(try AgorHome.run(["revoke", "bot", "--home", root]).status == 0)
        // The running service drops the key without a restart.
        var refused = false
        for _ in 0..<50 where !refused {
            refused = await (try it.client(key: "bot")).ping("echo", timeout: .milliseconds(300)) == nil
        }
        #expect(refused)
        #expect(try await it.waitUntilAnswers("echo"))
    }

    @Test func statusFailsWhenNothingRuns() throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let status = try AgorHome.run(["status", "--home", it.home.root.path, "--json"])
        #expect(status.status == 1)
        #expect(status.output.contains("\"all_answer\":false"))
    }

    @Test func upRestartsAKilledServiceAndStopsEverythingOnSIGTERM() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let up = try it.start(["up", "--home", it.home.root.path])
        #expect(try await it.waitUntilAnswers("btmsg"))
        var state = try #require(await eventuallyState(it) { $0.services.first?.state == "running" })
        let firstPid = try #require(state.services.first?.pid)
        #expect(try AgorHome.run(["status", "--home", it.home.root.path]).status == 0)

        kill(firstPid, SIGKILL)
        state = try #require(await eventuallyState(it) { $0.services.first?.restarts == 1 && $0.services.first?.state == "running" })
        #expect(state.services.first?.pid != firstPid)
        #expect(try await it.waitUntilAnswers("btmsg"))
        let secondPid = try #require(state.services.first?.pid)

        kill(up.processIdentifier, SIGTERM)
        up.waitUntilExit()
        #expect(up.terminationStatus == 0)
        #expect(kill(secondPid, 0) != 0)  // the service is gone too
        #expect(!FileManager.default.fileExists(atPath: it.home.upStateFile.path))
        #expect(try AgorHome.run(["status", "--home", it.home.root.path]).status == 1)
    }

    @Test("agor up ends with an aligned table, the dashboard's address, how to sign in and an agent's first commands")
    func upTellsANewcomerWhatIsNext() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let path = it.home.root.path
        let up = try it.start(["up", "--home", path])
        defer { kill(up.processIdentifier, SIGTERM); up.waitUntilExit() }
        let log = it.home.root.appendingPathComponent("test-0.out")
        var text = ""
        _ = await eventually(600, every: .milliseconds(100)) {
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.contains("bttask ready")
        }
        let lines = text.split(separator: "\n").map(String.init)
        // Every row of the table has its RPC endpoint in the header's column, whatever the name's length.
        let table = lines.filter { $0.hasPrefix("SERVICE") || $0.contains("tcp://") }
        let rpcColumn = try #require(table.first?.range(of: "RPC")).lowerBound.utf16Offset(in: table[0])
        #expect(table.count == 6 && table.contains { $0.hasPrefix("diagnostics ") })
        #expect(!table.contains { $0.hasPrefix("echo ") })   // the tests' service is not the product's
        for row in table.dropFirst() { #expect(row.range(of: "tcp://")?.lowerBound.utf16Offset(in: row) == rpcColumn, "\(row)") }
        let http = try #require(BusConfig.load(from: it.home.configFile).service("gateway")?.http)
        #expect(lines.contains { $0.hasPrefix("dashboard") && $0.contains("http://\(http)/") })
        #expect(text.contains("agor user token operator --home \(path)"))
        #expect(text.contains("AGOR_KEY=\(it.home.keysFolder.path)/NAME.key btmsg inbox"))
        #expect(text.contains("AGOR_KEY=\(it.home.keysFolder.path)/NAME.key bttask ready"))

        // The command it names signs the operator in; a second token ends the first; only people get one.
        #expect(await GatewayProcessTests.waitForHTTP(http))
        let first = try AgorHome.run(["user", "token", "operator", "--home", path])
        #expect(first.status == 0)
        let token = String(first.output.split(separator: "\n").last ?? "")
        let me = try await GatewayProcessTests.send("GET", "http://\(http)/v1/me", token: token)
        #expect(me.status == 200 && me.json["name"] as? String == "operator")
        let second = try AgorHome.run(["user", "token", "operator", "--home", path])
        #expect(second.status == 0)
        #expect(try await GatewayProcessTests.send("GET", "http://\(http)/v1/me", token: token).status == 401)
        let newer = String(second.output.split(separator: "\n").last ?? "")
        #expect(try await GatewayProcessTests.send("GET", "http://\(http)/v1/me", token: newer).status == 200)
        let refused = try AgorHome.run(["user", "token", "btmsg", "--home", path])
        #expect(refused.status != 0 && refused.output.contains("only people sign in with tokens"))
        #expect(try AgorHome.run(["user", "token", "nobody", "--home", path]).status != 0)
    }

    @Test func downStopsARunningUpFromAnotherShellAndLogsShowTheServices() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let path = it.home.root.path
        #expect(try AgorHome.run(["down", "--home", path]).status == 4)   // nothing running
        let up = try it.start(["up", "--home", path])
        #expect(try await it.waitUntilAnswers("btmsg"))
        let servicePids = try #require(await eventuallyState(it) { $0.services.allSatisfy { $0.state == "running" } }).services.map(\.pid)

        let btmsgLog = try AgorHome.run(["logs", "btmsg", "-n", "5", "--home", path])
        #expect(btmsgLog.status == 0 && !btmsgLog.output.isEmpty && btmsgLog.output.split(separator: "\n").count <= 5)
        let all = try AgorHome.run(["logs", "--home", path, "-n", "2"])
        #expect(all.output.contains("[bttask] ") && all.output.contains("[btmsg] "))
        #expect(try AgorHome.run(["logs", "nosuch", "--home", path]).status == 2)

        let down = try AgorHome.run(["down", "--home", path])
        #expect(down.status == 0 && down.output.contains("stopped"))
        up.waitUntilExit()
        #expect(up.terminationStatus == 0)
        #expect(servicePids.allSatisfy { kill($0, 0) != 0 })
        #expect(try AgorHome.run(["down", "--home", path]).status == 4)
    }

    @Test func logsFollowAppendedLinesAndARotation() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        try FileManager.default.createDirectory(at: it.home.logsFolder, withIntermediateDirectories: true)
        let log = it.home.logFile("btmsg")
        try "old 1\nold 2\n".write(to: log, atomically: true, encoding: .utf8)
        let (follower, out) = try it.launch(AgorHome.agor, as: "operator", ["logs", "btmsg", "-n", "1", "-f", "--home", it.home.root.path])
        // Each step waits for the follower to print what came before, however slow the machine.
        var seen = ""
        func waitFor(_ text: String) {
            while !seen.contains(text) {
                let data = out.fileHandleForReading.availableData
                if data.isEmpty { return }
                seen += String(decoding: data, as: UTF8.self)
            }
        }
        waitFor("old 2\n")
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("appended\n".utf8))
        try handle.close()
        waitFor("appended\n")
        // Rotated as the service does it: the file moves to .1 and a new one starts.
        try FileManager.default.moveItem(at: log, to: URL(fileURLWithPath: log.path + ".1"))
        try "after rotation\n".write(to: log, atomically: false, encoding: .utf8)
        waitFor("after rotation\n")
        follower.terminate()
        follower.waitUntilExit()
        #expect(seen.split(separator: "\n").map(String.init) == ["old 2", "appended", "after rotation"])
    }

    func eventuallyState(_ it: AgorHome, _ condition: @escaping (UpState) -> Bool) async -> UpState? {
        await eventuallyValue(200) { UpState.read(it.home).flatMap { condition($0) ? $0 : nil } }
    }

    @Test("agor init adds the endpoints of services a home made by an older build lacks, keeping the rest")
    func initAddsMissingServices() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agor-upgrade-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let old = """
            # written by an older agor
            [bus]
            max_message_size = 1048576

            [services.echo]
            rpc = "tcp://127.0.0.1:29760"
            pub = "tcp://127.0.0.1:29761"

            [btmsg.retention]
            keep_days = 7
            """
        try old.write(to: root.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)
        let result = try AgorHome.run(["init", "--home", root.path])
        #expect(result.status == 0, "\(result.output)")
        let config = try BusConfig.load(from: root.appendingPathComponent("config.toml"))
        #expect(config.service("echo")?.rpc == "tcp://127.0.0.1:29760")
        #expect(config.service("btmsg")?.rpc == "tcp://127.0.0.1:29762")
        #expect(config.maxMessageSize == 1_048_576)
        let text = try String(contentsOf: root.appendingPathComponent("config.toml"), encoding: .utf8)
        #expect(text.contains("# written by an older agor") && text.contains("keep_days = 7"))
        // Running it again changes nothing.
        _ = try AgorHome.run(["init", "--home", root.path])
        #expect(try String(contentsOf: root.appendingPathComponent("config.toml"), encoding: .utf8) == text)
    }
}
