import BttaskAPI
import Bus
import Foundation
import GRDB
import Logging
import SwiftProtobuf

/// The bttask service: the task board on a `ServiceRuntime`. Every change goes through group
/// commit, names the version it expects, appends one event to its group's stream (whose number is
/// the board revision) and is answered after its commit reached the disk (bttask runs with
/// synchronous=FULL: a claim, once answered, survives a power cut).
public final class BttaskService: Sendable {
    public static let name = "bttask"

    let runtime: ServiceRuntime
    let database: DatabasePool
    let directory: Directory
    let commits: GroupCommit
    let outbox: ReviewOutbox
    let logger: Logger

    public static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: name, home: home, fsyncEveryCommit: true) { BttaskSchema.register(in: &$0) }
        let service = BttaskService(runtime: runtime)
        try await runtime.run(background: service.background)
        service.stop()
    }

    public init(runtime: ServiceRuntime) {
        self.runtime = runtime
        database = runtime.database
        directory = runtime.directory
        logger = runtime.logger
        let outbox = ReviewOutbox(runtime: runtime)
        self.outbox = outbox
        commits = GroupCommit(publisher: runtime.publisher, afterCommit: { outbox.nudge() })
        registerReads()
        registerChanges()
        registerLeases()
        runtime.publisher.serveReplay(on: runtime.server) { principal, stream in BttaskRules.mayRead(principal, prefix: stream) }
        runtime.publisher.restrictSubscriptions { principal, prefix in BttaskRules.mayRead(principal, prefix: prefix) }
    }

    /// The background work, run by the runtime's service group: the review outbox, lease expiry.
    public var background: [BackgroundWork] {
        let outbox = self.outbox
        return [BackgroundWork("review outbox") { await outbox.run() },
                BackgroundWork("lease expiry") { [self] in await expireLeases() }]
    }

    public func stop() { outbox.stop() }

    // MARK: helpers

    /// The task as `principal` may see it: in one of its groups, else not found.
    static func visibleTask(_ db: Database, id: String, for principal: Principal) throws -> Agor_Bttask_V1_Task {
        guard let task = try TaskStore.fetch(db, id: id), principal.isMember(of: task.group) else {
            throw BusError.notFound("no task \(id) in the groups of \(principal.name)")
        }
        return task
    }

    static func require(_ principal: Principal, _ action: BttaskRules.Action, _ task: Agor_Bttask_V1_Task,
                        to: Agor_Bttask_V1_Status = .unspecified) throws {
        guard BttaskRules.may(principal, action, group: task.group, assignee: task.assignee, from: task.status, to: to) else {
            let what = action == .move ? "move \(BttaskRules.statusName(task.status))→\(BttaskRules.statusName(to))" : action.rawValue
            throw BusError.forbidden("a \(principal.role.rawValue) may not \(what) task \(task.id.prefix(8))"
                                     + (task.assignee.isEmpty ? "" : " (assigned to \(task.assignee))"))
        }
    }

    static func checkVersion(_ task: Agor_Bttask_V1_Task, expected: Int64) throws {
        guard expected == task.version else {
            var reply = Agor_Bttask_V1_TaskReply()
            reply.task = task
            let current = (try? reply.jsonString()) ?? ""
            throw BusError.conflict("version conflict: expected \(expected), task is at \(task.version): \(current)")
        }
    }

    /// Appends the change event; returns the board revision it made.
    static func record(_ events: inout EventBatchWriter, kind: String, task: Agor_Bttask_V1_Task, by: String,
                       comment: Agor_Bttask_V1_Comment? = nil) throws -> Int64 {
        var change = Agor_Bttask_V1_Change()
        change.kind = kind
        change.task = task
        if let comment { change.comment = comment }
        change.by = by
        change.atUs = BusProtocol.nowMicros()
        let event = try events.append(stream: BttaskRules.stream(of: task.group), type: kind, body: try change.serializedBytes())
        return Int64(event.seq)
    }

    static func reply(_ task: Agor_Bttask_V1_Task, revision: Int64) throws -> [UInt8] {
        var reply = Agor_Bttask_V1_TaskReply()
        reply.task = task
        reply.revision = revision
        return try reply.serializedBytes()
    }

    static func revision(_ db: Database, group: String) throws -> Int64 {
        Int64(try EventLog.head(db, stream: BttaskRules.stream(of: group)))
    }
}
