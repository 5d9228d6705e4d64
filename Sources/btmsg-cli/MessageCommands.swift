import AgorCLI
import ArgumentParser
import BtmsgAPI
import Bus
import Foundation

struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unread messages, oldest first; --all: the newest 50 read and unread.")
    @OptionGroup var common: Common
    @Flag(help: "Read and unread.") var all = false
    @Option(help: "How many.") var limit: Int32 = 50

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_InboxRequest()
            request.all = all; request.limit = limit
            let list = try await session.call(BtmsgMethods.inbox, request)
            Output.messages(list.messages, json: common.json, empty: all ? "no messages" : "no unread messages")
        }
    }
}

struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a message in full and mark it read.")
    @OptionGroup var common: Common
    @Argument(help: "Message id or unambiguous prefix.") var id: String

    func run() async throws {
        try await common.withSession { session in
            var ref = Agor_Btmsg_V1_MessageRef()
            ref.id = try await session.resolveMessage(id)
            let message = try await session.call(BtmsgMethods.read, ref)
            print(common.json ? Terminal.json(message) : Output.full(message))
        }
    }
}

struct Ack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Acknowledge a message addressed to you (also marks it read).")
    @OptionGroup var common: Common
    @Argument(help: "Message id or unambiguous prefix.") var id: String

    func run() async throws {
        try await common.withSession { session in
            var ref = Agor_Btmsg_V1_MessageRef()
            ref.id = try await session.resolveMessage(id)
            let message = try await session.call(BtmsgMethods.ack, ref)
            print(common.json ? Terminal.json(message) : "acknowledged \(Terminal.short(message.id))")
        }
    }
}

/// Options of a message being written.
struct Composition: ParsableArguments {
    @Option(help: "Importance: low, normal, high, urgent.") var importance: String = "normal"
    @Flag(name: .customLong("ack"), help: "Ask the recipient to acknowledge.") var ackRequired = false

    func apply(to request: inout Agor_Btmsg_V1_SendRequest, words: [String]) throws {
        let body = words.joined(separator: " ")
        guard !body.isEmpty else { throw Failure(.badInput, "the message is empty") }
        request.body = body
        switch importance.lowercased() {
        case "low": request.importance = .low
        case "normal": request.importance = .normal
        case "high": request.importance = .high
        case "urgent": request.importance = .urgent
        default: throw Failure(.badInput, "importance is low, normal, high or urgent, not \(importance)")
        }
        request.ackRequired = ackRequired
    }
}

func printSent(_ reply: Agor_Btmsg_V1_SendReply, json: Bool) {
    if json { Terminal.printJSON(reply.message); return }
    let m = reply.message
    print("sent \(Terminal.short(m.id)) to \(m.channelID.isEmpty ? m.recipient : "#" + m.channelName) (group \(m.group))")
}

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a direct message: btmsg send <to> <words…>.")
    @OptionGroup var common: Common
    @OptionGroup var composition: Composition
    @Option(help: "The group, when you and the recipient share several.") var group: String?
    @Argument(help: "Recipient (person or agent).") var to: String
    @Argument(help: "The message (all remaining words).") var words: [String] = []

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_SendRequest()
            request.to = to
            request.group = group ?? ""
            try composition.apply(to: &request, words: words)
            printSent(try await session.call(BtmsgMethods.send, request), json: common.json)
        }
    }
}

struct Reply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reply to a message: to its sender, or in its channel.")
    @OptionGroup var common: Common
    @OptionGroup var composition: Composition
    @Argument(help: "Message id or unambiguous prefix.") var id: String
    @Argument(help: "The reply (all remaining words).") var words: [String] = []

    func run() async throws {
        try await common.withSession { session in
            var ref = Agor_Btmsg_V1_MessageRef()
            ref.id = try await session.resolveMessage(id)
            let original = try await session.call(BtmsgMethods.get, ref)
            let me = try await session.call(BtmsgMethods.whoami, Agor_Btmsg_V1_Empty())
            var request = Agor_Btmsg_V1_SendRequest()
            if !original.channelID.isEmpty {
                request.channelID = original.channelID
            } else {
                request.to = original.sender == me.name ? original.recipient : original.sender
                request.group = original.group
            }
            request.replyTo = original.id
            try composition.apply(to: &request, words: words)
            printSent(try await session.call(BtmsgMethods.send, request), json: common.json)
        }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Direct messages between you and someone, oldest first.")
    @OptionGroup var common: Common
    @Argument(help: "The other person or agent.") var with: String
    @Option(help: "How many (the newest).") var limit: Int32 = 20
    @Option(help: "Only this group.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_HistoryRequest()
            request.with = with; request.limit = limit; request.group = group ?? ""
            let list = try await session.call(BtmsgMethods.history, request)
            Output.messages(list.messages, json: common.json, empty: "no messages with \(with)")
        }
    }
}

struct Unread: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "How many unread messages you have (a bare number).")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            let reply = try await session.call(BtmsgMethods.unread, Agor_Btmsg_V1_Empty())
            print(common.json ? Terminal.json(reply) : "\(reply.count)")
        }
    }
}

struct Notify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One line for a prompt or hook when you have unread messages; prints nothing otherwise.")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_InboxRequest()
            request.limit = 1000
            let list = try await session.call(BtmsgMethods.inbox, request)
            if common.json { Terminal.printJSON(list); return }
            guard !list.messages.isEmpty else { return }
            let senders = Array(Set(list.messages.map(\.sender))).sorted()
            let urgent = list.messages.filter { $0.importance == .urgent || $0.importance == .high }.count
            print("\(list.messages.count) unread message(s) from \(senders.joined(separator: ", "))"
                  + (urgent > 0 ? " (\(urgent) important)" : "") + ": run `btmsg inbox`")
        }
    }
}

struct Feed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Operators: every message of your groups, newest last.")
    @OptionGroup var common: Common
    @Option(help: "How many.") var limit: Int32 = 50
    @Option(help: "Only this group.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_FeedRequest()
            request.limit = limit; request.group = group ?? ""
            let list = try await session.call(BtmsgMethods.feed, request)
            Output.messages(list.messages, json: common.json, empty: "no messages")
        }
    }
}

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Full-text search over the messages you may read (SQLite FTS5 syntax).")
    @OptionGroup var common: Common
    @Option(help: "How many.") var limit: Int32 = 20
    @Argument(help: "The query.") var words: [String] = []

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_SearchRequest()
            request.query = words.joined(separator: " "); request.limit = limit
            let list = try await session.call(BtmsgMethods.search, request)
            Output.messages(list.messages, json: common.json, empty: "no matches")
        }
    }
}

struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deadletters",
                                                    abstract: "Operators: unread messages to revoked principals, with the reason.")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            let reply = try await session.call(BtmsgMethods.deadLetters, Agor_Btmsg_V1_Empty())
            if common.json { Terminal.printJSON(reply); return }
            if reply.letters.isEmpty { print("no dead letters") }
            for letter in reply.letters {
                print("\(Output.line(letter.message))  — \(letter.message.recipient) revoked \(Terminal.time(letter.revokedAtUs)): \(letter.reason)")
            }
        }
    }
}

struct Heartbeat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mark yourself online (presence), e.g. from an agent's loop.")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            _ = try await session.call(BtmsgMethods.heartbeat, Agor_Btmsg_V1_Empty())
            if common.json { print("{}") }
        }
    }
}
