import BtmsgAPI
import Bus
import Foundation
import GRDB

/// Reading lists of messages: inbox, history, feed, search, id resolution, unread counts, dead letters.
extension BtmsgService {
    static let selectWithReceipt = """
        SELECT \(MessageStore.messageColumns), r.read_at, r.acked_at FROM messages m
        LEFT JOIN channels c ON c.id = m.channel_id
        LEFT JOIN receipts r ON r.message_seq = m.seq AND r.principal = ?
        """

    /// How a list of messages pages on: toward older messages (its pages are the newest first;
    /// the cursor is the oldest seq returned), toward newer ones (the cursor is the newest seq), or
    /// by position in a ranked order (search).
    enum Paging {
        case older(String)
        case newer(String)
        case ranked(String, offset: Int)

        var list: String {
            switch self { case .older(let list), .newer(let list), .ranked(let list, _): list }
        }

        /// The seq bound (or offset) a request's cursor asks for; nil without a cursor.
        func position(of cursor: String) throws -> Int64? {
            cursor.isEmpty ? nil : try PageCursor.integers(cursor, list: list, count: 1)[0]
        }
    }

    /// A page of messages; `next_cursor` is set when the page is full (there may be more).
    static func list(_ db: Database, _ sql: String, _ args: [(any DatabaseValueConvertible)?], limit: Int, paging: Paging) throws -> Agor_Btmsg_V1_MessageList {
        var reply = Agor_Btmsg_V1_MessageList()
        let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
        reply.messages = rows.map { MessageStore.message($0) }
        if rows.count == limit {
            let seqs = rows.map { $0["seq"] as Int64 }
            switch paging {
            case .older(let list): reply.nextCursor = PageCursor.encode(list: list, keys: [String(seqs.min() ?? 0)])
            case .newer(let list): reply.nextCursor = PageCursor.encode(list: list, keys: [String(seqs.max() ?? 0)])
            case .ranked(let list, let offset): reply.nextCursor = PageCursor.encode(list: list, keys: [String(offset + rows.count)])
            }
        }
        return reply
    }

    static func unreadCount(_ db: Database, viewer: Viewer) throws -> Int64 {
        var args: [(any DatabaseValueConvertible)?] = [viewer.principal.name]
        let filter = viewer.addressedFilter(&args)
        return try Int64.fetchOne(db, sql: """
            SELECT COUNT(*) FROM messages m
            LEFT JOIN receipts r ON r.message_seq = m.seq AND r.principal = ?
            WHERE \(filter) AND r.read_at IS NULL
            """, arguments: StatementArguments(args)) ?? 0
    }

    func registerQueries() {
        let database = self.database, directory = self.directory

        // btmsg.inbox InboxRequest -> MessageList: unread, oldest first; `all`: newest N of both.
        handle(BtmsgMethods.inbox) { context, request in
            let limit = try Self.limit(request.limit, default: 50)
            let principal = context.principal
            return try await database.read { db in
                let viewer = try Viewer(db, principal: principal)
                var args: [(any DatabaseValueConvertible)?] = [principal.name]
                var filter = viewer.addressedFilter(&args)
                let paging: Paging = request.all ? .older("inbox.all") : .newer("inbox.unread")
                if let bound = try paging.position(of: request.cursor) {
                    filter += request.all ? " AND m.seq < ?" : " AND m.seq > ?"
                    args.append(bound)
                }
                args.append(limit)
                if request.all {
                    return try Self.list(db, "SELECT * FROM (\(Self.selectWithReceipt) WHERE \(filter) ORDER BY m.seq DESC LIMIT ?) ORDER BY seq", args,
                                         limit: limit, paging: paging)
                }
                return try Self.list(db, "\(Self.selectWithReceipt) WHERE \(filter) AND r.read_at IS NULL ORDER BY m.seq LIMIT ?", args,
                                     limit: limit, paging: paging)
            }
        }

        // btmsg.history HistoryRequest -> MessageList: the last N direct messages with someone, or
        // of a channel the caller may read (membership checked), oldest first.
        handle(BtmsgMethods.history) { context, request in
            let limit = try Self.limit(request.limit, default: 20)
            let principal = context.principal
            guard request.with.isEmpty != request.channelID.isEmpty else {
                throw BusError.badRequest("name exactly one of `with` (a principal) or `channel_id`")
            }
            if !request.channelID.isEmpty { try RequestChecks.requireFullId(request.channelID, "channel_id") }
            return try await database.read { db in
                let viewer = try Viewer(db, principal: principal)
                var args: [(any DatabaseValueConvertible)?] = [principal.name]
                var condition: String
                if !request.channelID.isEmpty {
                    guard let channel = try MessageStore.channel(db, id: request.channelID), principal.isMember(of: channel.group) else {
                        throw BusError.notFound("no channel \(request.channelID) in the groups of \(principal.name)")
                    }
                    guard viewer.channels[channel.id] != nil else {
                        throw BusError.forbidden("\(principal.name) is not a member of #\(channel.name)")
                    }
                    condition = "m.channel_id = ?"
                    args.append(channel.id)
                } else {
                    let groups = request.group.isEmpty ? principal.groups : [request.group]
                    guard request.group.isEmpty || principal.isMember(of: request.group) else {
                        throw BusError.forbidden("\(principal.name) is not in group \(request.group)")
                    }
                    guard !groups.isEmpty else { return Agor_Btmsg_V1_MessageList() }
                    condition = "m.recipient IS NOT NULL AND m.grp IN \(MessageStore.placeholders(groups.count)) AND ((m.sender = ? AND m.recipient = ?) OR (m.sender = ? AND m.recipient = ?))"
                    args.append(contentsOf: groups.map { $0 as (any DatabaseValueConvertible)? })
                    args.append(contentsOf: [principal.name, request.with, request.with, principal.name])
                }
                let paging = Paging.older("history")
                if let bound = try paging.position(of: request.cursor) {
                    condition = "(\(condition)) AND m.seq < ?"
                    args.append(bound)
                }
                args.append(limit)
                return try Self.list(db, "SELECT * FROM (\(Self.selectWithReceipt) WHERE \(condition) ORDER BY m.seq DESC LIMIT ?) ORDER BY seq", args,
                                     limit: limit, paging: paging)
            }
        }

        // btmsg.feed FeedRequest -> MessageList: operators only, every message of their groups.
        handle(BtmsgMethods.feed) { context, request in
            let principal = context.principal
            let groups = request.group.isEmpty ? principal.groups : [request.group]
            guard request.group.isEmpty || principal.isMember(of: request.group) else {
                throw BusError.forbidden("\(principal.name) is not in group \(request.group)")
            }
            let limit = try Self.limit(request.limit, default: 50)
            guard !groups.isEmpty else { return Agor_Btmsg_V1_MessageList() }
            let paging = Paging.older("feed")
            let bound = try paging.position(of: request.cursor)
            return try await database.read { db in
                var args: [(any DatabaseValueConvertible)?] = [principal.name]
                args.append(contentsOf: groups.map { $0 as (any DatabaseValueConvertible)? })
                var condition = "m.grp IN \(MessageStore.placeholders(groups.count))"
                if let bound {
                    condition += " AND m.seq < ?"
                    args.append(bound)
                }
                args.append(limit)
                return try Self.list(db, "SELECT * FROM (\(Self.selectWithReceipt) WHERE \(condition) ORDER BY m.seq DESC LIMIT ?) ORDER BY seq", args,
                                     limit: limit, paging: paging)
            }
        }

        // btmsg.search SearchRequest -> MessageList: FTS5 over what the caller may read, best first.
        handle(BtmsgMethods.search) { context, request in
            let query = request.query.trimmingCharacters(in: .whitespaces)
            guard !query.isEmpty, query.utf8.count <= 1000 else { throw BusError.badRequest("search needs a query of 1 to 1000 bytes") }
            let limit = try Self.limit(request.limit, default: 20, max: 200)
            let principal = context.principal
            // Ranked results page by position: a message added meanwhile may shift them by one.
            let offset = Int(try Paging.ranked("search", offset: 0).position(of: request.cursor) ?? 0)
            guard offset >= 0, offset <= 100_000 else { throw BusError.badRequest("cursor is damaged (pass next_cursor back as given)") }
            return try await database.read { db in
                let viewer = try Viewer(db, principal: principal)
                var args: [(any DatabaseValueConvertible)?] = [principal.name, query]
                let filter = viewer.visibleFilter(&args)
                args.append(limit)
                args.append(offset)
                do {
                    return try Self.list(db, """
                        \(Self.selectWithReceipt)
                        JOIN messages_fts f ON f.rowid = m.seq
                        WHERE messages_fts MATCH ? AND \(filter) ORDER BY f.rank, m.seq LIMIT ? OFFSET ?
                        """, args, limit: limit, paging: .ranked("search", offset: offset))
                } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR {
                    throw BusError.badRequest("bad search query: \(error.message ?? "syntax error") (FTS5 syntax; quote words with \"…\")")
                }
            }
        }

        // btmsg.resolve ResolveRequest -> ResolveReply: message ids starting with a prefix, among
        // the messages the caller may read (at most 10), for the CLI's short ids.
        handle(BtmsgMethods.resolve) { context, request in
            let prefix = request.prefix.lowercased()
            guard prefix.utf8.count >= 4, prefix.utf8.count <= 36,
                  prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2D }) else {
                throw BusError.badRequest("an id prefix is 4 to 36 hex characters")
            }
            let principal = context.principal
            return try await database.read { db in
                let viewer = try Viewer(db, principal: principal)
                var args: [(any DatabaseValueConvertible)?] = [prefix, prefix + "\u{10FFFF}"]
                let filter = viewer.visibleFilter(&args)
                var reply = Agor_Btmsg_V1_ResolveReply()
                reply.ids = try String.fetchAll(db, sql: "SELECT m.id FROM messages m WHERE m.id >= ? AND m.id < ? AND \(filter) ORDER BY m.id LIMIT 10",
                                                arguments: StatementArguments(args))
                return reply
            }
        }

        // btmsg.unread Empty -> UnreadReply.
        handle(BtmsgMethods.unread) { context, _ in
            let principal = context.principal
            return try await database.read { db in
                var reply = Agor_Btmsg_V1_UnreadReply()
                reply.count = try Self.unreadCount(db, viewer: try Viewer(db, principal: principal))
                return reply
            }
        }

        // btmsg.deadletters Empty -> DeadLetterList: operators; unread direct messages to revoked
        // principals of their groups, with the revocation's reason.
        handle(BtmsgMethods.deadLetters) { context, _ in
            let principal = context.principal
            let revoked = directory.revocations().filter { directory.principal(named: $0.key) == nil }
            guard !revoked.isEmpty, !principal.groups.isEmpty else { return Agor_Btmsg_V1_DeadLetterList() }
            return try await database.read { db in
                let names = Array(revoked.keys)
                var args: [(any DatabaseValueConvertible)?] = names.map { $0 as (any DatabaseValueConvertible)? }
                args.append(contentsOf: principal.groups.map { $0 as (any DatabaseValueConvertible)? })
                let rows = try Row.fetchAll(db, sql: """
                    SELECT \(MessageStore.messageColumns) FROM messages m
                    LEFT JOIN channels c ON c.id = m.channel_id
                    LEFT JOIN receipts r ON r.message_seq = m.seq AND r.principal = m.recipient
                    WHERE m.recipient IN \(MessageStore.placeholders(names.count)) AND m.grp IN \(MessageStore.placeholders(principal.groups.count))
                      AND r.read_at IS NULL
                    ORDER BY m.seq LIMIT 1000
                    """, arguments: StatementArguments(args))
                var reply = Agor_Btmsg_V1_DeadLetterList()
                reply.letters = rows.map { row in
                    var letter = Agor_Btmsg_V1_DeadLetter()
                    letter.message = MessageStore.message(row)
                    let revocation = revoked[letter.message.recipient]
                    letter.reason = revocation?.reason ?? ""
                    letter.revokedAtUs = (revocation?.revokedAtUnix ?? 0) * 1_000_000
                    return letter
                }
                return reply
            }
        }
    }
}
