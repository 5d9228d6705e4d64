import BtmsgAPI
import Bus
import GRDB

/// What one principal may see right now: its groups and the channels it may read (explicit member,
/// or a system channel its role reaches), with the message seq it joined after.
struct Viewer {
    struct Access { var channel: ChannelRecord; var joinedAfter: Int64; var explicit: Bool }

    let principal: Principal
    let channels: [String: Access]

    init(_ db: Database, principal: Principal) throws {
        self.principal = principal
        var channels: [String: Access] = [:]
        if !principal.groups.isEmpty {
            var args: [(any DatabaseValueConvertible)?] = [principal.name]
            args.append(contentsOf: principal.groups.map { $0 as (any DatabaseValueConvertible)? })
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.*, cm.joined_after_seq FROM channels c
                LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.principal = ?
                WHERE c.grp IN \(MessageStore.placeholders(principal.groups.count))
                """, arguments: StatementArguments(args))
            for row in rows {
                let record = ChannelRecord(row: row)
                let joined = row["joined_after_seq"] as Int64?
                if BtmsgRules.channelAccess(principal: principal, group: record.group, system: record.system, isMember: joined != nil) {
                    channels[record.id] = Access(channel: record, joinedAfter: joined ?? 0, explicit: joined != nil)
                }
            }
        }
        self.channels = channels
    }

    func canRead(_ message: Agor_Btmsg_V1_Message) -> Bool {
        guard principal.isMember(of: message.group) else { return false }
        if !message.channelID.isEmpty { return channels[message.channelID] != nil }
        return message.sender == principal.name || message.recipient == principal.name
    }

    /// Whether the message is addressed to this principal (it counts as unread until read).
    func isAddressed(_ message: Agor_Btmsg_V1_Message) -> Bool {
        guard principal.isMember(of: message.group), message.sender != principal.name else { return false }
        if !message.channelID.isEmpty { return channels[message.channelID] != nil }
        return message.recipient == principal.name
    }

    /// SQL condition (on alias m) for every message this principal may read.
    func visibleFilter(_ args: inout [(any DatabaseValueConvertible)?]) -> String {
        var parts: [String] = []
        if !principal.groups.isEmpty {
            parts.append("(m.recipient IS NOT NULL AND m.grp IN \(MessageStore.placeholders(principal.groups.count)) AND (m.sender = ? OR m.recipient = ?))")
            args.append(contentsOf: principal.groups.map { $0 as (any DatabaseValueConvertible)? })
            args.append(principal.name); args.append(principal.name)
        }
        if !channels.isEmpty {
            parts.append("m.channel_id IN \(MessageStore.placeholders(channels.count))")
            args.append(contentsOf: channels.keys.sorted().map { $0 as (any DatabaseValueConvertible)? })
        }
        return parts.isEmpty ? "0" : "(" + parts.joined(separator: " OR ") + ")"
    }

    /// SQL condition for messages addressed to this principal (unread candidates).
    func addressedFilter(_ args: inout [(any DatabaseValueConvertible)?]) -> String {
        var parts: [String] = []
        if !principal.groups.isEmpty {
            parts.append("(m.recipient = ? AND m.grp IN \(MessageStore.placeholders(principal.groups.count)))")
            args.append(principal.name)
            args.append(contentsOf: principal.groups.map { $0 as (any DatabaseValueConvertible)? })
        }
        for access in channels.values.sorted(by: { $0.channel.id < $1.channel.id }) {
            parts.append("(m.channel_id = ? AND m.seq > ? AND m.sender <> ?)")
            args.append(access.channel.id); args.append(access.joinedAfter); args.append(principal.name)
        }
        return parts.isEmpty ? "0" : "(" + parts.joined(separator: " OR ") + ")"
    }
}
