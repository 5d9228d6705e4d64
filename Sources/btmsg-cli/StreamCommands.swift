import AgorCLI
import ArgumentParser
import BtmsgAPI
import Bus
import Foundation

/// The events of the caller's groups, pushed over the Bus (no polling).
func subscribe(_ session: Session, groups: [String], start: SequencedSubscriber.Start = .now) throws -> SequencedSubscriber {
    try session.client.subscriber(BtmsgMethods.service, prefixes: groups.map(BtmsgRules.stream(of:)), start: start, endsWhenRefused: true)
}

/// The current head of each group's stream.
func heads(_ session: Session, groups: [String]) async throws -> [String: UInt64] {
    var heads: [String: UInt64] = [:]
    for group in groups {
        var request = Agor_Bus_V1_HeadsRequest()
        request.prefix = BtmsgRules.stream(of: group)
        for head in try await session.call(BusMethods.heads, request).heads { heads[head.stream] = head.seq }
    }
    return heads
}

struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sleep until a message for you arrives, then print it (marked read). Returns at once if one is unread.",
        discussion: "Exit status 0 with a message; 7 when --timeout passes first.")
    @OptionGroup var common: Common
    @Option(name: .customLong("wait"), help: "Give up after this many seconds (default: never).") var wait: Double?

    func run() async throws {
        try await guarded {
            let session = try common.connect()
            let me = try await session.call(BtmsgMethods.whoami, Agor_Btmsg_V1_Empty())
            // Note the streams' heads, then look at the inbox, then follow the streams from those
            // heads: a message committed at any moment is in the inbox or after a head.
            let cursors = try await heads(session, groups: me.groups)
            var inbox = Agor_Btmsg_V1_InboxRequest()
            inbox.limit = 1
            var found = try await session.call(BtmsgMethods.inbox, inbox).messages.first?.id
            let subscriber = try subscribe(session, groups: me.groups, start: .cursors(cursors))
            if found == nil {
                found = await withTaskGroup(of: String?.self) { group in
                    group.addTask {
                        for await event in subscriber.events where event.type == "message.created" {
                            guard let change = try? Agor_Btmsg_V1_Event(serializedBytes: event.body) else { continue }
                            let m = change.messageCreated
                            guard m.sender != me.name else { continue }
                            if m.recipient == me.name { return m.id }
                            if !m.channelID.isEmpty {
                                // Channel messages count when you may read the channel (the service decides).
                                var ref = Agor_Btmsg_V1_MessageRef()
                                ref.id = m.id
                                if (try? await session.call(BtmsgMethods.get, ref)) != nil { return m.id }
                            }
                        }
                        return nil
                    }
                    if let wait {
                        group.addTask { try? await Task.sleep(for: .milliseconds(Int64(wait * 1000))); return nil }
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
            }
            await subscriber.close()
            if found == nil && subscriber.wasRefused { throw BusError.keyRefused }
            guard let id = found else {
                await session.close()
                FileHandle.standardError.write(Data("btmsg: no message within \(wait ?? 0) s\n".utf8))
                throw ExitCode(7)
            }
            var ref = Agor_Btmsg_V1_MessageRef()
            ref.id = id
            let message = try await session.call(BtmsgMethods.read, ref)
            print(common.json ? Terminal.json(message) : Output.full(message))
            await session.close()
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the events of your groups (messages, receipts, membership, presence) until Ctrl-C.")
    @OptionGroup var common: Common
    @Option(help: "Only this group.") var group: String?

    func run() async throws {
        try await guarded {
            let session = try common.connect()
            let me = try await session.call(BtmsgMethods.whoami, Agor_Btmsg_V1_Empty())
            if let group, !me.groups.contains(group) { throw Failure(.forbidden, "\(me.name) is not in group \(group)") }
            let subscriber = try subscribe(session, groups: group.map { [$0] } ?? me.groups)
            if !common.json { FileHandle.standardError.write(Data("watching \((group.map { [$0] } ?? me.groups).joined(separator: ", "))…\n".utf8)) }
            for await event in subscriber.events {
                guard let change = try? Agor_Btmsg_V1_Event(serializedBytes: event.body) else { continue }
                if common.json {
                    print("{\"stream\":\"\(event.stream)\",\"seq\":\(event.seq),\"type\":\"\(event.type)\",\"event\":\(Terminal.json(change))}")
                } else {
                    print("\(Terminal.dim("\(event.stream)#\(event.seq)")) \(Self.describe(change))")
                }
                fflush(nil)
            }
            // The stream ends only when the service stops accepting this key (revoked).
            if subscriber.wasRefused { throw BusError.keyRefused }
        }
    }

    static func describe(_ e: Agor_Btmsg_V1_Event) -> String {
        switch e.change {
        case .messageCreated(let m):
            return "message \(Terminal.short(m.id)) \(m.sender) → \(m.channelID.isEmpty ? m.recipient : "#" + m.channelName)"
        case .messageRead(let r): return "read \(Terminal.short(r.messageID)) by \(r.principal)"
        case .messageAcked(let r): return "acked \(Terminal.short(r.messageID)) by \(r.principal)"
        case .channelCreated(let c): return "channel #\(c.name) created by \(c.owner)"
        case .memberAdded(let m): return "\(m.principal) added to #\(m.channelName) by \(m.by)"
        case .memberRemoved(let m): return "\(m.principal) left or was removed from #\(m.channelName) (by \(m.by))"
        case .presence(let p): return "\(p.principal) \(p.online ? "online" : "offline")"
        case nil: return "event"
        }
    }
}
