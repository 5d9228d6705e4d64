import AgorTestSupport
import BtmsgAPI
import Bus
import Foundation
import Testing
@testable import btmsg

/// Every rule of btmsg: each refusal with its typed error, and a check that nothing changed.
@Suite("btmsg rules", .serialized, .timeLimit(.minutes(3)))
struct RuleTests {
    @Test("group_id validation: a direct message never crosses groups")
    func directMessagesStayInTheirGroup() async throws {
        try await withBed(BtmsgBed()) { bed in
            let before = try await bed.messageCount()
            // The operator may reach everyone in its groups, but tom is in `team` only.
            let refused = await bed.refusal("operator", "btmsg.send", bed.sendRequest(to: "tom", "hello"))
            #expect(refused?.errorCode == .forbidden)
            // Naming a group the recipient is not in is refused too.
            let named = await bed.refusal("mia", "btmsg.send", bed.sendRequest(to: "wes", "hi", group: "team"))
            #expect(named?.errorCode == .forbidden)
            #expect(try await bed.messageCount() == before)
            #expect(try await bed.unread("tom") == 0)
        }
    }

    @Test("group_id validation: a channel send needs the channel in the sender's group")
    func channelOfAnotherGroup() async throws {
        try await withBed(BtmsgBed()) { bed in
            let channel = try await bed.createChannel("mia", "plans", open: true)
            let before = try await bed.messageCount()
            let refused = await bed.refusal("tom", "btmsg.send", bed.sendRequest(channel: channel.id, "let me in"))
            #expect(refused?.errorCode == .forbidden)
            // Nor may tom join it, read it, or even find it.
            #expect(await bed.refusal("tom", "btmsg.channel.join", bed.member("tom", "join", channel: channel.id))?.errorCode == .notFound)
            var history = Agor_Btmsg_V1_HistoryRequest()
            history.channelID = channel.id
            #expect(await bed.refusal("tom", "btmsg.history", history)?.errorCode == .notFound)
            let list = try await bed.call("tom", "btmsg.channel.list", Agor_Btmsg_V1_ChannelListRequest(), as: Agor_Btmsg_V1_ChannelList.self)
            #expect(!list.channels.contains { $0.id == channel.id })
            #expect(list.channels.allSatisfy { $0.group == "team" })
            #expect(try await bed.messageCount() == before)
        }
    }

    @Test("channel membership is checked before every send and history read")
    func membershipGatesChannels() async throws {
        try await withBed(BtmsgBed()) { bed in
            let channel = try await bed.createChannel("mia", "design")
            #expect(channel.members == ["mia"])   // the creator is its first member
            _ = try await bed.send("mia", channel: channel.id, "kick-off")
            let before = try await bed.messageCount()

            #expect(await bed.refusal("wes", "btmsg.send", bed.sendRequest(channel: channel.id, "me too"))?.errorCode == .forbidden)
            var history = Agor_Btmsg_V1_HistoryRequest()
            history.channelID = channel.id
            #expect(await bed.refusal("wes", "btmsg.history", history)?.errorCode == .forbidden)
            #expect(try await bed.messageCount() == before)

            _ = try await bed.call("mia", "btmsg.channel.add", bed.member("mia", "add", channel: channel.id, principal: "wes"), as: Agor_Btmsg_V1_Channel.self)
            _ = try await bed.send("wes", channel: channel.id, "thanks")
            #expect(try await bed.history("wes", channel: channel.id).map(\.body) == ["kick-off", "thanks"])

            _ = try await bed.call("mia", "btmsg.channel.remove", bed.member("mia", "remove", channel: channel.id, principal: "wes"), as: Agor_Btmsg_V1_Channel.self)
            #expect(await bed.refusal("wes", "btmsg.send", bed.sendRequest(channel: channel.id, "still here?"))?.errorCode == .forbidden)
            #expect(await bed.refusal("wes", "btmsg.history", history)?.errorCode == .forbidden)
            #expect(try await bed.messageCount() == before + 1)
        }
    }

    @Test("only the channel's owner or an operator adds or removes members")
    func memberManagement() async throws {
        try await withBed(BtmsgBed()) { bed in
            let channel = try await bed.createChannel("mia", "ops")
            _ = try await bed.call("mia", "btmsg.channel.add", bed.member("mia", "add", channel: channel.id, principal: "wes"), as: Agor_Btmsg_V1_Channel.self)
            let rows = try await bed.memberRows()
            // wes is a member but not the owner: he may not add wade, nor remove mia.
            #expect(await bed.refusal("wes", "btmsg.channel.add", bed.member("wes", "add", channel: channel.id, principal: "wade"))?.errorCode == .forbidden)
            #expect(await bed.refusal("wes", "btmsg.channel.remove", bed.member("wes", "remove", channel: channel.id, principal: "mia"))?.errorCode == .forbidden)
            // Nobody adds a member from another group, not even the owner.
            #expect(await bed.refusal("mia", "btmsg.channel.add", bed.member("mia", "add", channel: channel.id, principal: "tom"))?.errorCode == .forbidden)
            // A closed channel cannot be joined.
            #expect(await bed.refusal("wade", "btmsg.channel.join", bed.member("wade", "join", channel: channel.id))?.errorCode == .forbidden)
            #expect(try await bed.memberRows() == rows)
            // An operator may.
            let after = try await bed.call("operator", "btmsg.channel.add", bed.member("operator", "add", channel: channel.id, principal: "wade"), as: Agor_Btmsg_V1_Channel.self)
            #expect(after.members.contains("wade"))
            // An open channel can be joined and anyone leaves.
            let lobby = try await bed.createChannel("wes", "lobby", open: true)
            let joined = try await bed.call("wade", "btmsg.channel.join", bed.member("wade", "join", channel: lobby.id), as: Agor_Btmsg_V1_Channel.self)
            #expect(joined.members == ["wade", "wes"])
            let left = try await bed.call("wade", "btmsg.channel.leave", bed.member("wade", "leave", channel: lobby.id), as: Agor_Btmsg_V1_Channel.self)
            #expect(left.members == ["wes"])
            // Names are unique within a group.
            #expect(await bed.refusal("wade", "btmsg.channel.create", { var r = Agor_Btmsg_V1_ChannelCreateRequest(); r.name = "lobby"; return r }())?.errorCode == .conflict)
        }
    }

    @Test("contact rules: role defaults, explicit contacts (operators only), replies")
    func contactRules() async throws {
        try await withBed(BtmsgBed()) { bed in
            // A manager reaches its group's agents; an operator everyone in its groups.
            _ = try await bed.send("mia", to: "wes", "please take task 1")
            _ = try await bed.send("operator", to: "wade", "hello")
            // A worker may answer whoever wrote to it...
            _ = try await bed.send("wes", to: "mia", "on it")
            // ...but not message another worker without a contact.
            let before = try await bed.messageCount()
            #expect(await bed.refusal("wes", "btmsg.send", bed.sendRequest(to: "wade", "psst"))?.errorCode == .forbidden)
            // Only an operator adds contacts.
            var allow = Agor_Btmsg_V1_AllowRequest()
            allow.from = "wes"; allow.to = "wade"
            #expect(await bed.refusal("mia", "btmsg.allow", allow)?.errorCode == .forbidden)
            #expect(await bed.refusal("wes", "btmsg.allow", allow)?.errorCode == .forbidden)
            #expect(try await bed.messageCount() == before)
            _ = try await bed.call("operator", "btmsg.allow", allow)
            _ = try await bed.send("wes", to: "wade", "psst")
            // One way only: wade may answer (reply rule) but the contact is wes → wade.
            let contacts = try await bed.call("wes", "btmsg.contacts", as: Agor_Btmsg_V1_ContactList.self)
            #expect(contacts.contacts.contains { $0.name == "wade" && $0.via == "contact" })
            allow.remove = true
            _ = try await bed.call("operator", "btmsg.allow", allow)
            #expect(await bed.refusal("wes", "btmsg.send", bed.sendRequest(to: "wade", "again"))?.errorCode == .forbidden)
        }
    }

    @Test("a principal sees only messages of its groups, and in a channel only while a member")
    func visibility() async throws {
        try await withBed(BtmsgBed()) { bed in
            let direct = try await bed.send("mia", to: "wes", "secret plan alpha")
            let channel = try await bed.createChannel("mia", "inner")
            let posted = try await bed.send("mia", channel: channel.id, "inner plan alpha")
            var ref = Agor_Btmsg_V1_MessageRef()
            for outsider in ["tom", "wade"] {
                ref.id = direct.id
                #expect(await bed.refusal(outsider, "btmsg.read", ref)?.errorCode == .notFound)
                ref.id = posted.id
                #expect(await bed.refusal(outsider, "btmsg.get", ref)?.errorCode == .notFound)
                var search = Agor_Btmsg_V1_SearchRequest()
                search.query = "alpha"
                #expect(try await bed.call(outsider, "btmsg.search", search, as: Agor_Btmsg_V1_MessageList.self).messages.isEmpty)
                var resolve = Agor_Btmsg_V1_ResolveRequest()
                resolve.prefix = String(direct.id.prefix(8))
                #expect(try await bed.call(outsider, "btmsg.resolve", resolve, as: Agor_Btmsg_V1_ResolveReply.self).ids.isEmpty)
            }
            var search = Agor_Btmsg_V1_SearchRequest()
            search.query = "alpha"
            #expect(Set(try await bed.call("mia", "btmsg.search", search, as: Agor_Btmsg_V1_MessageList.self).messages.map(\.id)) == [direct.id, posted.id])
            #expect(try await bed.call("wes", "btmsg.search", search, as: Agor_Btmsg_V1_MessageList.self).messages.map(\.id) == [direct.id])
            // Removed from the channel: its messages vanish from search too.
            _ = try await bed.call("mia", "btmsg.channel.add", bed.member("mia", "add", channel: channel.id, principal: "wes"), as: Agor_Btmsg_V1_Channel.self)
            #expect(try await bed.call("wes", "btmsg.search", search, as: Agor_Btmsg_V1_MessageList.self).messages.count == 2)
            _ = try await bed.call("mia", "btmsg.channel.remove", bed.member("mia", "remove", channel: channel.id, principal: "wes"), as: Agor_Btmsg_V1_Channel.self)
            #expect(try await bed.call("wes", "btmsg.search", search, as: Agor_Btmsg_V1_MessageList.self).messages.map(\.id) == [direct.id])
            // The feed is for operators.
            #expect(await bed.refusal("mia", "btmsg.feed", Agor_Btmsg_V1_FeedRequest())?.errorCode == .forbidden)
            #expect(try await bed.call("operator", "btmsg.feed", Agor_Btmsg_V1_FeedRequest(), as: Agor_Btmsg_V1_MessageList.self).messages.count == 2)
        }
    }

    @Test("review-queue and review-log: managers, reviewers and operators without membership; bttask posts for the mover")
    func systemChannels() async throws {
        try await withBed(BtmsgBed()) { bed in
            let queue = try await bed.channel("rita", "review-queue")
            let log = try await bed.channel("rita", "review-log")
            #expect(queue.system && queue.isMember && log.isMember)
            _ = try await bed.send("rita", channel: log.id, "APPROVED: task 7")
            _ = try await bed.send("mia", channel: queue.id, "task 8 ready")
            #expect(try await bed.history("rita", channel: queue.id).map(\.body) == ["task 8 ready"])
            let before = try await bed.messageCount()
            // A worker reads and posts in neither...
            #expect(await bed.refusal("wes", "btmsg.send", bed.sendRequest(channel: queue.id, "mine is ready"))?.errorCode == .forbidden)
            // ...but bttask, with the delegate right, posts to review-queue for the worker who moved a task,
            let posted = try await bed.rpc("bttask").call("btmsg.send", try bed.sendRequest(channel: queue.id, "task 9 moved to review").serializedBytes(),
                                                          options: .init(onBehalfOf: "wes"))
            let message = try Agor_Btmsg_V1_SendReply(serializedBytes: posted).message
            #expect(message.sender == "wes" && message.channelName == "review-queue")
            // ...and not to review-log, and a worker cannot borrow that right.
            let logRefusal = await bed.refusal("bttask", "btmsg.send", bed.sendRequest(channel: log.id, "sneaky"), onBehalfOf: "wes")
            #expect(logRefusal?.errorCode == .forbidden)
            let borrowed = await bed.refusal("wade", "btmsg.send", bed.sendRequest(channel: queue.id, "me too"), onBehalfOf: "wes")
            #expect(borrowed?.errorCode == .forbidden)
            #expect(try await bed.messageCount() == before + 1)
            // The reviewer's unread count includes the queue.
            #expect(try await bed.unread("rita") == 2)
        }
    }

    @Test("the rules table the docs show is the one the code uses")
    func rulesTable() {
        #expect(BtmsgRules.systemChannelRoles == [.operator_, .manager, .reviewer])
        let mia = Principal(name: "mia", kind: .agent, publicKey: [], groups: ["g"], role: .manager)
        let wes = Principal(name: "wes", kind: .agent, publicKey: [], groups: ["g"], role: .worker)
        let ann = Principal(name: "ann", kind: .person, publicKey: [], groups: ["g"], role: .worker)
        let op = Principal(name: "op", kind: .person, publicKey: [], groups: ["g"], role: .operator_)
        #expect(BtmsgRules.roleAllows(sender: mia, recipient: wes) == .managerToAgent)
        #expect(BtmsgRules.roleAllows(sender: mia, recipient: ann) == nil)
        #expect(BtmsgRules.roleAllows(sender: op, recipient: ann) == .operatorRole)
        #expect(BtmsgRules.roleAllows(sender: wes, recipient: mia) == nil)
        #expect(BtmsgRules.group(ofStream: BtmsgRules.stream(of: "team")) == "team")
        #expect(BtmsgRules.group(ofStream: "btmsg/team") == nil)
        #expect(RequestChecks.isFullId("7253dc78-2678-41c8-b333-bf127a109fdc"))
        #expect(!RequestChecks.isFullId("7253dc78"))
        #expect(!RequestChecks.isFullId("7253DC78-2678-41C8-B333-BF127A109FDC"))
    }
}

/// The team rule on its own: the runner's spawned agents reach their team (siblings and root), no one else.
@Suite struct TeamContactRuleTests {
    func agent(_ name: String, team: String = "", role: Role = .worker) -> Principal {
        Principal(name: name, kind: .agent, publicKey: [], groups: ["g"], role: role, team: team)
    }

    @Test func membersOfOneTeamReachEachOtherAndTheirRootButNobodyElse() {
        let lead = agent("lead", role: .worker), builder = agent("builder", team: "lead"), checker = agent("checker", team: "lead")
        let stranger = agent("stranger"), otherChild = agent("other-1", team: "other")
        #expect(BtmsgRules.roleAllows(sender: builder, recipient: checker) == .team)
        #expect(BtmsgRules.roleAllows(sender: checker, recipient: lead) == .team)
        #expect(BtmsgRules.roleAllows(sender: lead, recipient: builder) == .team)
        #expect(BtmsgRules.roleAllows(sender: builder, recipient: stranger) == nil)
        #expect(BtmsgRules.roleAllows(sender: builder, recipient: otherChild) == nil)
        #expect(BtmsgRules.roleAllows(sender: stranger, recipient: agent("stranger2")) == nil)   // no team on either side
    }

    @Test func aCertificateKeepsItsTeam() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("team-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let directory = Directory(folder: folder)
        try directory.writeSpawned(Principal(name: "lead-1", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["g"],
                                             role: .worker, team: "lead"))
        #expect(directory.principal(named: "lead-1")?.team == "lead")
    }
}
