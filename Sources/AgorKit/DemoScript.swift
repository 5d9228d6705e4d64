import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import HomeConfig

/// `agor up --demo`: a small team of scripted agents in the `demo` group that talk in a channel
/// and move tasks through the real services (btmsg, bttask) with their own keys, so a new user
/// sees the dashboard alive at once. Also makes the `demo` person and prints their sign-in token.
public enum DemoScript {
    public static let group = "demo"
    public static let person = "visitor"
    static let lead = "demo-lead", dev = "demo-dev", reviewer = "demo-reviewer"

    /// Creates what is missing (group, agents, the person) and gives the person a new token.
    public static func prepare(home: Home) throws -> String {
        let setup = HomeSetup(home: home)
        _ = try setup.addGroup(group)
        let directory = Directory(folder: home.directoryFolder)
        for (name, role) in [(lead, Role.manager), (dev, .worker), (reviewer, .reviewer)] where directory.principal(named: name) == nil {
            _ = try setup.addAgent(name: name, group: group, role: role)
        }
        if var visitor = directory.principal(named: person) {
            let (token, hash) = GatewayToken.generate()
            visitor.tokenHash = hash
            try directory.write(visitor)
            return token
        }
        return try setup.addUser(name: person, group: group, role: .manager, writeKey: false).token
    }

    /// Runs the team until cancelled; each step survives a service that restarts.
    public static func run(home: Home, say: @Sendable (String) -> Void) async {
        // One connection per agent and service for the whole run (they reconnect by themselves
        // when a service restarts).
        let clients: [RPCClient]
        do {
            clients = try [lead, dev, reviewer].flatMap { name -> [RPCClient] in
                let client = try ServiceClient(home: home, keyFile: home.secretKeyFile(name))
                return [try client.rpc("btmsg"), try client.rpc("bttask")]
            }
        } catch {
            say("agor up --demo: cannot connect the demo agents: \(error)")
            return
        }
        defer { Task { for client in clients { await client.close() } } }
        let (lead, leadTasks, dev, devTasks, rev, revTasks) = (clients[0], clients[1], clients[2], clients[3], clients[4], clients[5])
        let options = RPCClient.CallOptions(timeout: .seconds(5))
        var channelId: String?
        var step = 0
        while !Task.isCancelled {
            step += 1
            do {
                if channelId == nil { channelId = try await room(lead: lead, others: [dev, rev], options: options) }
                guard let channelId else { continue }
                func post(_ client: RPCClient, _ text: String) async throws {
                    var send = Agor_Btmsg_V1_SendRequest()
                    send.channelID = channelId
                    send.body = text
                    _ = try await client.call(BtmsgMethods.send, send, options: options)
                }
                try await post(lead, "Step \(step): who takes the next task?")
                var create = Agor_Bttask_V1_CreateRequest()
                create.title = "Demo task \(step)"
                create.group = group
                let created = try await leadTasks.call(BttaskMethods.create, create, options: options)
                try await Task.sleep(for: .seconds(2))
                var claim = Agor_Bttask_V1_ClaimRequest()
                claim.id = created.task.id
                claim.group = group
                var task = try await devTasks.call(BttaskMethods.claim, claim, options: options).task
                try await post(dev, "I take \(task.title).")
                try await Task.sleep(for: .seconds(2))
                task = try await move(task, to: .review, with: devTasks, options: options)
                try await post(dev, "\(task.title) is ready for review.")
                try await Task.sleep(for: .seconds(2))
                task = try await move(task, to: .done, with: revTasks, options: options)
                try await post(rev, "Approved \(task.title).")
            } catch {
                // A service restarting: try again at the next step.
            }
            try? await Task.sleep(for: .seconds(3))
        }
    }

    private static func move(_ task: Agor_Bttask_V1_Task, to status: Agor_Bttask_V1_Status, with client: RPCClient,
                             options: RPCClient.CallOptions) async throws -> Agor_Bttask_V1_Task {
        var move = Agor_Bttask_V1_MoveRequest()
        move.id = task.id
        move.expectedVersion = task.version
        move.status = status
        return try await client.call(BttaskMethods.move, move, options: options).task
    }

    /// The team's channel, made by the lead and joined by the others (once).
    private static func room(lead: RPCClient, others: [RPCClient], options: RPCClient.CallOptions) async throws -> String {
        var list = Agor_Btmsg_V1_ChannelListRequest()
        list.group = group
        let channels = try await lead.call(BtmsgMethods.channelList, list, options: options).channels
        let id: String
        if let existing = channels.first(where: { $0.name == "team" }) {
            id = existing.id
        } else {
            var create = Agor_Btmsg_V1_ChannelCreateRequest()
            create.group = group
            create.name = "team"
            create.open = true
            id = try await lead.call(BtmsgMethods.channelCreate, create, options: options).id
        }
        for other in others {
            var join = Agor_Btmsg_V1_MemberRequest()
            join.channelID = id
            _ = try? await other.call(BtmsgMethods.channelJoin, join, options: options)
        }
        // The visitor reads along: the owner adds them.
        var add = Agor_Btmsg_V1_MemberRequest()
        add.channelID = id
        add.principal = person
        _ = try? await lead.call(BtmsgMethods.channelAdd, add, options: options)
        return id
    }
}
