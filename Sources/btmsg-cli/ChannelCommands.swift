import AgorCLI
import ArgumentParser
import BtmsgAPI
import Bus
import Foundation

struct ChannelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "Channels of your groups (named without '#'; shown as #name).",
        discussion: "Anyone in a group may create a channel and becomes its owner and first member. Only the owner or an operator adds and removes members; anyone in the group joins an open channel; members leave. review-queue and review-log exist in every group: operators, managers and reviewers read and post there without being added.",
        subcommands: [Create.self, List.self, SendTo.self, ChannelHistory.self, Add.self, Remove.self, Join.self, Leave.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a channel in your group.")
        @OptionGroup var common: Common
        @Argument(help: "Name (letters, digits, '-', '_', '.').") var name: String
        @Option(help: "The group, when you are in several.") var group: String?
        @Flag(help: "Anyone in the group may join.") var open = false

        func run() async throws {
            try await common.withSession { session in
                var request = Agor_Btmsg_V1_ChannelCreateRequest()
                request.name = name; request.group = group ?? ""; request.open = open
                let channel = try await session.call(BtmsgMethods.channelCreate, request)
                print(common.json ? Terminal.json(channel) : "created #\(channel.name) \(Terminal.short(channel.id)) in \(channel.group)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The channels of your groups; * marks those you read.")
        @OptionGroup var common: Common
        @Option(help: "Only this group.") var group: String?

        func run() async throws {
            try await common.withSession { session in
                var request = Agor_Btmsg_V1_ChannelListRequest()
                request.group = group ?? ""
                let list = try await session.call(BtmsgMethods.channelList, request)
                if common.json { Terminal.printJSON(list); return }
                for c in list.channels {
                    let tags = [c.system ? "system" : nil, c.open ? "open" : nil].compactMap { $0 }
                    print("\(c.isMember ? "*" : " ") #\(c.name) \(Terminal.dim(Terminal.short(c.id))) \(c.group)"
                          + (tags.isEmpty ? "" : " (\(tags.joined(separator: ", ")))")
                          + (c.members.isEmpty ? "" : " — \(c.members.joined(separator: ", "))"))
                }
            }
        }
    }

    struct SendTo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "send", abstract: "Post to a channel: btmsg channel send <name> <words…>.")
        @OptionGroup var common: Common
        @OptionGroup var composition: Composition
        @Option(help: "The channel's group, when a name exists in several of yours.") var group: String?
        @Argument(help: "Channel name or id prefix.") var channel: String
        @Argument(help: "The message (all remaining words).") var words: [String] = []

        func run() async throws {
            try await common.withSession { session in
                var request = Agor_Btmsg_V1_SendRequest()
                try composition.apply(to: &request, words: words)
                request.channelID = try await session.resolveChannel(channel, group: group).id
                printSent(try await session.call(BtmsgMethods.send, request), json: common.json)
            }
        }
    }

    struct ChannelHistory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "history", abstract: "A channel's messages, oldest first (members only).")
        @OptionGroup var common: Common
        @Option(help: "The channel's group, when a name exists in several of yours.") var group: String?
        @Option(help: "How many (the newest).") var limit: Int32 = 30
        @Argument(help: "Channel name or id prefix.") var channel: String

        func run() async throws {
            try await common.withSession { session in
                var request = Agor_Btmsg_V1_HistoryRequest()
                request.channelID = try await session.resolveChannel(channel, group: group).id
                request.limit = limit
                let list = try await session.call(BtmsgMethods.history, request)
                Output.messages(list.messages, json: common.json, empty: "no messages in #\(channel)")
            }
        }
    }

    /// add / remove / join / leave.
    static func member(_ common: Common, method: Method<Agor_Btmsg_V1_MemberRequest, Agor_Btmsg_V1_Channel>, channel: String, group: String?, principal: String, verb: String) async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_MemberRequest()
            request.channelID = try await session.resolveChannel(channel, group: group).id
            request.principal = principal
            let result = try await session.call(method, request)
            print(common.json ? Terminal.json(result) : "\(verb) #\(result.name): members \(result.members.joined(separator: ", "))")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a member (the channel's owner or an operator).")
        @OptionGroup var common: Common
        @Option(help: "The channel's group.") var group: String?
        @Argument(help: "Channel.") var channel: String
        @Argument(help: "Person or agent.") var principal: String
        func run() async throws { try await ChannelCommand.member(common, method: BtmsgMethods.channelAdd, channel: channel, group: group, principal: principal, verb: "added \(principal) to") }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a member (the channel's owner or an operator).")
        @OptionGroup var common: Common
        @Option(help: "The channel's group.") var group: String?
        @Argument(help: "Channel.") var channel: String
        @Argument(help: "Person or agent.") var principal: String
        func run() async throws { try await ChannelCommand.member(common, method: BtmsgMethods.channelRemove, channel: channel, group: group, principal: principal, verb: "removed \(principal) from") }
    }

    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Join an open channel.")
        @OptionGroup var common: Common
        @Option(help: "The channel's group.") var group: String?
        @Argument(help: "Channel.") var channel: String
        func run() async throws { try await ChannelCommand.member(common, method: BtmsgMethods.channelJoin, channel: channel, group: group, principal: "", verb: "joined") }
    }

    struct Leave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Leave a channel.")
        @OptionGroup var common: Common
        @Option(help: "The channel's group.") var group: String?
        @Argument(help: "Channel.") var channel: String
        func run() async throws { try await ChannelCommand.member(common, method: BtmsgMethods.channelLeave, channel: channel, group: group, principal: "", verb: "left") }
    }
}
