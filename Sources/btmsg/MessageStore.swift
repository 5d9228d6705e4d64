import BtmsgAPI
import Bus
import Foundation
import GRDB

/// A channel as stored.
struct ChannelRecord: Sendable {
    var id: String
    var group: String
    var name: String
    var owner: String
    var system: Bool
    var open: Bool
    var createdAt: Int64

    init(row: Row) {
        id = row["id"]; group = row["grp"]; name = row["name"]; owner = row["owner"]
        system = row["system"]; open = row["open"]; createdAt = row["created_at"]
    }

    func proto(members: [String] = [], isMember: Bool = false) -> Agor_Btmsg_V1_Channel {
        var c = Agor_Btmsg_V1_Channel()
        c.id = id; c.group = group; c.name = name; c.owner = owner; c.system = system; c.open = open
        c.createdAtUs = createdAt; c.members = members; c.isMember = isMember
        return c
    }
}

/// The SQL of btmsg, run inside the caller's GRDB access. Statements are cached per connection.
enum MessageStore {
    static let messageColumns = """
        m.seq, m.id, m.grp, m.sender, m.recipient, m.channel_id, m.body, m.reply_to, m.importance,
        m.ack_required, m.created_at, c.name AS channel_name
        """

    static func message(_ row: Row) -> Agor_Btmsg_V1_Message {
        var m = Agor_Btmsg_V1_Message()
        m.id = row["id"]; m.group = row["grp"]; m.sender = row["sender"]
        m.recipient = row["recipient"] ?? ""; m.channelID = row["channel_id"] ?? ""
        m.channelName = row["channel_name"] ?? ""
        m.body = row["body"]
        m.replyTo = row["reply_to"] ?? ""
        m.importance = Agor_Btmsg_V1_Importance(rawValue: row["importance"]) ?? .normal
        m.ackRequired = row["ack_required"]; m.createdAtUs = row["created_at"]
        if let read = row["read_at"] as Int64? { m.read = read > 0 }
        if let acked = row["acked_at"] as Int64? { m.acked = acked > 0 }
        return m
    }

    // MARK: channels

    static func channel(_ db: Database, id: String) throws -> ChannelRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM channels WHERE id = ?"), arguments: [id]).map(ChannelRecord.init)
    }

    static func channel(_ db: Database, group: String, name: String) throws -> ChannelRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM channels WHERE grp = ? AND name = ?"), arguments: [group, name]).map(ChannelRecord.init)
    }

    static func channels(_ db: Database, groups: [String]) throws -> [ChannelRecord] {
        guard !groups.isEmpty else { return [] }
        return try Row.fetchAll(db, sql: "SELECT * FROM channels WHERE grp IN \(placeholders(groups.count)) ORDER BY grp, name",
                                arguments: StatementArguments(groups)).map(ChannelRecord.init)
    }

    static func isMember(_ db: Database, channel: String, principal: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM channel_members WHERE channel_id = ? AND principal = ?"),
                          arguments: [channel, principal]) ?? false
    }

    static func members(_ db: Database, channel: String) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT principal FROM channel_members WHERE channel_id = ? ORDER BY principal", arguments: [channel])
    }

    static func memberships(_ db: Database, principal: String) throws -> Set<String> {
        Set(try String.fetchAll(db.cachedStatement(sql: "SELECT channel_id FROM channel_members WHERE principal = ?"), arguments: [principal]))
    }

    /// Creates a channel unless one of that name exists in the group; returns it either way.
    @discardableResult
    static func createChannel(_ db: Database, group: String, name: String, owner: String, system: Bool, open: Bool) throws -> (ChannelRecord, created: Bool) {
        if let existing = try channel(db, group: group, name: name) { return (existing, false) }
        let id = RandomID.uuid()
        try db.execute(sql: "INSERT INTO channels(id, grp, name, owner, system, open, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, group, name, owner, system, open, BusProtocol.nowMicros()])
        return (try channel(db, id: id)!, true)
    }

    static func addMember(_ db: Database, channel: String, principal: String, by: String) throws -> Bool {
        let head = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM messages") ?? 0
        try db.execute(sql: "INSERT OR IGNORE INTO channel_members(channel_id, principal, added_by, joined_after_seq) VALUES (?, ?, ?, ?)",
                       arguments: [channel, principal, by, head])
        return db.changesCount > 0
    }

    static func removeMember(_ db: Database, channel: String, principal: String) throws -> Bool {
        try db.execute(sql: "DELETE FROM channel_members WHERE channel_id = ? AND principal = ?", arguments: [channel, principal])
        return db.changesCount > 0
    }

    // MARK: messages

    /// Stores a message. Its search index entry is written by `indexNewMessages` at the end of the
    /// batch.
    static func insert(_ db: Database, _ m: Agor_Btmsg_V1_Message) throws {
        try db.cachedStatement(sql: """
            INSERT INTO messages(id, grp, sender, recipient, channel_id, body, reply_to, importance, ack_required, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [m.id, m.group, m.sender, m.recipient.isEmpty ? nil : m.recipient,
                                     m.channelID.isEmpty ? nil : m.channelID, m.body, m.replyTo.isEmpty ? nil : m.replyTo,
                                     m.importance.rawValue, m.ackRequired, m.createdAtUs])
    }

    /// The newest message's seq (0 when there is none).
    static func lastSeq(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) FROM messages")) ?? 0
    }

    /// Adds the messages stored after `seq` to the full-text index, in one statement.
    static func indexNewMessages(_ db: Database, after seq: Int64) throws {
        try db.cachedStatement(sql: "INSERT INTO messages_fts(rowid, body) SELECT seq, body FROM messages WHERE seq > ?")
            .execute(arguments: [seq])
    }

    /// One message with the caller's receipt columns.
    static func message(_ db: Database, id: String, for principal: String) throws -> (Agor_Btmsg_V1_Message, seq: Int64)? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT \(messageColumns), r.read_at, r.acked_at FROM messages m
            LEFT JOIN channels c ON c.id = m.channel_id
            LEFT JOIN receipts r ON r.message_seq = m.seq AND r.principal = ?
            WHERE m.id = ?
            """), arguments: [principal, id]) else { return nil }
        return (message(row), row["seq"])
    }

    /// Whether `from` has sent `to` a direct message in `group` (so `to` may answer).
    static func hasWritten(_ db: Database, from: String, to: String, group: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM messages WHERE recipient = ? AND sender = ? AND grp = ? LIMIT 1"),
                          arguments: [to, from, group]) ?? false
    }

    static func hasContact(_ db: Database, from: String, to: String, group: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM contacts WHERE grp = ? AND from_principal = ? AND to_principal = ?"),
                          arguments: [group, from, to]) ?? false
    }

    /// Sets the read (or ack) time of a message for a principal; returns false when it was set already.
    static func mark(_ db: Database, seq: Int64, principal: String, ack: Bool, at: Int64) throws -> Bool {
        let column = ack ? "acked_at" : "read_at"
        try db.execute(sql: "INSERT OR IGNORE INTO receipts(message_seq, principal) VALUES (?, ?)", arguments: [seq, principal])
        // Acknowledging also marks read.
        let setRead = ack ? ", read_at = COALESCE(read_at, \(at))" : ""
        try db.execute(sql: "UPDATE receipts SET \(column) = ?\(setRead) WHERE message_seq = ? AND principal = ? AND \(column) IS NULL",
                       arguments: [at, seq, principal])
        return db.changesCount > 0
    }

    static func placeholders(_ n: Int) -> String { "(" + Array(repeating: "?", count: n).joined(separator: ",") + ")" }
}
