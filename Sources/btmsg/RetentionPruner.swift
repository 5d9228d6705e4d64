import Bus
import Foundation
import GRDB
import Logging
import Synchronization

/// Deletes messages past their group's retention as the data ages: woken after sends (for
/// message-count limits) and when the oldest message of a day-limited group expires. It deletes in
/// small transactions so sends interleave and never wait behind a long purge, and checkpoints the
/// WAL afterwards so it stays bounded.
final class RetentionPruner: Sendable {
    static let chunk = 500

    private let database: DatabasePool
    private let config: RetentionConfig
    private let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let timer = Mutex<Task<Void, Never>?>(nil)
    private let deleted = Mutex(0)

    init(database: DatabasePool, config: RetentionConfig, logger: Logger) {
        self.database = database
        self.config = config
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var totalDeleted: Int { deleted.withLock { $0 } }

    /// Asks for a pass soon (after a send to a group with a message-count limit).
    func nudge() { wake.yield() }

    /// Runs until cancelled.
    func run() async {
        wake.yield()
        for await _ in wakeups {
            if Task.isCancelled { break }
            await passUntilClean()
            schedule(after: (try? await nextExpiry()) ?? nil)
        }
        timer.withLock { $0?.cancel() }
    }

    func stop() { wake.finish(); timer.withLock { $0?.cancel() } }

    /// Deletes in chunks until nothing is over its limit.
    private func passUntilClean() async {
        var total = 0
        while !Task.isCancelled {
            let removed = (try? await database.write { db in try self.deleteChunk(db) }) ?? 0
            total += removed
            if removed == 0 { break }
            await Task.yield()
        }
        if total > 0 {
            deleted.withLock { $0 += total }
            logger.info("retention pruned", metadata: ["btmsg.pruned": "\(total)"])
            _ = try? await database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        }
    }

    /// The groups that have messages, one index seek each (no scan of the messages).
    private static func groups(_ db: Database) throws -> [String] {
        var groups: [String] = []
        while let next = try String.fetchOne(db.cachedStatement(sql: "SELECT grp FROM messages WHERE grp > ? ORDER BY grp LIMIT 1"),
                                             arguments: [groups.last ?? ""]) {
            groups.append(next)
        }
        return groups
    }

    private func deleteChunk(_ db: Database) throws -> Int {
        var removed = 0
        let now = BusProtocol.nowMicros()
        for group in try Self.groups(db) {
            let policy = config.policy(for: group)
            if policy.keepDays > 0 {
                // Messages are stored in time order: the expired ones are the group's oldest, up to
                // the first that is not expired.
                let cutoff = now - policy.keepDays * 86_400 * 1_000_000
                let oldest = try Row.fetchAll(db.cachedStatement(sql: "SELECT seq, created_at FROM messages WHERE grp = ? ORDER BY seq LIMIT ?"),
                                              arguments: [group, Self.chunk])
                if let last = oldest.prefix(while: { ($0["created_at"] as Int64) < cutoff }).last {
                    try db.execute(sql: "DELETE FROM messages WHERE grp = ? AND seq <= ?", arguments: [group, last["seq"] as Int64])
                    removed += db.changesCount
                }
            }
            if policy.keepMessages > 0 {
                try db.execute(sql: """
                    DELETE FROM messages WHERE seq IN (
                        SELECT seq FROM messages WHERE grp = ? AND seq <= (
                            SELECT seq FROM messages WHERE grp = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)
                        ORDER BY seq LIMIT ?)
                    """, arguments: [group, group, policy.keepMessages, Self.chunk])
                removed += db.changesCount
            }
        }
        return removed
    }

    /// When the oldest message of a day-limited group expires (nil: nothing will).
    private func nextExpiry() async throws -> Duration? {
        let config = self.config
        let soonest = try await database.read { db -> Int64? in
            var soonest: Int64?
            for group in try Self.groups(db) {
                let policy = config.policy(for: group)
                guard policy.keepDays > 0,
                      let oldest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT created_at FROM messages WHERE grp = ? ORDER BY seq LIMIT 1"),
                                                      arguments: [group]) else { continue }
                let expires = oldest + policy.keepDays * 86_400 * 1_000_000
                soonest = min(soonest ?? expires, expires)
            }
            return soonest
        }
        guard let soonest else { return nil }
        let wait = max(0, soonest - BusProtocol.nowMicros())
        return .microseconds(wait + 1000)
    }

    private func schedule(after delay: Duration?) {
        timer.withLock { task in
            task?.cancel()
            guard let delay else { task = nil; return }
            // Long waits are re-checked hourly (clock changes, new groups).
            let capped = min(delay, .seconds(3600))
            task = Task { [wake] in
                try? await Task.sleep(for: capped)
                if !Task.isCancelled { wake.yield() }
            }
        }
    }

    /// Whether sends to this group should nudge the pruner.
    func limitsCount(of group: String) -> Bool { config.policy(for: group).keepMessages > 0 }
}
