import BtmsgAPI
import Bus
import Foundation
import GRDB
import Synchronization

/// Presence from requests and heartbeats. Seen times live in memory and reach the database (and the
/// group streams, as `presence` events) only when a principal comes online or every `flushEvery`,
/// so a busy sender does not pay a write per request. A principal is online while seen within
/// `onlineWindow`; the sweep announces those who went quiet.
final class PresenceTracker: Sendable {
    static let flushEvery: Int64 = 10_000_000
    static let onlineWindow: Int64 = 90_000_000

    private struct Seen: Sendable { var lastSeen: Int64; var flushed: Int64; var announcedOnline: Bool }
    private let seen = Mutex<[String: Seen]>([:])
    private let publisher: SequencedPublisher

    init(publisher: SequencedPublisher) { self.publisher = publisher }

    static func isOnline(lastSeen: Int64, now: Int64 = BusProtocol.nowMicros()) -> Bool {
        lastSeen > 0 && now - lastSeen <= onlineWindow
    }

    /// Notes a request from `principal`; writes when it came online or the record is stale.
    func touch(_ principal: Principal) {
        guard principal.kind != .service else { return }
        let now = BusProtocol.nowMicros()
        let (flush, cameOnline) = seen.withLock { map -> (Bool, Bool) in
            var entry = map[principal.name] ?? Seen(lastSeen: 0, flushed: 0, announcedOnline: false)
            entry.lastSeen = now
            let cameOnline = !entry.announcedOnline
            let due = cameOnline || now - entry.flushed >= Self.flushEvery
            if due { entry.flushed = now; entry.announcedOnline = true }
            map[principal.name] = entry
            return (due, cameOnline)
        }
        // The record is refreshed every `flushEvery`; an event only when the principal came online.
        if flush { Task { try? await self.record(principal, lastSeen: now, online: true, announce: cameOnline) } }
    }

    /// The last time each principal was seen (memory first, else the database).
    func lastSeen(_ names: [String], db: Database) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        let memory = seen.withLock { $0 }
        for name in names {
            if let entry = memory[name] { result[name] = entry.lastSeen; continue }
            result[name] = try Int64.fetchOne(db.cachedStatement(sql: "SELECT last_seen FROM presence WHERE principal = ?"), arguments: [name]) ?? 0
        }
        return result
    }

    /// Announces principals that went quiet. Runs until cancelled.
    func sweep(directory: Directory) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(15))
            let now = BusProtocol.nowMicros()
            let quiet = seen.withLock { map -> [(String, Int64)] in
                var quiet: [(String, Int64)] = []
                for (name, entry) in map where entry.announcedOnline && !Self.isOnline(lastSeen: entry.lastSeen, now: now) {
                    map[name]?.announcedOnline = false
                    quiet.append((name, entry.lastSeen))
                }
                return quiet
            }
            for (name, lastSeen) in quiet {
                guard let principal = directory.principal(named: name) else { continue }
                try? await record(principal, lastSeen: lastSeen, online: false, announce: true)
            }
        }
    }

    private func record(_ principal: Principal, lastSeen: Int64, online: Bool, announce: Bool) async throws {
        try await publisher.write { db, events in
            try db.execute(sql: "INSERT INTO presence(principal, last_seen) VALUES (?, ?) ON CONFLICT(principal) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)",
                           arguments: [principal.name, lastSeen])
            guard announce else { return }
            var event = Agor_Btmsg_V1_Event()
            event.presence.principal = principal.name
            event.presence.lastSeenUs = lastSeen
            event.presence.online = online
            let body = try event.serializedBytes() as [UInt8]
            for group in principal.groups {
                try events.append(stream: BtmsgRules.stream(of: group), type: "presence", body: body)
            }
        }
    }
}
