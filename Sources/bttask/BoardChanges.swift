import BttaskAPI
import Bus
import Foundation
import GRDB

/// Changing the board. Every change runs in group commit, checks rights and the expected version
/// before it writes, bumps the task's version and appends one event (the new board revision).
extension BttaskService {
    static let maxTitleBytes = 500
    static let maxTextBytes = 64 * 1024

    /// Registers a change, served in the service's writer loop (RPCServer.registerWrite): decode
    /// and static checks in `prepare`, then `work` in the next batch transaction, once per request id.
    private func change<Q, R>(_ method: Method<Q, R>,
                              _ work: @escaping @Sendable (RequestContext, Q) throws -> GroupCommit.Work) {
        runtime.server.registerWrite(method, through: commits) { context, request in
            let inner = try work(context, request)
            let principal = context.principal.name, requestId = context.requestId
            return { db, events in
                try RequestDedup.once(db, principal: principal, requestId: requestId) { try inner(db, &events) }
            }
        }
    }

    func registerChanges() {
        change(BttaskMethods.create) { context, r in
            let p = context.principal
            let group = try RequestChecks.group(of: p, named: r.group)
            let title = r.title.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !title.isEmpty, title.utf8.count <= Self.maxTitleBytes else { throw BusError.badRequest("a title is 1 to \(Self.maxTitleBytes) bytes") }
            guard r.description_p.utf8.count <= Self.maxTextBytes else { throw BusError.tooLarge("the description is over 64 KiB") }
            guard BttaskRules.may(p, .create, group: group) else { throw BusError.forbidden("a \(p.role.rawValue) may not create tasks") }
            if !r.parent.isEmpty { try RequestChecks.requireFullId(r.parent, "parent") }
            for blocker in r.blockedBy { try RequestChecks.requireFullId(blocker, "blocked_by") }
            return { db, events in
                if !r.parent.isEmpty {
                    guard let parent = try TaskStore.fetch(db, id: r.parent), parent.group == group else {
                        throw BusError.notFound("no parent task \(r.parent) in group \(group)")
                    }
                }
                for blocker in r.blockedBy {
                    guard let b = try TaskStore.fetch(db, id: blocker), b.group == group else {
                        throw BusError.notFound("no blocking task \(blocker) in group \(group)")
                    }
                }
                if !r.assignee.isEmpty {
                    guard BttaskRules.may(p, .assign, group: group) else { throw BusError.forbidden("a \(p.role.rawValue) may not assign tasks") }
                }
                let now = BusProtocol.nowMicros()
                var t = Agor_Bttask_V1_Task()
                t.id = RandomID.uuid(); t.group = group; t.project = r.project; t.title = title; t.description_p = r.description_p
                t.status = .todo; t.priority = r.priority == .unspecified ? .medium : r.priority
                t.labels = r.labels; t.assignee = r.assignee; t.creator = p.name; t.parent = r.parent
                t.createdAtUs = now; t.updatedAtUs = now; t.version = 1
                try TaskStore.save(db, t)
                for blocker in Set(r.blockedBy) {
                    try db.execute(sql: "INSERT INTO dependencies(task_id, blocked_by) VALUES (?, ?)", arguments: [t.id, blocker])
                }
                let task = try TaskStore.complete(db, t)
                return try Self.reply(task, revision: try Self.record(&events, kind: "task.created", task: task, by: p.name))
            }
        }

        change(BttaskMethods.update) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            if r.hasTitle { guard !r.title.isEmpty, r.title.utf8.count <= Self.maxTitleBytes else { throw BusError.badRequest("a title is 1 to \(Self.maxTitleBytes) bytes") } }
            if r.hasDescription_p { guard r.description_p.utf8.count <= Self.maxTextBytes else { throw BusError.tooLarge("the description is over 64 KiB") } }
            let p = context.principal
            return { db, events in
                var t = try Self.visibleTask(db, id: r.id, for: p)
                try Self.require(p, .update, t)
                try Self.checkVersion(t, expected: r.expectedVersion)
                if r.hasTitle { t.title = r.title }
                if r.hasDescription_p { t.description_p = r.description_p }
                if r.hasPriority { t.priority = r.priority == .unspecified ? .medium : r.priority }
                if r.setLabels { t.labels = r.labels }
                if r.hasSortOrder { t.sortOrder = r.sortOrder }
                if r.hasProject { t.project = r.project }
                t.version += 1; t.updatedAtUs = BusProtocol.nowMicros()
                try TaskStore.save(db, t)
                return try Self.reply(t, revision: try Self.record(&events, kind: "task.updated", task: t, by: p.name))
            }
        }

        change(BttaskMethods.move) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            guard r.status != .unspecified, Agor_Bttask_V1_Status(rawValue: r.status.rawValue) != nil, r.status.rawValue <= 6 else {
                throw BusError.badRequest("status is todo, in_progress, review, done, blocked or rejected")
            }
            let p = context.principal
            return { db, events in
                var t = try Self.visibleTask(db, id: r.id, for: p)
                try Self.require(p, .move, t, to: r.status)
                try Self.checkVersion(t, expected: r.expectedVersion)
                let from = t.status
                t.status = r.status
                t.version += 1; t.updatedAtUs = BusProtocol.nowMicros()
                try TaskStore.save(db, t)
                if r.status == .review && from != .review {
                    try ReviewOutbox.enqueue(db, group: t.group, mover: p.name,
                                             body: "review: [\(t.id.prefix(8))] \(t.title) (moved by \(p.name))")
                }
                let revision = try Self.record(&events, kind: "task.moved", task: t, by: p.name)
                // Done: the leases tied to the task end with it.
                if r.status == .done { try Self.endLeases(db, &events, task: t.id, by: p.name) }
                return try Self.reply(t, revision: revision)
            }
        }

        change(BttaskMethods.assign) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            let p = context.principal, directory = self.directory
            return { db, events in
                var t = try Self.visibleTask(db, id: r.id, for: p)
                try Self.require(p, .assign, t)
                try Self.checkVersion(t, expected: r.expectedVersion)
                if !r.assignee.isEmpty {
                    guard let who = directory.principal(named: r.assignee), who.isMember(of: t.group) else {
                        throw BusError.forbidden("\(r.assignee) is not in group \(t.group)")
                    }
                }
                t.assignee = r.assignee
                t.version += 1; t.updatedAtUs = BusProtocol.nowMicros()
                try TaskStore.save(db, t)
                return try Self.reply(t, revision: try Self.record(&events, kind: "task.assigned", task: t, by: p.name))
            }
        }

        // bttask.claim: in one step, the caller becomes the assignee and the task in_progress, only
        // if it is todo, unassigned and every blocker is done. Writes are serialized, so of N
        // concurrent claims exactly one finds it free; the others get a conflict.
        change(BttaskMethods.claim) { context, r in
            let p = context.principal
            let nextInGroup: String? = r.id.isEmpty ? try RequestChecks.group(of: p, named: r.group) : nil
            if nextInGroup == nil { try RequestChecks.requireFullId(r.id, "id") }
            return { db, events in
                var t: Agor_Bttask_V1_Task
                if let group = nextInGroup {
                    // The best ready task, chosen inside the serialized write: no two claims get it.
                    guard BttaskRules.may(p, .claim, group: group) else { throw BusError.forbidden("a \(p.role.rawValue) may not claim tasks") }
                    guard let best = try Self.readyTasks(db, group: group, limit: 1).first else {
                        throw BusError.notFound("nothing ready to claim in group \(group)")
                    }
                    t = best
                } else {
                    t = try Self.visibleTask(db, id: r.id, for: p)
                }
                try Self.require(p, .claim, t)
                guard t.assignee.isEmpty, t.status == .todo else {
                    throw BusError.conflict("task \(t.id.prefix(8)) is taken: \(BttaskRules.statusName(t.status))"
                                            + (t.assignee.isEmpty ? "" : ", assigned to \(t.assignee)"))
                }
                guard t.ready else { throw BusError.conflict("task \(t.id.prefix(8)) is not ready: blocked by \(t.blockedBy.map { String($0.prefix(8)) }.joined(separator: ", "))") }
                t.assignee = p.name
                t.status = .inProgress
                t.version += 1; t.updatedAtUs = BusProtocol.nowMicros()
                try TaskStore.saveClaim(db, t)
                return try Self.reply(t, revision: try Self.record(&events, kind: "task.claimed", task: t, by: p.name))
            }
        }

        change(BttaskMethods.delete) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            let p = context.principal
            return { db, events in
                let t = try Self.visibleTask(db, id: r.id, for: p)
                try Self.require(p, .delete, t)
                try Self.checkVersion(t, expected: r.expectedVersion)
                try db.execute(sql: "DELETE FROM tasks WHERE id = ?", arguments: [t.id])
                try db.execute(sql: "DELETE FROM dependencies WHERE task_id = ? OR blocked_by = ?", arguments: [t.id, t.id])
                try db.execute(sql: "DELETE FROM comments WHERE task_id = ?", arguments: [t.id])
                try db.execute(sql: "UPDATE tasks SET parent = '' WHERE parent = ? AND parent <> ''", arguments: [t.id])
                return try Self.reply(t, revision: try Self.record(&events, kind: "task.deleted", task: t, by: p.name))
            }
        }

        change(BttaskMethods.comment) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            guard !r.body.isEmpty, r.body.utf8.count <= Self.maxTextBytes else { throw BusError.badRequest("a comment is 1 byte to 64 KiB") }
            let p = context.principal
            return { db, events in
                let t = try Self.visibleTask(db, id: r.id, for: p)
                try Self.require(p, .comment, t)
                var c = Agor_Bttask_V1_Comment()
                c.id = RandomID.uuid(); c.taskID = t.id; c.author = p.name; c.body = r.body; c.createdAtUs = BusProtocol.nowMicros()
                try db.execute(sql: "INSERT INTO comments(id, task_id, author, body, created_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [c.id, c.taskID, c.author, c.body, c.createdAtUs])
                var reply = Agor_Bttask_V1_CommentReply()
                reply.comment = c
                reply.revision = try Self.record(&events, kind: "task.commented", task: t, by: p.name, comment: c)
                return try reply.serializedBytes()
            }
        }

        // bttask.deps DependencyRequest -> TaskReply: "id is blocked by blocked_by"; a cycle is refused.
        change(BttaskMethods.dependency) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            try RequestChecks.requireFullId(r.blockedBy, "blocked_by")
            let p = context.principal
            return { db, events in
                var t = try Self.visibleTask(db, id: r.id, for: p)
                try Self.require(p, .dependency, t)
                let blocker = try Self.visibleTask(db, id: r.blockedBy, for: p)
                guard blocker.group == t.group else { throw BusError.forbidden("a dependency never crosses groups") }
                if r.remove {
                    try db.execute(sql: "DELETE FROM dependencies WHERE task_id = ? AND blocked_by = ?", arguments: [t.id, blocker.id])
                } else {
                    guard try !TaskStore.wouldCycle(db, task: t.id, blocker: blocker.id) else {
                        throw BusError.conflict("refused: \(blocker.id.prefix(8)) already depends on \(t.id.prefix(8)) (a cycle)")
                    }
                    try db.execute(sql: "INSERT OR IGNORE INTO dependencies(task_id, blocked_by) VALUES (?, ?)", arguments: [t.id, blocker.id])
                }
                t.version += 1; t.updatedAtUs = BusProtocol.nowMicros()
                try TaskStore.save(db, t)
                t = try TaskStore.complete(db, t)
                return try Self.reply(t, revision: try Self.record(&events, kind: "task.dependency", task: t, by: p.name))
            }
        }
    }
}
