import BttaskAPI
import Bus
import Foundation
import GRDB

/// The checks after the run, made against the services' own databases (opened read-only) and what
/// every writer was told and every consumer received.
struct Verdict {
    var lost = 0
    var duplicated = 0
    var outOfOrder = 0
    var doubleClaims = 0
    /// The first few problems, said in words.
    var problems: [String] = []

    mutating func problem(_ text: String) {
        if problems.count < 20 { problems.append(text) }
    }

    static func open(_ home: Home, _ service: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: home.database(service).path, configuration: configuration)
    }

    /// Each stream's head, and whether its events are stored gapless from 1.
    static func heads(_ db: DatabaseQueue) throws -> (heads: [String: UInt64], gaps: [String]) {
        try db.read { db in
            var heads: [String: UInt64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT stream, head FROM bus_streams") {
                heads[row["stream"]] = UInt64(row["head"] as Int64)
            }
            var gaps: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT stream, count(*) AS n, min(seq) AS first, max(seq) AS last FROM bus_events GROUP BY stream") {
                let stream: String = row["stream"], n: Int64 = row["n"], first: Int64 = row["first"], last: Int64 = row["last"]
                if first != 1 || last != n || UInt64(last) != heads[stream] { gaps.append("\(stream): \(n) events \(first)...\(last), head \(heads[stream] ?? 0)") }
            }
            return (heads, gaps)
        }
    }

    /// Every answered send is stored once under the id btmsg answered with; no body twice.
    mutating func checkMessages(_ db: DatabaseQueue, acknowledged: [String: String]) throws {
        let stored = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT body, id FROM messages WHERE body LIKE 'chaos %'")
                .reduce(into: [String: [String]]()) { $0[$1["body"], default: []].append($1["id"]) }
        }
        for (body, ids) in stored where ids.count > 1 {
            duplicated += ids.count - 1
            problem("btmsg stored \"\(body)\" \(ids.count) times")
        }
        for (body, id) in acknowledged where stored[body]?.contains(id) != true {
            lost += 1
            problem("btmsg answered \"\(body)\" as \(id) but does not have it")
        }
    }

    /// Every answered create is stored once; no task was claimed twice (by the workers' answers
    /// and by bttask's own event log); every answered claim and move shows in the task's row.
    mutating func checkTasks(_ db: DatabaseQueue, facts: Acknowledged.State) throws {
        let rows = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, title, assignee, status FROM tasks WHERE title LIKE 'chaos task %'")
        }
        var byTitle: [String: [String]] = [:]
        var byId: [String: Row] = [:]
        for row in rows {
            byTitle[row["title"], default: []].append(row["id"])
            byId[row["id"]] = row
        }
        for (title, ids) in byTitle where ids.count > 1 {
            duplicated += ids.count - 1
            problem("bttask stored \"\(title)\" \(ids.count) times")
        }
        for (title, id) in facts.created where byTitle[title]?.contains(id) != true {
            lost += 1
            problem("bttask answered the create of \"\(title)\" as \(id) but does not have it")
        }
        for (task, workers) in facts.claims {
            if workers.count > 1 {
                doubleClaims += workers.count - 1
                problem("task \(task) was granted to \(workers.joined(separator: ", "))")
            }
            if let row = byId[task], (row["assignee"] as String) != workers.last {
                lost += 1
                problem("task \(task) granted to \(workers.last ?? "") is assigned to \(row["assignee"] as String)")
            }
        }
        for task in facts.done where (byId[task]?["status"] as Int?) != Agor_Bttask_V1_Status.done.rawValue {
            lost += 1
            problem("the move of task \(task) to done was answered but it is not done")
        }
        // bttask's own record: one task.claimed event per task at most.
        let claimed = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT body FROM bus_events WHERE type = 'task.claimed'").map { row -> String in
                let body: Data = row["body"]
                return (try? Agor_Bttask_V1_Change(serializedBytes: [UInt8](body)))?.task.id ?? ""
            }
        }
        for (task, count) in Dictionary(claimed.map { ($0, 1) }, uniquingKeysWith: +) where count > 1 {
            doubleClaims += count - 1
            problem("bttask's event log has \(count) claims of task \(task)")
        }
    }

    /// What a consumer received against the heads of the streams it should have seen whole.
    mutating func checkConsumer(_ ledger: StreamLedger, heads: [String: UInt64]) {
        let counts = ledger.counts
        duplicated += counts.duplicated
        outOfOrder += counts.outOfOrder
        let missing = ledger.missing(against: heads)
        lost += missing
        if missing > 0 { problem("\(ledger.name) never received \(missing) events") }
        for example in ledger.examples { problem(example) }
    }
}
