import BttaskAPI
import Bus
import Foundation
import GRDB

/// File leases: an agent holds paths of a project, exclusive or shared, for a time. A conflicting
/// request is refused naming the holder and the expiry; expiry is checked when asked (a lease past
/// its time holds nothing) and a background pass, bounded by the expiry index, removes the rows
/// and says so on the stream. A lease tied to a task ends when the task is done.
extension BttaskService {
    static let leaseColumns = "id, grp, project, path, exclusive, holder, task, expires_us, created_us"

    static func lease(_ row: Row) -> Agor_Bttask_V1_Lease {
        var lease = Agor_Bttask_V1_Lease()
        lease.id = row["id"]; lease.group = row["grp"]; lease.project = row["project"]; lease.path = row["path"]
        lease.exclusive = row["exclusive"]; lease.holder = row["holder"]; lease.task = row["task"]
        lease.expiresUs = row["expires_us"]; lease.createdUs = row["created_us"]
        return lease
    }

    static func liveLeases(_ db: Database, group: String, project: String, now: Int64) throws -> [Agor_Bttask_V1_Lease] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT \(leaseColumns) FROM leases WHERE grp = ? AND project = ? AND expires_us > ?"),
                         arguments: [group, project, now]).map(lease)
    }

    static func fetchLease(_ db: Database, id: String) throws -> Agor_Bttask_V1_Lease? {
        try Row.fetchOne(db, sql: "SELECT \(leaseColumns) FROM leases WHERE id = ?", arguments: [id]).map(lease)
    }

    static func saveLease(_ db: Database, _ l: Agor_Bttask_V1_Lease) throws {
        try db.execute(sql: """
            INSERT INTO leases (\(leaseColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET expires_us = excluded.expires_us
            """, arguments: [l.id, l.group, l.project, l.path, l.exclusive, l.holder, l.task, l.expiresUs, l.createdUs])
    }

    /// Appends a lease event to its group's stream (a board change).
    static func recordLease(_ events: inout EventBatchWriter, kind: String, lease: Agor_Bttask_V1_Lease, by: String) throws {
        var change = Agor_Bttask_V1_Change()
        change.kind = kind
        change.lease = lease
        change.by = by
        change.atUs = BusProtocol.nowMicros()
        _ = try events.append(stream: BttaskRules.stream(of: lease.group), type: kind, body: try change.serializedBytes())
    }

    static func ttl(_ seconds: Int32) throws -> Int64 {
        guard seconds >= 0, seconds <= LeaseRules.maxTTLSeconds else { throw BusError.badRequest("ttl_s is 1 to \(LeaseRules.maxTTLSeconds)") }
        return Int64(seconds == 0 ? LeaseRules.defaultTTLSeconds : seconds) * 1_000_000
    }

    /// Ends the leases tied to a task (it is done), in the task's transaction.
    static func endLeases(_ db: Database, _ events: inout EventBatchWriter, task: String, by: String) throws {
        let tied = try Row.fetchAll(db, sql: "SELECT \(leaseColumns) FROM leases WHERE task = ?", arguments: [task]).map(lease)
        for lease in tied {
            try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [lease.id])
            try recordLease(&events, kind: "lease.released", lease: lease, by: by)
        }
    }

    func registerLeases() {
        runtime.server.registerWrite(BttaskMethods.leaseAcquire, through: commits) { context, r in
            let p = context.principal
            let group = try RequestChecks.group(of: p, named: r.group)
            guard !r.paths.isEmpty, r.paths.count <= LeaseRules.maxPaths else { throw BusError.badRequest("1 to \(LeaseRules.maxPaths) paths") }
            for path in r.paths { if let problem = LeaseRules.problem(with: path) { throw BusError.badRequest("\(problem): \(path.prefix(80))") } }
            guard r.project.utf8.count <= 128 else { throw BusError.badRequest("a project name is at most 128 bytes") }
            if !r.task.isEmpty { try RequestChecks.requireFullId(r.task, "task") }
            let ttl = try Self.ttl(r.ttlS)
            let requestId = context.requestId
            return { db, events in
                try RequestDedup.once(db, principal: p.name, requestId: requestId) {
                    if !r.task.isEmpty { _ = try Self.visibleTask(db, id: r.task, for: p) }
                    let now = BusProtocol.nowMicros()
                    let held = try Self.liveLeases(db, group: group, project: r.project, now: now)
                    for path in r.paths {
                        if let other = held.first(where: { LeaseRules.conflict(path: path, exclusive: r.exclusive, holder: p.name,
                                                                                with: ($0.path, $0.exclusive, $0.holder)) }) {
                            let until = Date(timeIntervalSince1970: Double(other.expiresUs) / 1e6).formatted(.iso8601)
                            throw BusError.conflict("\(path) is held \(other.exclusive ? "exclusively" : "shared") by \(other.holder) "
                                                    + "(\(other.path), lease \(other.id)) until \(until)")
                        }
                    }
                    var reply = Agor_Bttask_V1_LeaseList()
                    for path in r.paths {
                        // Leasing again what one holds (same path, same kind) renews it.
                        var lease = held.first { $0.holder == p.name && $0.path == path && $0.exclusive == r.exclusive } ?? {
                            var fresh = Agor_Bttask_V1_Lease()
                            fresh.id = RandomID.uuid(); fresh.group = group; fresh.project = r.project; fresh.path = path
                            fresh.exclusive = r.exclusive; fresh.holder = p.name; fresh.task = r.task; fresh.createdUs = now
                            return fresh
                        }()
                        let renewed = lease.expiresUs != 0
                        lease.expiresUs = now + ttl
                        try Self.saveLease(db, lease)
                        try Self.recordLease(&events, kind: renewed ? "lease.renewed" : "lease.acquired", lease: lease, by: p.name)
                        reply.leases.append(lease)
                    }
                    return try reply.serializedBytes()
                }
            }
        }

        runtime.server.registerWrite(BttaskMethods.leaseRenew, through: commits) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            let p = context.principal, ttl = try Self.ttl(r.ttlS)
            return { db, events in
                let now = BusProtocol.nowMicros()
                guard var lease = try Self.fetchLease(db, id: r.id), p.isMember(of: lease.group), lease.expiresUs > now else {
                    throw BusError.notFound("no live lease \(r.id) in the groups of \(p.name)")
                }
                guard lease.holder == p.name else { throw BusError.forbidden("lease \(r.id) is \(lease.holder)'s") }
                lease.expiresUs = now + ttl
                try Self.saveLease(db, lease)
                try Self.recordLease(&events, kind: "lease.renewed", lease: lease, by: p.name)
                return try lease.serializedBytes()
            }
        }

        runtime.server.registerWrite(BttaskMethods.leaseRelease, through: commits) { context, r in
            try RequestChecks.requireFullId(r.id, "id")
            let p = context.principal
            return { db, events in
                guard let lease = try Self.fetchLease(db, id: r.id), p.isMember(of: lease.group) else {
                    throw BusError.notFound("no lease \(r.id) in the groups of \(p.name)")
                }
                guard lease.holder == p.name || p.role == .operator_ || p.role == .manager else {
                    throw BusError.forbidden("lease \(r.id) is \(lease.holder)'s; its holder, a manager or an operator releases it")
                }
                try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [lease.id])
                try Self.recordLease(&events, kind: "lease.released", lease: lease, by: p.name)
                return try lease.serializedBytes()
            }
        }

        runtime.server.register(BttaskMethods.leaseList) { [database] context, r in
            let p = context.principal
            guard r.group.isEmpty || p.isMember(of: r.group) else { throw BusError.forbidden("\(p.name) is not in group \(r.group)") }
            let groups = r.group.isEmpty ? p.groups : [r.group]
            guard !groups.isEmpty else { return Agor_Bttask_V1_LeaseList() }
            return try await database.read { db in
                var sql = "SELECT \(Self.leaseColumns) FROM leases WHERE expires_us > ? AND grp IN (\(groups.map { _ in "?" }.joined(separator: ",")))"
                var arguments: [any DatabaseValueConvertible] = [BusProtocol.nowMicros()] + groups
                if !r.project.isEmpty { sql += " AND project = ?"; arguments.append(r.project) }
                if !r.holder.isEmpty { sql += " AND holder = ?"; arguments.append(r.holder) }
                sql += " ORDER BY created_us LIMIT 10000"
                var reply = Agor_Bttask_V1_LeaseList()
                reply.leases = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.lease)
                    .filter { r.path.isEmpty || LeaseRules.covers($0.path, file: r.path) }
                return reply
            }
        }
    }

    /// Removes expired leases, at most 500 a pass through the expiry index, each with a
    /// `lease.expired` event; every 30 s until cancelled.
    func expireLeases() async {
        while !Task.isCancelled {
            // A read through the expiry index first: an idle board opens no write transaction.
            let due = (try? await database.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM leases WHERE expires_us <= ?)", arguments: [BusProtocol.nowMicros()])
            }) ?? false
            if due == true { _ = try? await runtime.publisher.write { db, events in
                let expired = try Row.fetchAll(db, sql: "SELECT \(Self.leaseColumns) FROM leases WHERE expires_us <= ? ORDER BY expires_us LIMIT 500",
                                               arguments: [BusProtocol.nowMicros()]).map(Self.lease)
                for lease in expired {
                    try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [lease.id])
                    try Self.recordLease(&events, kind: "lease.expired", lease: lease, by: "bttask")
                }
            } }
            try? await Task.sleep(for: .seconds(30))
        }
    }
}
