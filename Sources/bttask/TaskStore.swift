import BttaskAPI
import Bus
import Foundation
import GRDB

/// The SQL of bttask, run inside the caller's GRDB access.
enum TaskStore {
    static func task(_ row: Row) -> Agor_Bttask_V1_Task {
        var t = Agor_Bttask_V1_Task()
        t.id = row["id"]; t.group = row["grp"]; t.project = row["project"]; t.title = row["title"]
        t.description_p = row["description"]
        t.status = Agor_Bttask_V1_Status(rawValue: row["status"]) ?? .todo
        t.priority = Agor_Bttask_V1_Priority(rawValue: row["priority"]) ?? .medium
        let labels: String = row["labels"]
        t.labels = labels.isEmpty ? [] : labels.split(separator: "\n").map(String.init)
        t.assignee = row["assignee"]; t.creator = row["creator"]; t.parent = row["parent"]
        t.sortOrder = row["sort_order"]; t.createdAtUs = row["created_at"]; t.updatedAtUs = row["updated_at"]
        t.version = row["version"]
        return t
    }

    /// A task with its blockers and readiness.
    static func fetch(_ db: Database, id: String) throws -> Agor_Bttask_V1_Task? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM tasks WHERE id = ?"), arguments: [id]) else { return nil }
        return try complete(db, task(row))
    }

    static func complete(_ db: Database, _ task: Agor_Bttask_V1_Task) throws -> Agor_Bttask_V1_Task {
        var t = task
        let blockers = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT d.blocked_by, t.status FROM dependencies d LEFT JOIN tasks t ON t.id = d.blocked_by WHERE d.task_id = ? ORDER BY d.blocked_by
            """), arguments: [task.id])
        t.blockedBy = blockers.map { $0[0] }
        t.ready = blockers.allSatisfy { ($0[1] as Int?) == Agor_Bttask_V1_Status.done.rawValue }
        return t
    }

    static func save(_ db: Database, _ t: Agor_Bttask_V1_Task) throws {
        try db.cachedStatement(sql: """
            INSERT INTO tasks(id, grp, project, title, description, status, priority, labels, assignee, creator, parent,
                              sort_order, created_at, updated_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET project = excluded.project, title = excluded.title,
                description = excluded.description, status = excluded.status, priority = excluded.priority,
                labels = excluded.labels, assignee = excluded.assignee, parent = excluded.parent,
                sort_order = excluded.sort_order, updated_at = excluded.updated_at, version = excluded.version
            """).execute(arguments: [t.id, t.group, t.project, t.title, t.description_p, t.status.rawValue, t.priority.rawValue,
                                     t.labels.joined(separator: "\n"), t.assignee, t.creator, t.parent, t.sortOrder,
                                     t.createdAtUs, t.updatedAtUs, t.version])
    }

    /// A claim's narrow write: only the columns a claim changes, so indexes on the others stay untouched.
    static func saveClaim(_ db: Database, _ t: Agor_Bttask_V1_Task) throws {
        try db.cachedStatement(sql: "UPDATE tasks SET status = ?, assignee = ?, updated_at = ?, version = ? WHERE id = ?")
            .execute(arguments: [t.status.rawValue, t.assignee, t.updatedAtUs, t.version, t.id])
    }

    /// Whether adding "task is blocked by blocker" closes a cycle: is `task` reachable from
    /// `blocker` by following blocked-by edges (or parent links)?
    static func wouldCycle(_ db: Database, task: String, blocker: String) throws -> Bool {
        if task == blocker { return true }
        let reachable = try String.fetchAll(db, sql: """
            WITH RECURSIVE up(id) AS (
                SELECT ?
                UNION
                SELECT d.blocked_by FROM dependencies d JOIN up ON d.task_id = up.id
            )
            SELECT id FROM up WHERE id = ? LIMIT 1
            """, arguments: [blocker, task])
        return !reachable.isEmpty
    }

    static func comments(_ db: Database, task: String) throws -> [Agor_Bttask_V1_Comment] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM comments WHERE task_id = ? ORDER BY created_at, id"), arguments: [task]).map { row in
            var c = Agor_Bttask_V1_Comment()
            c.id = row["id"]; c.taskID = row["task_id"]; c.author = row["author"]; c.body = row["body"]; c.createdAtUs = row["created_at"]
            return c
        }
    }

    static func placeholders(_ n: Int) -> String { "(" + Array(repeating: "?", count: n).joined(separator: ",") + ")" }
}
