import Bus
import Foundation
import GRDB
import HomeConfig
import RunnerAPI

/// Retention: per project (settings cascade), keep the last `runner.retention.keep_sessions`
/// ended sessions and those of the last `runner.retention.keep_days` days; the rest go with their
/// events, folders and worktrees. Live sessions are never removed. The sweep runs when the runner
/// starts, after a session ends, and every ten minutes.
extension RunnerService {
    static let endedStates: [SessionState] = [.finished, .failed, .stopped, .interrupted]

    /// Removes what retention no longer keeps; returns the ids removed.
    @discardableResult
    func sweepRetention(now: Date = Date()) async throws -> [String] {
        let ended = Set(RunnerService.endedStates.map(\.rawValue))
        let rows = try await runtime.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, grp, project, state, updated_us FROM sessions ORDER BY created_us DESC").map {
                (id: $0["id"] as String, group: $0["grp"] as String, project: $0["project"] as String,
                 state: $0["state"] as Int, updated: $0["updated_us"] as Int64)
            }
        }
        let settings = try? Settings.load(from: home)
        let projects = (try? Projects.load(from: home)) ?? []
        let running = live.withLock { Set($0.keys) }
        var kept: [String: Int] = [:]
        var doomed: [String] = []
        for row in rows {
            let id = row.id, group = row.group, name = row.project
            guard ended.contains(row.state), !running.contains(id) else { continue }
            let project = projects.first { $0.name == name }
            let keepSessions = settings?.integer("runner.retention.keep_sessions", project: project, group: group) ?? 0
            let keepDays = settings?.integer("runner.retention.keep_days", project: project, group: group) ?? 0
            let owner = group + "\u{0}" + name
            let rank = kept[owner, default: 0]
            kept[owner] = rank + 1
            let updated = Date(timeIntervalSince1970: Double(row.updated) / 1_000_000)
            if (keepSessions > 0 && rank >= keepSessions) || (keepDays > 0 && now.timeIntervalSince(updated) > Double(keepDays) * 86_400) {
                doomed.append(id)
            }
        }
        guard !doomed.isEmpty else { return [] }
        let removed = try await deleteSessions(doomed)
        logger.notice("retention removed sessions", metadata: ["runner.sessions": "\(removed.count)"])
        return removed
    }

    /// Deletes sessions that are not live: their records, their streams' events, their folders and
    /// worktrees (with the worktree's branch).
    func deleteSessions(_ ids: [String]) async throws -> [String] {
        let running = live.withLock { Set($0.keys) }
        let deleted = try await runtime.database.write { db -> [(id: String, project: String)] in
            var deleted: [(id: String, project: String)] = []
            for id in ids where !running.contains(id) {
                guard let row = try Row.fetchOne(db, sql: "SELECT grp, project FROM sessions WHERE id = ?", arguments: [id]) else { continue }
                let stream = RunnerRules.stream(group: row["grp"], session: id)
                try db.execute(sql: "DELETE FROM bus_events WHERE stream = ?", arguments: [stream])
                try db.execute(sql: "DELETE FROM bus_streams WHERE stream = ?", arguments: [stream])
                try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [id])
                deleted.append((id, row["project"]))
            }
            return deleted
        }
        let projects = (try? Projects.load(from: home)) ?? []
        for (id, project) in deleted {
            let folder = SessionFolder(home: home, session: id)
            if let root = projects.first(where: { $0.name == project })?.root, FileManager.default.fileExists(atPath: folder.worktree) {
                Worktree.remove(project: root, session: id, at: folder.worktree)
            }
            owners.withLock { $0[id] = nil }
            try? FileManager.default.removeItem(at: folder.root)
        }
        return deleted.map(\.id)
    }

    /// Sweeps now and then every ten minutes, for as long as the runner runs.
    func keepRetention() {
        Task { [self] in
            while true {
                do { try await sweepRetention() } catch {
                    logger.error("retention sweep failed", metadata: ["runner.error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(600))
            }
        }
    }
}
