import AgorTestSupport
import AgorKit
import bttask
import BttaskAPI
import Bus
import Foundation
import GRDB
import Testing

/// bttask as agents use it: the real `agor serve bttask` (and btmsg) processes and the real
/// `bttask` command over tcp with CURVE.
@Suite("bttask processes", .serialized, .timeLimit(.minutes(3)))
struct BttaskProcessTests {
    static func makeHome() async throws -> AgorHome {
        let agor = try AgorHome()
        let root = agor.home.root.path
        for (name, role) in [("mia", "manager"), ("wes", "worker"), ("wade", "worker"), ("rita", "reviewer")] {
            let added = try AgorHome.run(["agent", "add", name, "--group", "default", "--role", role, "--home", root])
            #expect(added.status == 0, "\(added.output)")
        }
        _ = try agor.serve("btmsg")
        _ = try agor.serve("bttask")
        #expect(try await agor.waitUntilAnswers("btmsg"))
        #expect(try await agor.waitUntilAnswers("bttask"))
        return agor
    }

    static func shortId(_ text: String) throws -> String {
        String(try #require(text.firstMatch(of: /\[([0-9a-f]{8})\]/)?.output.1))
    }

    @Test("the predecessor's forms and the new ones: add, list, board, show, assign, status, comment, ready, claim, deps, delete")
    func forms() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let added = try agor.bttask("mia", ["add", "Write", "the", "parser", "--desc", "tokens first", "--priority", "high"])
        #expect(added.status == 0, "\(added.err)")
        let parser = try Self.shortId(added.out)
        let second = try Self.shortId(try agor.bttask("mia", ["add", "Ship", "it", "--blocked-by", parser]).out)
        #expect(try agor.bttask("wes", ["list"]).out.contains("Write the parser"))
        let board = try agor.bttask("wes", ["board"])
        #expect(board.out.contains("todo (2)") && !board.out.contains("\u{1B}["))
        #expect(try agor.bttask("wes", ["ready"]).out.contains("Write the parser") && !(try agor.bttask("wes", ["ready"]).out.contains("Ship it")))
        #expect(try agor.bttask("wes", ["deps", second]).out.contains(parser))
        // Claim the best ready task, then move it along; `progress` is in_progress.
        let claimed = try agor.bttask("wes", ["claim"])
        #expect(claimed.status == 0 && claimed.out.contains("Write the parser") && claimed.out.contains("@wes"))
        #expect(try agor.bttask("wade", ["claim", parser]).status == 5)      // taken
        #expect(try agor.bttask("wes", ["comment", parser, "halfway"]).status == 0)
        #expect(try agor.bttask("wes", ["status", parser, "review"]).status == 0)
        #expect(try agor.bttask("rita", ["status", parser, "done"]).status == 0)
        let shown = try agor.bttask("rita", ["show", parser])
        #expect(shown.out.contains("status:   done") && shown.out.contains("halfway"))
        #expect(try agor.bttask("wade", ["ready"]).out.contains("Ship it"))
        #expect(try agor.bttask("mia", ["assign", second, "wade"]).out.contains("@wade"))
        #expect(try agor.bttask("wade", ["status", second, "progress"]).out.contains("in_progress"))
        // JSON everywhere.
        for command in [["list", "--all"], ["board"], ["show", parser], ["ready"], ["changes", "--since", "0"]] {
            let result = try agor.bttask("mia", command + ["--json"])
            #expect(result.status == 0, "\(command): \(result.err)")
            #expect((try? JSONSerialization.jsonObject(with: Data(result.out.utf8))) != nil, "\(command): \(result.out)")
        }
        #expect(try agor.bttask("mia", ["delete", second]).status == 0)
        #expect(!(try agor.bttask("mia", ["list", "--all"]).out.contains("Ship it")))
        // The move to review was posted to btmsg's review-queue for wes.
        #expect(try await eventually(100) { try agor.btmsg("rita", ["channel", "history", "review-queue"]).out.contains("Write the parser") })
    }

    @Test("bttask lease: acquire, a conflicting hold refused naming the holder, list, renew, release, and bad input")
    func leases() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let folder = agor.home.root.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #expect(try AgorHome.run(["project", "add", "site", "--group", "default", "--root", folder.path, "--home", agor.home.root.path]).status == 0)
        let task = try Self.shortId(try agor.bttask("mia", ["add", "Style", "the", "page"]).out)

        let held = try agor.bttask("wes", ["lease", "acquire", "site", "src/*.css", "--ttl", "120", "--task", task, "--json"])
        #expect(held.status == 0, "\(held.err)")
        let lease = try #require(((try? JSONSerialization.jsonObject(with: Data(held.out.utf8))) as? [String: Any])?["leases"] as? [[String: Any]]).first
        let id = try #require(lease?["id"] as? String)
        #expect(lease?["exclusive"] as? Bool == true && (lease?["task"] as? String ?? "").hasPrefix(task))
        let refused = try agor.bttask("wade", ["lease", "acquire", "site", "src/main.css", "--shared"])
        #expect(refused.status == 5 && refused.err.contains("held exclusively by wes"), "\(refused.err)")
        let list = try agor.bttask("wade", ["lease", "list", "--project", "site"])
        #expect(list.status == 0 && list.out.contains("site:src/*.css  exclusive  wes"), "\(list.out)")
        #expect(try agor.bttask("wes", ["lease", "renew", id, "--ttl", "300"]).status == 0)
        #expect(try agor.bttask("wade", ["lease", "release", id]).status == 3)          // not its holder
        #expect(try agor.bttask("wes", ["lease", "release", id]).out.contains("released \(id)"))
        #expect(try agor.bttask("wade", ["lease", "acquire", "site", "src/main.css"]).status == 0)
        // Bad input: no path, a time to live out of range, a path outside the project, a lease that is not there.
        #expect(try agor.bttask("wes", ["lease", "acquire", "site"]).status == 2)
        #expect(try agor.bttask("wes", ["lease", "acquire", "site", "a.txt", "--ttl", "0"]).status == 2)
        #expect(try agor.bttask("wes", ["lease", "acquire", "site", "a.txt", "--ttl", "86401"]).status == 2)
        #expect(try agor.bttask("wes", ["lease", "acquire", "site", "../etc/passwd"]).status == 2)
        #expect(try agor.bttask("wes", ["lease", "release", UUID().uuidString.lowercased()]).status == 4)
    }

    @Test("refusals exit non-zero with one line on stderr")
    func refusals() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let task = try Self.shortId(try agor.bttask("mia", ["add", "guarded"]).out)
        let a = try Self.shortId(try agor.bttask("mia", ["add", "a"]).out)
        let b = try Self.shortId(try agor.bttask("mia", ["add", "b", "--blocked-by", a]).out)
        let cases: [(String, [String], Int32)] = [
            ("wes", ["add", "not", "mine"], 3),             // workers do not create
            ("wes", ["status", task, "done"], 3),           // not assigned to wes
            ("rita", ["status", task, "done"], 3),          // reviewers move review→… only
            ("wes", ["delete", task], 3),
            ("mia", ["status", task, "sideways"], 2),
            ("mia", ["add", "x", "--priority", "urgent"], 2),
            ("mia", ["show", "ffff"], 4),
            ("mia", ["deps", a, "--on", b], 5),             // a cycle
            ("wes", ["claim", b], 5),                       // blocked
        ]
        for (who, arguments, status) in cases {
            let result = try agor.bttask(who, arguments)
            #expect(result.status == status, "\(who) \(arguments): \(result.status) \(result.err)")
            let lines = result.err.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("bttask: "), "\(arguments): \(result.err)")
        }
    }

    @Test("the help says the rights the service enforces")
    func helpMatchesRules() throws {
        let process = Process()
        process.executableURL = AgorHome.bttask
        process.arguments = ["--help"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let help = String(decoding: pipe.fileHandleForReading.readAll(), as: UTF8.self)
        process.waitUntilExit()
        let flat = help.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        #expect(flat.contains(BttaskRules.summary()))
    }

    @Test("a small run of the benchmark: every task claimed exactly once, checked in the database")
    func smallBenchmark() async throws {
        let agor = try AgorHome()
        defer { agor.cleanUp() }
        let root = agor.home.root.path
        #expect(try AgorHome.run(["group", "add", "bench", "--home", root]).status == 0)
        #expect(try AgorHome.run(["agent", "add", "boss", "--group", "bench", "--role", "manager", "--home", root]).status == 0)
        for i in 1...8 { #expect(try AgorHome.run(["agent", "add", "w\(i)", "--group", "bench", "--role", "worker", "--home", root]).status == 0) }
        _ = try agor.serve("bttask")
        #expect(try await agor.waitUntilAnswers("bttask"))
        let process = Process()
        process.executableURL = AgorHome.packageRoot.appendingPathComponent(".build/debug/bttask-bench")
        process.arguments = [root, "8", "300", "2", "20"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readAll()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let figures = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        #expect(figures["claims_won"] as? Int == 300 && figures["double_claims"] as? Int == 0 && figures["unclaimed"] as? Int == 0)
        let rows = try await DatabasePool(path: agor.home.database("bttask").path).read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks WHERE assignee <> '' AND status = 2") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM bus_events WHERE type = 'task.claimed'") ?? 0)
        }
        #expect(rows.0 == 300 && rows.1 == 300)
    }

    @Test("bttask watch streams the board's changes with their revisions")
    func watchStreams() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let (watcher, out) = try agor.launch(AgorHome.bttask, as: "wes", ["watch", "--json"])
        defer { if watcher.isRunning { watcher.terminate() } }
        let found = FirstJSONLine(out) { $0["kind"] as? String == "task.created" }
        // Create until the watcher shows one (its subscription becomes live at some point).
        var created = 0
        while created < 50 && found.line == nil && watcher.isRunning {
            #expect(try agor.bttask("mia", ["add", "watched", "\(created)"]).status == 0)
            created += 1
            try await Task.sleep(for: .milliseconds(200))
        }
        let line = try #require(found.line, "bttask watch printed no change after \(created) creates")
        let change = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect((change["task"] as? [String: Any])?["creator"] as? String == "mia")
        #expect(Int(change["revision"] as? String ?? "") ?? 0 >= 1)
    }
}
