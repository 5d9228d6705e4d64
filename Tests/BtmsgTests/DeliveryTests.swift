import AgorTestSupport
import BtmsgAPI
import Bus
import Foundation
import GRDB
import Testing
@testable import btmsg

@Suite("btmsg delivery", .serialized, .timeLimit(.minutes(3)))
struct DeliveryTests {
    @Test("a retried send with the same request id is stored once and answered the same")
    func retriedSendDoesNotDuplicate() async throws {
        try await withBed(BtmsgBed()) { bed in
            let first = try await bed.send("mia", to: "wes", "once", requestId: "req-1")
            let again = try await bed.send("mia", to: "wes", "once", requestId: "req-1")
            #expect(first.id == again.id)
            #expect(try await bed.messageCount() == 1)
            // The same id from another principal is another request.
            _ = try await bed.send("operator", to: "wes", "once", requestId: "req-1")
            #expect(try await bed.messageCount() == 2)
        }
    }

    @Test("read and ack receipts, unread counts, inbox order")
    func receipts() async throws {
        try await withBed(BtmsgBed()) { bed in
            let one = try await bed.send("mia", to: "wes", "first")
            let two = try await bed.send("mia", to: "wes", "second", ack: true)
            #expect(try await bed.unread("wes") == 2)
            #expect(try await bed.inbox("wes").map(\.id) == [one.id, two.id])
            var ref = Agor_Btmsg_V1_MessageRef()
            ref.id = one.id
            let read = try await bed.call("wes", "btmsg.read", ref, as: Agor_Btmsg_V1_Message.self)
            #expect(read.body == "first" && read.read)
            #expect(try await bed.unread("wes") == 1)
            // The sender reading its own message changes no receipt; acknowledging it is refused.
            ref.id = two.id
            _ = try await bed.call("mia", "btmsg.read", ref, as: Agor_Btmsg_V1_Message.self)
            #expect(await bed.refusal("mia", "btmsg.ack", ref)?.errorCode == .forbidden)
            let acked = try await bed.call("wes", "btmsg.ack", ref, as: Agor_Btmsg_V1_Message.self)
            #expect(acked.acked && acked.read)
            #expect(try await bed.unread("wes") == 0)
            #expect(try await bed.inbox("wes").isEmpty)
            #expect(try await bed.inbox("wes", all: true).count == 2)
            // Channel messages count for members from when they joined.
            let channel = try await bed.createChannel("mia", "news")
            _ = try await bed.send("mia", channel: channel.id, "before wes joined")
            _ = try await bed.call("mia", "btmsg.channel.add", bed.member("mia", "add", channel: channel.id, principal: "wes"), as: Agor_Btmsg_V1_Channel.self)
            _ = try await bed.send("mia", channel: channel.id, "after wes joined")
            #expect(try await bed.inbox("wes").map(\.body) == ["after wes joined"])
        }
    }

    @Test("threads: reply_to must name a message of the same group")
    func threads() async throws {
        try await withBed(BtmsgBed()) { bed in
            let question = try await bed.send("mia", to: "wes", "which branch?")
            let answer = try await bed.send("wes", to: "mia", "main", replyTo: question.id)
            #expect(answer.replyTo == question.id)
            let elsewhere = try await bed.send("operator", to: "mia", "hi")
            var request = bed.sendRequest(to: "tom", "x")
            request.replyTo = elsewhere.id
            // tom cannot see that message (and shares no group with mia anyway).
            #expect(await bed.refusal("tom", "btmsg.send", request) != nil)
        }
    }

    @Test("bad input gets a typed error and the service keeps serving")
    func badInput() async throws {
        try await withBed(BtmsgBed()) { bed in
            let rpc = try bed.rpc("mia")
            func code(_ method: String, _ body: [UInt8]) async -> Agor_Bus_V1_ErrorCode? {
                do { _ = try await rpc.call(method, body); return nil } catch let e as BusError { return e.errorCode } catch { return .internal }
            }
            #expect(await code("btmsg.send", [0xFF, 0xFF, 0xFF]) == .badRequest)              // not protobuf
            #expect(await code("btmsg.send", try bed.sendRequest(to: "wes", "").serializedBytes()) == .badRequest)
            #expect(await code("btmsg.send", try bed.sendRequest("no target").serializedBytes()) == .badRequest)
            var both = bed.sendRequest(to: "wes", "x"); both.channelID = UUID().uuidString.lowercased()
            #expect(await code("btmsg.send", try both.serializedBytes()) == .badRequest)
            #expect(await code("btmsg.send", try bed.sendRequest(channel: "1e5327fa", "short id").serializedBytes()) == .badRequest)
            #expect(await code("btmsg.send", try bed.sendRequest(to: "nobody", "x").serializedBytes()) == .notFound)
            #expect(await code("btmsg.send", try bed.sendRequest(to: "btmsg", "to a service").serializedBytes()) == .badRequest)
            let big = String(repeating: "x", count: BtmsgRules.maxBodyBytes + 1)
            #expect(await code("btmsg.send", try bed.sendRequest(to: "wes", big).serializedBytes()) == .tooLarge)
            var ref = Agor_Btmsg_V1_MessageRef(); ref.id = "../../etc"
            #expect(await code("btmsg.read", try ref.serializedBytes()) == .badRequest)
            var search = Agor_Btmsg_V1_SearchRequest(); search.query = "\"unbalanced"
            #expect(await code("btmsg.search", try search.serializedBytes()) == .badRequest)
            var inbox = Agor_Btmsg_V1_InboxRequest(); inbox.limit = -5
            #expect(await code("btmsg.inbox", try inbox.serializedBytes()) == .badRequest)
            var create = Agor_Btmsg_V1_ChannelCreateRequest(); create.name = "bad name!"
            #expect(await code("btmsg.channel.create", try create.serializedBytes()) == .badRequest)
            var resolve = Agor_Btmsg_V1_ResolveRequest(); resolve.prefix = "zz"
            #expect(await code("btmsg.resolve", try resolve.serializedBytes()) == .badRequest)
            #expect(await code("btmsg.nope", []) == .notFound)
            #expect(try await bed.messageCount() == 0)
            // Still serving.
            _ = try await bed.send("mia", to: "wes", "still here")
            #expect(try await bed.messageCount() == 1)
        }
    }

    @Test("id prefixes resolve only when unambiguous among what the caller may see")
    func prefixResolution() async throws {
        // Two messages whose ids share a prefix, stored before the service starts.
        try await withBed(BtmsgBed(beforeStart: { home in
            let db = try BusSchema.open(path: home.database("btmsg").path) { BtmsgSchema.register(in: &$0) }
            try db.write { db in
                for (id, to) in [("abcd0000-0000-4000-8000-000000000001", "wes"), ("abcd0000-0000-4000-8000-000000000002", "wes"),
                                 ("abcd0000-0000-4000-8000-000000000003", "wade")] {
                    var m = Agor_Btmsg_V1_Message()
                    m.id = id; m.group = "default"; m.sender = "mia"; m.recipient = to; m.body = "fixture"; m.createdAtUs = BusProtocol.nowMicros()
                    try MessageStore.insert(db, m)
                }
            }
            try db.close()
        })) { bed throws in
            var resolve = Agor_Btmsg_V1_ResolveRequest()
            resolve.prefix = "abcd0000"
            #expect(try await bed.call("wes", "btmsg.resolve", resolve, as: Agor_Btmsg_V1_ResolveReply.self).ids.count == 2)
            #expect(try await bed.call("wade", "btmsg.resolve", resolve, as: Agor_Btmsg_V1_ResolveReply.self).ids == ["abcd0000-0000-4000-8000-000000000003"])
            #expect(try await bed.call("tom", "btmsg.resolve", resolve, as: Agor_Btmsg_V1_ResolveReply.self).ids.isEmpty)
        }
    }

    @Test("events: each change is on the group's stream in order; another group's stream is refused")
    func events() async throws {
        try await withBed(BtmsgBed()) { bed in
            let subscriber = try bed.client("wes").subscriber("btmsg", prefixes: [BtmsgRules.stream(of: "default")], start: .beginning)
            let sent = try await bed.send("mia", to: "wes", "event me")
            var ref = Agor_Btmsg_V1_MessageRef(); ref.id = sent.id
            _ = try await bed.call("wes", "btmsg.read", ref, as: Agor_Btmsg_V1_Message.self)
            var types: [String] = []
            var created: Agor_Btmsg_V1_Message?
            for await event in subscriber.events {
                #expect(event.stream == "btmsg/default/")
                let change = try Agor_Btmsg_V1_Event(serializedBytes: event.body)
                types.append(event.type)
                if case .messageCreated(let m) = change.change { created = m }
                if event.type == "message.read" { break }
            }
            #expect(types.filter { $0.hasPrefix("message.") } == ["message.created", "message.read"])
            #expect(created?.id == sent.id && created?.body == "")   // bodies travel only by request
            await subscriber.close()
            // tom may not replay the `default` stream.
            var replay = Agor_Bus_V1_ReplayRequest(); replay.stream = "btmsg/default/"
            #expect(await bed.refusal("tom", "bus.replay", replay)?.errorCode == .forbidden)
        }
    }

    @Test("dead letters: unread messages to a revoked principal, with the reason, for operators")
    func deadLetters() async throws {
        try await withBed(BtmsgBed()) { bed in
            let lost = try await bed.send("mia", to: "wade", "you will not read this")
            let read = try await bed.send("mia", to: "wade", "read in time")
            var ref = Agor_Btmsg_V1_MessageRef(); ref.id = read.id
            _ = try await bed.call("wade", "btmsg.read", ref, as: Agor_Btmsg_V1_Message.self)
            try Directory(folder: bed.home.directoryFolder).revoke("wade", reason: "left the project")
            bed.runtime.directory.reload()
            #expect(await bed.refusal("mia", "btmsg.deadletters", Agor_Btmsg_V1_Empty())?.errorCode == .forbidden)
            let letters = try await bed.call("operator", "btmsg.deadletters", as: Agor_Btmsg_V1_DeadLetterList.self).letters
            #expect(letters.map(\.message.id) == [lost.id])
            #expect(letters.first?.reason == "left the project")
            // New messages to wade are refused.
            #expect(await bed.refusal("mia", "btmsg.send", bed.sendRequest(to: "wade", "hello?"))?.errorCode == .notFound)
        }
    }

    @Test("retention: a group keeps its last N messages; old ones go as they age")
    func retention() async throws {
        var config = RetentionConfig()
        config.groups["default"] = RetentionPolicy(keepDays: 0, keepMessages: 5)
        try await withBed(BtmsgBed(retention: config)) { bed in
            for i in 0..<12 { _ = try await bed.send("mia", to: "wes", "message \(i)") }
            var remaining: [String] = []
            _ = try await eventually(every: .milliseconds(20)) {
                remaining = try await bed.history("wes", with: "mia").map(\.body)
                return remaining.count == 5
            }
            #expect(remaining == (7..<12).map { "message \($0)" })
        }

        // Days: a message older than keep_days is removed at start, a fresh one stays.
        var days = RetentionConfig()
        days.defaultPolicy = RetentionPolicy(keepDays: 1, keepMessages: 0)
        try await withBed(BtmsgBed(retention: days, beforeStart: { home in
            let db = try BusSchema.open(path: home.database("btmsg").path) { BtmsgSchema.register(in: &$0) }
            try db.write { db in
                var m = Agor_Btmsg_V1_Message()
                m.id = UUID().uuidString.lowercased(); m.group = "default"; m.sender = "mia"; m.recipient = "wes"; m.body = "ancient"
                m.createdAtUs = BusProtocol.nowMicros() - 2 * 86_400 * 1_000_000
                try MessageStore.insert(db, m)
            }
            try db.close()
        })) { aged in
            _ = try await aged.send("mia", to: "wes", "fresh")
            var bodies: [String] = []
            _ = try await eventually(every: .milliseconds(20)) {
                bodies = try await aged.history("wes", with: "mia").map(\.body)
                return bodies == ["fresh"]
            }
            #expect(bodies == ["fresh"])
        }
    }

    @Test("retention config: defaults, per group, and refusals")
    func retentionConfig() throws {
        let config = try RetentionConfig.parse("""
            [btmsg.retention]
            keep_days = 30
            [btmsg.retention.team]
            keep_messages = 100
            """)
        #expect(config.policy(for: "other") == RetentionPolicy(keepDays: 30, keepMessages: 0))
        #expect(config.policy(for: "team") == RetentionPolicy(keepDays: 30, keepMessages: 100))
        #expect(throws: HomeError.self) { try RetentionConfig.parse("[btmsg.retention]\nkeep_days = -1\n") }
        #expect(throws: HomeError.self) { try RetentionConfig.parse("[btmsg.retention]\nkeep_weeks = 1\n") }
        #expect(throws: HomeError.self) { try RetentionConfig.parse("[btmsg.retention]\nkeep_days = \"a\"\n") }
    }

    @Test("presence: a request marks the caller seen and online, announced once on the group's stream")
    func presence() async throws {
        try await withBed(BtmsgBed()) { bed in
            let before = try await bed.call("mia", "btmsg.status", Agor_Btmsg_V1_StatusRequest(), as: Agor_Btmsg_V1_StatusReply.self)
            #expect(before.principals.first { $0.name == "wade" }?.online == false)
            let subscriber = try bed.client("mia").subscriber("btmsg", prefixes: [BtmsgRules.stream(of: "default")], start: .beginning)
            _ = try await bed.call("wade", "btmsg.heartbeat")
            _ = try await bed.call("wade", "btmsg.heartbeat")
            var announced: Agor_Btmsg_V1_Presence?
            for await event in subscriber.events where event.type == "presence" {
                let change = try Agor_Btmsg_V1_Event(serializedBytes: event.body)
                if change.presence.principal == "wade" { announced = change.presence; break }
            }
            #expect(announced?.online == true && (announced?.lastSeenUs ?? 0) > 0)
            await subscriber.close()
            let after = try await bed.call("mia", "btmsg.status", Agor_Btmsg_V1_StatusRequest(), as: Agor_Btmsg_V1_StatusReply.self)
            let wade = after.principals.first { $0.name == "wade" }
            #expect(wade?.online == true && wade?.role == "worker")
            // A second heartbeat does not announce again.
            let events = try await bed.runtime.database.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM bus_events WHERE type = 'presence' AND stream = 'btmsg/default/'") ?? 0
            }
            #expect(events == 2)   // wade, and mia (who asked for status first)
        }
    }
}
