import Foundation
import GRDB
import SwiftProtobuf

/// One event of a sequenced stream.
public struct BusEvent: Sendable, Equatable {
    public var stream: String
    public var seq: UInt64
    public var type: String
    public var timestampUs: Int64
    public var body: [UInt8]

    public init(stream: String, seq: UInt64, type: String, timestampUs: Int64, body: [UInt8]) {
        self.stream = stream
        self.seq = seq
        self.type = type
        self.timestampUs = timestampUs
        self.body = body
    }

    public var envelope: Envelope {
        var e = Envelope(kind: .event)
        e.stream = stream
        e.seq = seq
        e.method = type
        e.timestampUs = timestampUs
        return e
    }

    public var packed: Agor_Bus_V1_PackedEvent {
        var p = Agor_Bus_V1_PackedEvent()
        p.envelope = Data(envelope.bytes())
        p.body = Data(body)
        return p
    }

    public init?(packed: Agor_Bus_V1_PackedEvent) {
        guard let e = try? Envelope(serializedBytes: Array(packed.envelope)), e.kind == .event else { return nil }
        self.init(envelope: e, body: Array(packed.body))
    }

    init(envelope e: Envelope, body: [UInt8]) {
        self.init(stream: e.stream, seq: e.seq, type: e.method, timestampUs: e.timestampUs, body: body)
    }
}

/// The event log: a table next to the state it announces, written in the caller's transaction, so
/// an event exists exactly when its change does and numbers have no gaps.
public enum EventLog {
    /// Appends the next event of `stream`. Call inside a write transaction.
    public static func append(_ db: Database, stream: String, type: String, body: [UInt8]) throws -> BusEvent {
        let head = try self.head(db, stream: stream)
        let event = BusEvent(stream: stream, seq: head + 1, type: type, timestampUs: BusProtocol.nowMicros(), body: body)
        try insert(db, event)
        try setHead(db, stream: stream, head: event.seq)
        return event
    }

    /// Stores a numbered event (the caller keeps the stream's head).
    static func insert(_ db: Database, _ event: BusEvent) throws {
        try db.cachedStatement(sql: "INSERT INTO bus_events(stream, seq, type, timestamp_us, body) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [event.stream, Int64(event.seq), event.type, event.timestampUs, Data(event.body)])
    }

    static func setHead(_ db: Database, stream: String, head: UInt64) throws {
        try db.cachedStatement(sql: "INSERT INTO bus_streams(stream, head) VALUES (?, ?) ON CONFLICT(stream) DO UPDATE SET head = excluded.head")
            .execute(arguments: [stream, Int64(head)])
    }

    public static func replay(_ db: Database, stream: String, after: UInt64, limit: Int) throws -> [BusEvent] {
        try Row.fetchAll(db, sql: """
            SELECT seq, type, timestamp_us, body FROM bus_events
            WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?
            """, arguments: [stream, Int64(after), limit]).map { row in
            BusEvent(stream: stream, seq: UInt64(row[0] as Int64), type: row[1], timestampUs: row[2],
                     body: Array(row[3] as Data))
        }
    }

    public static func head(_ db: Database, stream: String) throws -> UInt64 {
        try UInt64.fetchOne(db.cachedStatement(sql: "SELECT head FROM bus_streams WHERE stream = ?"), arguments: [stream]) ?? 0
    }

    public static func heads(_ db: Database, prefix: String) throws -> [(String, UInt64)] {
        try Row.fetchAll(db, sql: "SELECT stream, head FROM bus_streams WHERE substr(stream, 1, ?) = ? ORDER BY stream",
                         arguments: [prefix.utf8.count, prefix]).map { ($0[0], UInt64($0[1] as Int64)) }
    }
}

/// Request dedup records, written in the same transaction as the change they answer for.
public enum RequestDedup {
    /// Runs `body` once per (principal, request id): a repeat returns the first reply and changes
    /// nothing. Call inside a write transaction together with the change.
    public static func once(_ db: Database, principal: String, requestId: String,
                            _ body: () throws -> [UInt8]) throws -> [UInt8] {
        guard !requestId.isEmpty else { return try body() }
        if let stored = try storedReply(db, principal: principal, requestId: requestId) { return stored }
        let reply = try body()
        try record(db, principal: principal, requestId: requestId, reply: reply)
        return reply
    }

    /// The typed form: a repeat decodes the first reply.
    public static func once<R: SwiftProtobuf.Message>(_ db: Database, principal: String, requestId: String,
                                                      _ body: () throws -> R) throws -> R {
        guard !requestId.isEmpty else { return try body() }
        if let stored = try storedReply(db, principal: principal, requestId: requestId) { return try R(serializedBytes: stored) }
        let reply = try body()
        try record(db, principal: principal, requestId: requestId, reply: try reply.serializedBytes())
        return reply
    }

    private static func storedReply(_ db: Database, principal: String, requestId: String) throws -> [UInt8]? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT reply FROM bus_requests WHERE principal = ? AND request_id = ?"),
                          arguments: [principal, requestId]).map { Array($0) }
    }

    private static func record(_ db: Database, principal: String, requestId: String, reply: [UInt8]) throws {
        try db.cachedStatement(sql: "INSERT INTO bus_requests(principal, request_id, reply, created_us) VALUES (?, ?, ?, ?)")
            .execute(arguments: [principal, requestId, Data(reply), BusProtocol.nowMicros()])
    }

    /// Forgets records older than `window` (the dedup window). Returns how many went.
    @discardableResult
    public static func prune(_ db: Database, olderThan window: TimeInterval) throws -> Int {
        let cutoff = BusProtocol.nowMicros() - Int64(window * 1_000_000)
        // Rows are appended in time order: everything up to the newest expired id goes.
        guard let newestExpired = try Int64.fetchOne(db, sql: """
            SELECT id FROM bus_requests WHERE created_us < ? ORDER BY id DESC LIMIT 1
            """, arguments: [cutoff]) else { return 0 }
        try db.execute(sql: "DELETE FROM bus_requests WHERE id <= ?", arguments: [newestExpired])
        return db.changesCount
    }
}
