import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import MCP
import RunnerAPI
import SwiftProtobuf

/// One tool of `agor mcp`: its name, what it does (the text the model reads), its input schema,
/// and what it calls, as the agent, on btmsg or bttask.
struct AgentTool: Sendable {
    let name: String
    let description: String
    let properties: [String: Value]
    let required: [String]
    let readOnly: Bool
    let run: @Sendable (ToolArguments, AgentConnection) async throws -> any SwiftProtobuf.Message

    var tool: Tool {
        Tool(name: name, description: description,
             inputSchema: .object(["type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
                                   "additionalProperties": false]),
             annotations: .init(readOnlyHint: readOnly))
    }
}

private func text(_ description: String) -> Value { .object(["type": "string", "description": .string(description)]) }
private func integer(_ description: String, _ range: ClosedRange<Int>) -> Value {
    .object(["type": "integer", "description": .string(description), "minimum": .int(range.lowerBound), "maximum": .int(range.upperBound)])
}
private func flag(_ description: String) -> Value { .object(["type": "boolean", "description": .string(description)]) }
private func oneOf(_ description: String, _ values: [String]) -> Value {
    .object(["type": "string", "description": .string(description), "enum": .array(values.map { .string($0) })])
}

/// The tools, in the order `tools/list` gives them.
enum AgentTools {
    static let all: [AgentTool] = messaging + channels + tasks + leases + team

    static func named(_ name: String) -> AgentTool? { all.first { $0.name == name } }

    // MARK: messages

    static let messaging: [AgentTool] = [
        AgentTool(name: "whoami", description: "Your name, role, groups and unread count.",
                  properties: [:], required: [], readOnly: true) { args, agent in
            try args.allowOnly([])
            return try await agent.whoami()
        },
        AgentTool(name: "send", description: "Send a direct message to a person or agent (by name). Returns the stored message.",
                  properties: ["to": text("Recipient's name."), "body": text("The message (up to 64 KiB)."),
                               "importance": oneOf("How urgent (default normal).", ["low", "normal", "high", "urgent"]),
                               "ack_required": flag("Ask the recipient to acknowledge it."),
                               "group": text("The group, when you and the recipient share several.")],
                  required: ["to", "body"], readOnly: false) { args, agent in
            try args.allowOnly(["to", "body", "importance", "ack_required", "group"])
            var request = Agor_Btmsg_V1_SendRequest()
            request.to = try args.requiredString("to")
            request.body = try args.requiredString("body")
            request.importance = try importance(args.string("importance"))
            request.ackRequired = try args.bool("ack_required") ?? false
            request.group = try args.string("group") ?? ""
            return try await agent.call(BtmsgMethods.send, request)
        },
        AgentTool(name: "reply", description: "Reply to a message (by id or an 8+ character id prefix): to its sender, or in its channel.",
                  properties: ["message_id": text("The message to answer."), "body": text("Your reply.")],
                  required: ["message_id", "body"], readOnly: false) { args, agent in
            try args.allowOnly(["message_id", "body"])
            let original = try await message(try args.requiredString("message_id"), agent, method: BtmsgMethods.get)
            let me = try await agent.whoami()
            var request = Agor_Btmsg_V1_SendRequest()
            request.body = try args.requiredString("body")
            request.replyTo = original.id
            if !original.channelID.isEmpty {
                request.channelID = original.channelID
            } else {
                request.to = original.sender == me.name ? original.recipient : original.sender
                request.group = original.group
            }
            return try await agent.call(BtmsgMethods.send, request)
        },
        AgentTool(name: "inbox", description: "Your unread messages, oldest first (metadata and body). all=true: the newest read and unread.",
                  properties: ["all": flag("Include messages already read."), "limit": integer("How many (default 50).", 1...1000)],
                  required: [], readOnly: true) { args, agent in
            try args.allowOnly(["all", "limit"])
            var request = Agor_Btmsg_V1_InboxRequest()
            request.all = try args.bool("all") ?? false
            request.limit = Int32(try args.int("limit", in: 1...1000) ?? 0)
            return try await agent.call(BtmsgMethods.inbox, request)
        },
        AgentTool(name: "read", description: "Read one message (by id or prefix) and mark it read.",
                  properties: ["id": text("Message id or an 8+ character prefix.")], required: ["id"], readOnly: false) { args, agent in
            try args.allowOnly(["id"])
            return try await message(try args.requiredString("id"), agent, method: BtmsgMethods.read)
        },
        AgentTool(name: "ack", description: "Acknowledge a message addressed to you (it is marked read too).",
                  properties: ["id": text("Message id or an 8+ character prefix.")], required: ["id"], readOnly: false) { args, agent in
            try args.allowOnly(["id"])
            return try await message(try args.requiredString("id"), agent, method: BtmsgMethods.ack)
        },
        AgentTool(name: "wait",
                  description: "Wait for a message: returns your unread messages as soon as there are any (at once if some are waiting), or an empty list after timeout_s seconds. Pushed by btmsg, no polling.",
                  properties: ["timeout_s": integer("Seconds to wait at most (default 60).", 1...600)],
                  required: [], readOnly: true) { args, agent in
            try args.allowOnly(["timeout_s"])
            let timeout = Duration.seconds(try args.int("timeout_s", in: 1...600) ?? 60)
            let me = try await agent.whoami()
            var unread = Agor_Btmsg_V1_InboxRequest()
            unread.limit = 50
            var found = Agor_Btmsg_V1_MessageList()
            let arrived = try await agent.waitForMessage(groups: me.groups, me: me.name, timeout: timeout) {
                found = try await agent.call(BtmsgMethods.inbox, unread)
                return !found.messages.isEmpty
            }
            if arrived && found.messages.isEmpty { found = try await agent.call(BtmsgMethods.inbox, unread) }
            return found
        },
        AgentTool(name: "search", description: "Full-text search over the messages you may read, best match first (SQLite FTS5 syntax).",
                  properties: ["query": text("Words to find; quote a phrase with \"...\"."), "limit": integer("How many (default 20).", 1...1000)],
                  required: ["query"], readOnly: true) { args, agent in
            try args.allowOnly(["query", "limit"])
            var request = Agor_Btmsg_V1_SearchRequest()
            request.query = try args.requiredString("query")
            request.limit = Int32(try args.int("limit", in: 1...1000) ?? 0)
            return try await agent.call(BtmsgMethods.search, request)
        },
    ]

    // MARK: channels

    static let channels: [AgentTool] = [
        AgentTool(name: "channel_list", description: "The channels of your groups, with their members where you may read them.",
                  properties: ["group": text("Only this group.")], required: [], readOnly: true) { args, agent in
            try args.allowOnly(["group"])
            var request = Agor_Btmsg_V1_ChannelListRequest()
            request.group = try args.string("group") ?? ""
            return try await agent.call(BtmsgMethods.channelList, request)
        },
        AgentTool(name: "channel_send", description: "Post in a channel (by name, with or without '#', or id).",
                  properties: ["channel": text("Channel name or id."), "body": text("The message."),
                               "group": text("The channel's group, when the name is in several.")],
                  required: ["channel", "body"], readOnly: false) { args, agent in
            try args.allowOnly(["channel", "body", "group"])
            var request = Agor_Btmsg_V1_SendRequest()
            request.channelID = try await channel(try args.requiredString("channel"), group: try args.string("group"), agent).id
            request.body = try args.requiredString("body")
            return try await agent.call(BtmsgMethods.send, request)
        },
        AgentTool(name: "channel_history", description: "The last messages of a channel, newest first.",
                  properties: ["channel": text("Channel name or id."), "limit": integer("How many (default 20).", 1...1000),
                               "group": text("The channel's group, when the name is in several.")],
                  required: ["channel"], readOnly: true) { args, agent in
            try args.allowOnly(["channel", "limit", "group"])
            var request = Agor_Btmsg_V1_HistoryRequest()
            request.channelID = try await channel(try args.requiredString("channel"), group: try args.string("group"), agent).id
            request.limit = Int32(try args.int("limit", in: 1...1000) ?? 0)
            return try await agent.call(BtmsgMethods.history, request)
        },
    ]

    // MARK: tasks

    static let tasks: [AgentTool] = [
        AgentTool(name: "task_ready", description: "Tasks ready to claim: todo, unassigned, every blocker done; best first.",
                  properties: ["group": text("Only this group."), "limit": integer("How many (default 200).", 1...1000)],
                  required: [], readOnly: true) { args, agent in
            try args.allowOnly(["group", "limit"])
            var request = Agor_Bttask_V1_ListRequest()
            request.group = try args.string("group") ?? ""
            request.limit = Int32(try args.int("limit", in: 1...1000) ?? 0)
            return try await agent.call(BttaskMethods.ready, request)
        },
        AgentTool(name: "task_claim",
                  description: "Take a task atomically: the one named, or without an id the best ready task. Refused if someone else has it.",
                  properties: ["id": text("Task id or prefix; omit for the best ready task."), "group": text("Group, without an id.")],
                  required: [], readOnly: false) { args, agent in
            try args.allowOnly(["id", "group"])
            var request = Agor_Bttask_V1_ClaimRequest()
            if let id = try args.string("id"), !id.isEmpty { request.id = try await task(id, agent).id }
            request.group = try args.string("group") ?? ""
            return try await agent.call(BttaskMethods.claim, request)
        },
        AgentTool(name: "task_show", description: "A task with its comments and children.",
                  properties: ["id": text("Task id or prefix.")], required: ["id"], readOnly: true) { args, agent in
            try args.allowOnly(["id"])
            var ref = Agor_Bttask_V1_TaskRef()
            ref.id = try await task(try args.requiredString("id"), agent).id
            return try await agent.call(BttaskMethods.show, ref)
        },
        AgentTool(name: "task_move", description: "Move a task to another status (as your role allows).",
                  properties: ["id": text("Task id or prefix."),
                               "status": oneOf("The new status.", ["todo", "in_progress", "review", "done", "blocked", "rejected"])],
                  required: ["id", "status"], readOnly: false) { args, agent in
            try args.allowOnly(["id", "status"])
            let current = try await task(try args.requiredString("id"), agent)
            let name = try args.requiredString("status")
            guard let status = BttaskRules.status(named: name) else { throw BusError.badRequest("unknown status \(name)") }
            var request = Agor_Bttask_V1_MoveRequest()
            request.id = current.id
            request.expectedVersion = current.version
            request.status = status
            return try await agent.call(BttaskMethods.move, request)
        },
        AgentTool(name: "task_comment", description: "Comment on a task.",
                  properties: ["id": text("Task id or prefix."), "body": text("The comment.")],
                  required: ["id", "body"], readOnly: false) { args, agent in
            try args.allowOnly(["id", "body"])
            var request = Agor_Bttask_V1_CommentRequest()
            request.id = try await task(try args.requiredString("id"), agent).id
            request.body = try args.requiredString("body")
            return try await agent.call(BttaskMethods.comment, request)
        },
        AgentTool(name: "task_create", description: "Create a task (as your role allows).",
                  properties: ["title": text("Short title."), "description": text("What to do."),
                               "priority": oneOf("Default medium.", ["low", "medium", "high", "critical"]),
                               "group": text("The group, when you are in several."), "parent": text("Parent task id or prefix.")],
                  required: ["title"], readOnly: false) { args, agent in
            try args.allowOnly(["title", "description", "priority", "group", "parent"])
            var request = Agor_Bttask_V1_CreateRequest()
            request.title = try args.requiredString("title")
            request.description_p = try args.string("description") ?? ""
            request.priority = try priority(args.string("priority"))
            request.group = try args.string("group") ?? ""
            if let parent = try args.string("parent"), !parent.isEmpty { request.parent = try await task(parent, agent).id }
            return try await agent.call(BttaskMethods.create, request)
        },
    ]

    // MARK: file leases

    static let leases: [AgentTool] = [
        AgentTool(name: "lease_acquire",
                  description: "Hold files of a project before changing them: paths, directories (\"src/\") or globs (\"src/*.swift\"), exclusive (default) or shared, for ttl_s seconds. All or none; refused naming the holder when someone else holds one.",
                  properties: ["project": text("The project."),
                               "paths": .object(["type": "array", "items": .object(["type": "string"]), "description": "Relative paths, 1 to 64."]),
                               "exclusive": flag("Exclusive (default true) or shared."), "ttl_s": integer("Seconds (default 600).", 1...86_400),
                               "task": text("Tie it to a task (id or prefix): it ends when the task is done."), "group": text("The group, when you are in several.")],
                  required: ["project", "paths"], readOnly: false) { args, agent in
            try args.allowOnly(["project", "paths", "exclusive", "ttl_s", "task", "group"])
            var request = Agor_Bttask_V1_LeaseRequest()
            request.project = try args.requiredString("project")
            request.paths = try args.strings("paths") ?? []
            request.exclusive = try args.bool("exclusive") ?? true
            request.ttlS = Int32(try args.int("ttl_s", in: 1...86_400) ?? 0)
            request.group = try args.string("group") ?? ""
            if let task = try args.string("task"), !task.isEmpty { request.task = try await Self.task(task, agent).id }
            return try await agent.call(BttaskMethods.leaseAcquire, request)
        },
        AgentTool(name: "lease_renew", description: "Extend a lease you hold.",
                  properties: ["id": text("The lease id."), "ttl_s": integer("Seconds from now (default 600).", 1...86_400)],
                  required: ["id"], readOnly: false) { args, agent in
            try args.allowOnly(["id", "ttl_s"])
            var ref = Agor_Bttask_V1_LeaseRef()
            ref.id = try args.requiredString("id")
            ref.ttlS = Int32(try args.int("ttl_s", in: 1...86_400) ?? 0)
            return try await agent.call(BttaskMethods.leaseRenew, ref)
        },
        AgentTool(name: "lease_release", description: "End a lease you hold.",
                  properties: ["id": text("The lease id.")], required: ["id"], readOnly: false) { args, agent in
            try args.allowOnly(["id"])
            var ref = Agor_Bttask_V1_LeaseRef()
            ref.id = try args.requiredString("id")
            return try await agent.call(BttaskMethods.leaseRelease, ref)
        },
        AgentTool(name: "lease_list", description: "Who holds what: live leases of your groups, of a project, a holder or a path.",
                  properties: ["project": text("Only this project."), "holder": text("Only this holder."),
                               "path": text("Only leases covering this file."), "group": text("Only this group.")],
                  required: [], readOnly: true) { args, agent in
            try args.allowOnly(["project", "holder", "path", "group"])
            var request = Agor_Bttask_V1_LeaseListRequest()
            request.project = try args.string("project") ?? ""
            request.holder = try args.string("holder") ?? ""
            request.path = try args.string("path") ?? ""
            request.group = try args.string("group") ?? ""
            return try await agent.call(BttaskMethods.leaseList, request)
        },
    ]

    // MARK: team

    static let team: [AgentTool] = [
        AgentTool(name: "spawn_agent",
                  description: "Start a child agent in your team: a new agent of your group with its own key, working on `prompt` with your program and project. Its role is at most yours; its budget is at most what you have left, and what it spends counts against yours. Its end comes back to you as a message.",
                  properties: ["prompt": text("What the child should do."), "role": oneOf("Default worker.", ["worker", "tester", "reviewer", "architect", "manager"]),
                               "name": text("Optional name; default YOURNAME-N."),
                               "max_turns": integer("Optional: at most this many turns (never above what you have left).", 1...1_000_000),
                               "max_tokens": integer("Optional: at most this many tokens (never above what you have left).", 1...1_000_000_000),
                               "max_cost_cents": integer("Optional: at most this many cents (never above what you have left).", 1...100_000_000)],
                  required: ["prompt"], readOnly: false) { args, agent in
            try args.allowOnly(["prompt", "role", "name", "max_turns", "max_tokens", "max_cost_cents"])
            guard let session = agent.session else { throw BusError.badRequest("spawn_agent works inside a session the runner started (AGOR_SESSION)") }
            var request = Agor_Runner_V1_SpawnRequest()
            request.parent = session
            request.prompt = try args.requiredString("prompt")
            request.role = try args.string("role") ?? ""
            request.name = try args.string("name") ?? ""
            let turns = try args.int("max_turns", in: 1...1_000_000), tokens = try args.int("max_tokens", in: 1...1_000_000_000)
            let cents = try args.int("max_cost_cents", in: 1...100_000_000)
            if turns != nil || tokens != nil || cents != nil {
                request.budget.maxTurns = Int64(turns ?? 0)
                request.budget.maxTokens = Int64(tokens ?? 0)
                request.budget.maxCostCents = Int64(cents ?? 0)
            }
            return try await agent.call(RunnerAPI.spawn, request)
        },
        AgentTool(name: "team_status", description: "Your team: the sessions you spawned, with their state.",
                  properties: [:], required: [], readOnly: true) { args, agent in
            try args.allowOnly([])
            guard let session = agent.session else { throw BusError.badRequest("team_status works inside a session the runner started (AGOR_SESSION)") }
            var request = Agor_Runner_V1_ListRequest()
            request.parent = session
            return try await agent.call(RunnerAPI.list, request)
        },
    ]

    // MARK: helpers

    private static func importance(_ name: String?) throws -> Agor_Btmsg_V1_Importance {
        switch name ?? "normal" {
        case "low": .low
        case "normal": .normal
        case "high": .high
        case "urgent": .urgent
        default: throw BusError.badRequest("importance is low, normal, high or urgent")
        }
    }

    private static func priority(_ name: String?) throws -> Agor_Bttask_V1_Priority {
        switch name ?? "medium" {
        case "low": .low
        case "medium": .medium
        case "high": .high
        case "critical": .critical
        default: throw BusError.badRequest("priority is low, medium, high or critical")
        }
    }

    /// A message by full id or prefix, through `method` (get, read or ack).
    private static func message(_ text: String, _ agent: AgentConnection,
                                method: Bus.Method<Agor_Btmsg_V1_MessageRef, Agor_Btmsg_V1_Message>) async throws -> Agor_Btmsg_V1_Message {
        var ref = Agor_Btmsg_V1_MessageRef()
        ref.id = try await fullId(text) { prefix in
            var request = Agor_Btmsg_V1_ResolveRequest()
            request.prefix = prefix
            return try await agent.call(BtmsgMethods.resolve, request).ids
        }
        return try await agent.call(method, ref)
    }

    private static func task(_ text: String, _ agent: AgentConnection) async throws -> Agor_Bttask_V1_Task {
        var ref = Agor_Bttask_V1_TaskRef()
        ref.id = try await fullId(text) { prefix in
            var request = Agor_Bttask_V1_ResolveRequest()
            request.prefix = prefix
            return try await agent.call(BttaskMethods.resolve, request).ids
        }
        return try await agent.call(BttaskMethods.show, ref).task
    }

    /// A full id as given; a prefix (as the CLIs print, `[1a2b3c4d]`) when exactly one id has it.
    private static func fullId(_ text: String, resolve: (String) async throws -> [String]) async throws -> String {
        let prefix = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).lowercased()
        if RequestChecks.isFullId(prefix) { return prefix }
        guard prefix.count >= 4 else { throw BusError.badRequest("an id or a prefix of at least 4 characters") }
        let ids = try await resolve(prefix)
        switch ids.count {
        case 0: throw BusError.notFound("nothing you may see has an id starting with \(prefix)")
        case 1: return ids[0]
        default: throw BusError.badRequest("ambiguous id \(prefix): \(ids.count) candidates: \(ids.joined(separator: ", "))")
        }
    }

    private static func channel(_ text: String, group: String?, _ agent: AgentConnection) async throws -> Agor_Btmsg_V1_Channel {
        let key = text.hasPrefix("#") ? String(text.dropFirst()) : text
        var request = Agor_Btmsg_V1_ChannelListRequest()
        request.group = group ?? ""
        let channels = try await agent.call(BtmsgMethods.channelList, request).channels
        var matches = channels.filter { $0.name == key }
        if matches.isEmpty && key.count >= 4 { matches = channels.filter { $0.id.hasPrefix(key.lowercased()) } }
        switch matches.count {
        case 0: throw BusError.notFound("no channel \(key) in your groups")
        case 1: return matches[0]
        default: throw BusError.badRequest("ambiguous channel \(key): in \(matches.map(\.group).joined(separator: ", ")); give the group")
        }
    }
}
