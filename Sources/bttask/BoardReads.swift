import BttaskAPI
import Bus
import Foundation
import GRDB

/// Reading the board: list (filters), board, show, ready, resolve, changes since a revision.
extension BttaskService {
    func registerReads() {
        let database = self.database, server = runtime.server

        // bttask.list ListRequest -> TaskList (done hidden unless `all` or asked for).
        server.register(BttaskMethods.list) { context, request in
            let principal = context.principal
            let group = try RequestChecks.group(of: principal, named: request.group)
            guard request.limit >= 0 else { throw BusError.badRequest("limit must not be negative") }
            let limit = request.limit == 0 ? 200 : min(Int(request.limit), 1000)
            return try await database.read { db in
                var sql = "SELECT * FROM tasks WHERE grp = ?"
                var args: [(any DatabaseValueConvertible)?] = [group]
                if !request.statuses.isEmpty {
                    sql += " AND status IN \(TaskStore.placeholders(request.statuses.count))"
                    args += request.statuses.map { $0.rawValue as (any DatabaseValueConvertible)? }
                } else if !request.all {
                    sql += " AND status <> ?"
                    args.append(Agor_Bttask_V1_Status.done.rawValue)
                }
                if !request.assignee.isEmpty { sql += " AND assignee = ?"; args.append(request.assignee) }
                if request.priority != .unspecified { sql += " AND priority = ?"; args.append(request.priority.rawValue) }
                if !request.project.isEmpty { sql += " AND project = ?"; args.append(request.project) }
                if !request.label.isEmpty {
                    sql += " AND ('\n' || labels || '\n') LIKE ? ESCAPE '\\'"
                    let escaped = request.label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                    args.append("%\n\(escaped)\n%")
                }
                // Keyset paging: rows after the last one returned, in the same order (id breaks ties).
                if !request.cursor.isEmpty {
                    let key = try PageCursor.decode(request.cursor, list: "tasks", count: 5)
                    guard let status = Int64(key[0]), let priority = Int64(key[1]), let sortOrder = Int64(key[2]), let created = Int64(key[3]) else {
                        throw BusError.badRequest("cursor is damaged (pass next_cursor back as given)")
                    }
                    sql += " AND (status, priority, sort_order, created_at, id) > (?, ?, ?, ?, ?)"
                    args += [status, priority, sortOrder, created, key[4]]
                }
                sql += " ORDER BY status, priority, sort_order, created_at, id LIMIT ?"
                args.append(limit)
                var reply = Agor_Bttask_V1_TaskList()
                let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
                reply.tasks = try rows.map { try TaskStore.complete(db, TaskStore.task($0)) }
                if rows.count == limit, let last = rows.last {
                    reply.nextCursor = PageCursor.encode(list: "tasks", keys: [
                        String(last["status"] as Int64), String(last["priority"] as Int64), String(last["sort_order"] as Int64),
                        String(last["created_at"] as Int64), last["id"] as String])
                }
                reply.revision = try Self.revision(db, group: group)
                return reply
            }
        }

        // bttask.ready ListRequest{group, limit} -> TaskList: todo, unassigned, every blocker done,
        // best first (priority, then sort order, then age).
        server.register(BttaskMethods.ready) { context, request in
            let group = try RequestChecks.group(of: context.principal, named: request.group)
            let limit = request.limit <= 0 ? 50 : min(Int(request.limit), 1000)
            var after: ReadyPosition?
            if !request.cursor.isEmpty {
                let key = try PageCursor.decode(request.cursor, list: "ready", count: 4)
                guard let priority = Int64(key[0]), let sortOrder = Int64(key[1]), let created = Int64(key[2]) else {
                    throw BusError.badRequest("cursor is damaged (pass next_cursor back as given)")
                }
                after = ReadyPosition(priority: priority, sortOrder: sortOrder, created: created, id: key[3])
            }
            return try await database.read { [after] db in
                var reply = Agor_Bttask_V1_TaskList()
                reply.tasks = try Self.readyTasks(db, group: group, limit: limit, after: after)
                if reply.tasks.count == limit, let last = reply.tasks.last {
                    let row = try Row.fetchOne(db, sql: "SELECT priority, sort_order, created_at, id FROM tasks WHERE id = ?", arguments: [last.id])
                    if let row {
                        reply.nextCursor = PageCursor.encode(list: "ready", keys: [String(row["priority"] as Int64), String(row["sort_order"] as Int64),
                                                                                   String(row["created_at"] as Int64), row["id"] as String])
                    }
                }
                reply.revision = try Self.revision(db, group: group)
                return reply
            }
        }

        // bttask.show TaskRef -> ShowReply (task, comments, children).
        server.register(BttaskMethods.show) { context, ref in
            try RequestChecks.requireFullId(ref.id, "id")
            let principal = context.principal
            return try await database.read { db in
                let task = try Self.visibleTask(db, id: ref.id, for: principal)
                var reply = Agor_Bttask_V1_ShowReply()
                reply.task = task
                reply.comments = try TaskStore.comments(db, task: task.id)
                // `parent <> ''` lets SQLite use the partial index tasks_parent (it cannot prove
                // that of a bound parameter); without it every show scanned the whole board.
                reply.children = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT * FROM tasks WHERE parent = ? AND parent <> '' ORDER BY sort_order, created_at
                    """), arguments: [task.id])
                    .map { try TaskStore.complete(db, TaskStore.task($0)) }
                reply.revision = try Self.revision(db, group: task.group)
                return reply
            }
        }

        // bttask.resolve ResolveRequest -> ResolveReply: ids with a prefix in the caller's groups.
        server.register(BttaskMethods.resolve) { context, request in
            let prefix = request.prefix.lowercased()
            guard prefix.utf8.count >= 4, prefix.utf8.count <= 36,
                  prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2D }) else {
                throw BusError.badRequest("an id prefix is 4 to 36 hex characters")
            }
            let groups = context.principal.groups
            guard !groups.isEmpty else { return Agor_Bttask_V1_ResolveReply() }
            return try await database.read { db in
                var args: [(any DatabaseValueConvertible)?] = [prefix, prefix + "g"]
                args += groups.map { $0 as (any DatabaseValueConvertible)? }
                var reply = Agor_Bttask_V1_ResolveReply()
                reply.ids = try String.fetchAll(db, sql: "SELECT id FROM tasks WHERE id >= ? AND id < ? AND grp IN \(TaskStore.placeholders(groups.count)) ORDER BY id LIMIT 10",
                                                arguments: StatementArguments(args))
                return reply
            }
        }

        // bttask.changes ChangesRequest -> ChangeList: every change after `since_revision`, in order.
        server.register(BttaskMethods.changes) { context, request in
            let group = try RequestChecks.group(of: context.principal, named: request.group)
            guard request.sinceRevision >= 0 else { throw BusError.badRequest("since_revision must not be negative") }
            let limit = request.limit <= 0 ? 1000 : min(Int(request.limit), 1000)
            return try await database.read { db in
                var reply = Agor_Bttask_V1_ChangeList()
                for event in try EventLog.replay(db, stream: BttaskRules.stream(of: group), after: UInt64(request.sinceRevision), limit: limit) {
                    var change = try Agor_Bttask_V1_Change(serializedBytes: event.body)
                    change.revision = Int64(event.seq)
                    reply.changes.append(change)
                }
                reply.revision = try Self.revision(db, group: group)
                return reply
            }
        }
    }

    /// Where a page of ready tasks ended, in their order.
    struct ReadyPosition: Sendable {
        let priority: Int64, sortOrder: Int64, created: Int64
        let id: String
    }

    /// Ready tasks, best first; `after` continues from a previous page.
    static func readyTasks(_ db: Database, group: String, limit: Int, after: ReadyPosition? = nil) throws -> [Agor_Bttask_V1_Task] {
        var arguments: [any DatabaseValueConvertible] = [group]
        if let after { arguments += [after.priority, after.sortOrder, after.created, after.id] }
        arguments.append(limit)
        return try Row.fetchAll(db.cachedStatement(sql: """
            SELECT * FROM tasks t WHERE t.grp = ? AND t.status = 1 AND t.assignee = ''
              AND NOT EXISTS (SELECT 1 FROM dependencies d JOIN tasks b ON b.id = d.blocked_by
                              WHERE d.task_id = t.id AND b.status <> 4)
              \(after == nil ? "" : "AND (t.priority, t.sort_order, t.created_at, t.id) > (?, ?, ?, ?)")
            ORDER BY t.priority, t.sort_order, t.created_at, t.id LIMIT ?
            """), arguments: StatementArguments(arguments)).map { try TaskStore.complete(db, TaskStore.task($0)) }
    }
}
