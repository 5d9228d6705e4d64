import AgorKit
import btmsg
import BtmsgAPI
import Bus
import Foundation
import GRDB
import Testing

/// btmsg as people and agents use it: the real `agor serve btmsg` process and the real `btmsg`
/// command, over tcp with CURVE, on a temporary home.
@Suite("btmsg processes", .serialized, .timeLimit(.minutes(3)))
struct BtmsgProcessTests {
    /// A home with mia (manager), wes (worker), rita (reviewer) in `default`, tom (worker) in `team`,
    /// and btmsg running.
    static func makeHome() async throws -> AgorHome {
        let agor = try AgorHome()
        let root = agor.home.root.path
        #expect(try AgorHome.run(["group", "add", "team", "--home", root]).status == 0)
        for (name, group, role) in [("mia", "default", "manager"), ("wes", "default", "worker"), ("rita", "default", "reviewer"), ("tom", "team", "worker")] {
            let added = try AgorHome.run(["agent", "add", name, "--group", group, "--role", role, "--home", root])
            #expect(added.status == 0, "\(added.output)")
        }
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        return agor
    }

    @Test("the predecessor's command forms work, with short ids, --json, and no colour when piped")
    func predecessorForms() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let sent = try agor.btmsg("mia", ["send", "wes", "please", "review", "task", "7"])
        #expect(sent.status == 0, "\(sent.err)")
        let inbox = try agor.btmsg("wes", ["inbox"])
        #expect(inbox.status == 0 && inbox.out.contains("please review task 7"))
        #expect(!inbox.out.contains("\u{1B}["))   // piped: no ANSI colour
        // [xxxxxxxx] short id, accepted back as a prefix.
        let short = try #require(inbox.out.firstMatch(of: /\[([0-9a-f]{8})\]/)?.output.1)
        let read = try agor.btmsg("wes", ["read", String(short)])
        #expect(read.status == 0 && read.out.contains("from:    mia"))
        #expect(try agor.btmsg("wes", ["unread"]).out.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(try agor.btmsg("wes", ["reply", String(short), "on", "it"]).status == 0)
        let history = try agor.btmsg("mia", ["history", "wes", "--limit", "20"])
        #expect(history.out.contains("please review task 7") && history.out.contains("on it"))
        // JSON everywhere.
        let json = try agor.btmsg("mia", ["history", "wes", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect((object?["messages"] as? [[String: Any]])?.count == 2)
        for command in [["whoami"], ["contacts"], ["status"], ["graph"], ["group", "list"], ["channel", "list"], ["unread"], ["inbox", "--all"]] {
            let result = try agor.btmsg("mia", command + ["--json"])
            #expect(result.status == 0, "\(command): \(result.err)")
            #expect((try? JSONSerialization.jsonObject(with: Data(result.out.utf8))) != nil, "\(command) --json: \(result.out)")
        }
        // Channels, named without '#', shown with it.
        #expect(try agor.btmsg("mia", ["channel", "create", "dev"]).status == 0)
        #expect(try agor.btmsg("mia", ["channel", "send", "dev", "standup", "at", "10"]).status == 0)
        #expect(try agor.btmsg("mia", ["channel", "add", "dev", "wes"]).status == 0)
        let channelHistory = try agor.btmsg("wes", ["channel", "history", "dev", "--limit", "30"])
        #expect(channelHistory.status == 0 && channelHistory.out.contains("#dev") && channelHistory.out.contains("standup at 10"))
        let search = try agor.btmsg("wes", ["search", "standup"])
        #expect(search.out.contains("standup at 10"))
        // Operators: feed, allow, register.
        #expect(try agor.btmsg("operator", ["feed", "--limit", "50"]).out.contains("standup at 10"))
        #expect(try agor.btmsg("operator", ["allow", "wes", "rita", "-b"]).status == 0)
        #expect(try agor.btmsg("wes", ["send", "rita", "ready", "for", "review"]).status == 0)
        let registered = try agor.btmsg("operator", ["register", "coder-1", "Coder", "project", "default", "--tier", "1"])
        #expect(registered.status == 0 && registered.out.contains("AGOR_KEY="))
        #expect(try agor.btmsg("coder-1", ["whoami"]).out.contains("coder-1 (agent, worker)"))
        await Task.yield()
    }

    @Test("the reviewer's loop from the predecessor's prompts works end to end")
    func reviewerLoop() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        #expect(try agor.btmsg("mia", ["channel", "send", "review-queue", "task", "12", "is", "ready"]).status == 0)
        #expect(try agor.btmsg("rita", ["inbox"]).out.contains("task 12 is ready"))
        #expect(try agor.btmsg("rita", ["channel", "history", "review-queue"]).out.contains("task 12 is ready"))
        #expect(try agor.btmsg("rita", ["channel", "send", "review-log", "APPROVED:", "task", "12"]).status == 0)
        #expect(try agor.btmsg("mia", ["channel", "history", "review-log"]).out.contains("APPROVED: task 12"))
    }

    @Test("every refusal exits non-zero with one line on stderr")
    func refusals() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        _ = try agor.btmsg("mia", ["channel", "create", "secret"])
        let cases: [(String, [String], Int32)] = [
            ("wes", ["send", "tom", "hi"], 3),                           // no shared group
            ("wes", ["channel", "history", "secret"], 3),                // not a member
            ("tom", ["channel", "history", "secret"], 4),                // another group's channel: not even found
            ("wes", ["channel", "add", "secret", "rita"], 3),            // not the owner
            ("wes", ["allow", "wes", "rita"], 3),                        // not an operator
            ("wes", ["feed"], 3),
            ("wes", ["read", "0000"], 4),                                // no such message
            ("wes", ["read", "zz"], 2),                                  // not an id
            ("wes", ["send", "nobody", "hi"], 4),
            ("wes", ["send", "mia"], 2),                                 // empty message
            ("wes", ["register", "x", "X", "worker", "default"], 3),     // operators only
            ("operator", ["register", "x", "X", "wizard", "default"], 2),
        ]
        for (who, arguments, status) in cases {
            let result = try agor.btmsg(who, arguments)
            #expect(result.status == status, "\(who) \(arguments): \(result.status) \(result.err)")
            let lines = result.err.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("btmsg: "), "\(arguments): \(result.err)")
        }
        // The service is unreachable: a clear error, not a hang.
        agor.cleanUp()
    }

    @Test("a Python client written from the docs sends, reads and follows the stream")
    func pythonClient() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", AgorHome.packageRoot.appendingPathComponent("Tests/Interop/btmsg_client.py").path, agor.home.root.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readAll(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("btmsg interop ok"))
    }

    @Test("an ambiguous id prefix lists the candidates and fails")
    func ambiguousPrefix() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        #expect(try AgorHome.run(["agent", "add", "wes", "--group", "default", "--role", "worker", "--home", agor.home.root.path]).status == 0)
        // Two messages whose ids share a prefix, stored before the service starts.
        try FileManager.default.createDirectory(at: agor.home.dataFolder, withIntermediateDirectories: true)
        let db = try BusSchema.open(path: agor.home.database("btmsg").path) { BtmsgService.register(in: &$0) }
        try await db.write { db in
            for suffix in ["1", "2"] {
                try db.execute(sql: "INSERT INTO messages(id, grp, sender, recipient, body, created_at) VALUES (?, 'default', 'operator', 'wes', 'fixture', 1)",
                               arguments: ["abcd0000-0000-4000-8000-00000000000\(suffix)"])
            }
        }
        try db.close()
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        let result = try agor.btmsg("wes", ["read", "abcd0000"])
        #expect(result.status == 2)
        #expect(result.err.contains("ambiguous") && result.err.contains("abcd0000-0000-4000-8000-000000000001")
                && result.err.contains("abcd0000-0000-4000-8000-000000000002"))
        #expect(try agor.btmsg("wes", ["read", "abcd0000-0000-4000-8000-000000000002"]).status == 0)
    }

    @Test("btmsg wait sleeps until a message arrives (push), then prints it")
    func waitForMessage() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let (waiter, out) = try agor.launch(AgorHome.btmsg, as: "wes", ["wait", "--json"])
        // Until wes's subscription is live, it is still waiting; then the message wakes it.
        try await Task.sleep(for: .milliseconds(300))
        #expect(waiter.isRunning)
        #expect(try agor.btmsg("mia", ["send", "wes", "wake", "up"]).status == 0)
        let data = out.fileHandleForReading.readAll()
        waiter.waitUntilExit()
        #expect(waiter.terminationStatus == 0)
        let message = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(message?["body"] as? String == "wake up")
        #expect(try agor.btmsg("wes", ["unread"]).out.hasPrefix("0"))
        // Nothing for wes: wait gives up after --wait seconds with status 7.
        let idle = try agor.btmsg("wes", ["wait", "--wait", "0.5"])
        #expect(idle.status == 7)
    }

    @Test("btmsg watch streams the group's events as JSON lines")
    func watchStreams() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let (watcher, out) = try agor.launch(AgorHome.btmsg, as: "wes", ["watch", "--json"])
        defer { if watcher.isRunning { watcher.terminate() } }
        // Send until the watcher shows a message event (its subscription becomes live at some point).
        let found = FirstJSONLine(out) { $0["type"] as? String == "message.created" }
        var sent = 0
        while sent < 50 && found.line == nil && watcher.isRunning {
            #expect(try agor.btmsg("mia", ["send", "wes", "watch", "me"]).status == 0)
            sent += 1
            try await Task.sleep(for: .milliseconds(200))
        }
        if let line = found.line {
            let event = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
            #expect(event["stream"] as? String == "btmsg/default/")
            let message = (event["event"] as? [String: Any])?["message_created"] as? [String: Any]
            #expect(message?["sender"] as? String == "mia" && message?["recipient"] as? String == "wes")
            return
        }
        Issue.record("btmsg watch printed no message event after \(sent) sends")
    }

    @Test("killing the service loses no acknowledged send, and a retried send is applied once across a restart")
    func durability() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let client = try agor.client(key: "mia")
        let rpc = try client.rpc("btmsg")
        let acknowledged = Locked<[String]>([])
        // Senders keep sending; the service is killed with SIGKILL in the middle.
        let senders = (0..<8).map { n in
            Task {
                for i in 0..<10_000 {
                    var request = Agor_Btmsg_V1_SendRequest()
                    request.to = "wes"; request.body = "load \(n)-\(i)"
                    guard let reply = try? await rpc.call("btmsg.send", request, as: Agor_Btmsg_V1_SendReply.self,
                                                          options: .init(timeout: .milliseconds(500))) else { return }
                    acknowledged.withLock { $0.append(reply.message.id) }
                }
            }
        }
        while acknowledged.withLock({ $0.count }) < 300 { try await Task.sleep(for: .milliseconds(10)) }
        let server = try #require(agor.children.first { $0.isRunning })
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        for sender in senders { await sender.value }
        let acked = Set(acknowledged.withLock { $0 })
        let stored = try await DatabasePool(path: agor.home.database("btmsg").path).read { db in
            Set(try String.fetchAll(db, sql: "SELECT id FROM messages"))
        }
        #expect(acked.isSubset(of: stored), "lost \(acked.subtracting(stored).count) acknowledged messages")

        // A send with a client request id, answered; the service dies; the client sends it again.
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        var request = Agor_Btmsg_V1_SendRequest()
        request.to = "wes"; request.body = "exactly once"
        let options = RPCClient.CallOptions(timeout: .seconds(5), idempotent: true, retries: 3, requestId: "client-req-42")
        let first = try await rpc.call("btmsg.send", request, as: Agor_Btmsg_V1_SendReply.self, options: options)
        let running = try #require(agor.children.last { $0.isRunning })
        kill(running.processIdentifier, SIGKILL)
        running.waitUntilExit()
        _ = try agor.serve("btmsg")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        let again = try await rpc.call("btmsg.send", request, as: Agor_Btmsg_V1_SendReply.self, options: options)
        #expect(again.message.id == first.message.id)
        let copies = try await DatabasePool(path: agor.home.database("btmsg").path).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE body = 'exactly once'") ?? 0
        }
        #expect(copies == 1)
        await rpc.close()
    }
}
