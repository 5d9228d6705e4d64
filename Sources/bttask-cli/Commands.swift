import AgorCLI
import ArgumentParser
import BttaskAPI
import Bus
import Foundation

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tasks of your group (done hidden unless --all).")
    @OptionGroup var common: ClientOptions
    @Flag(help: "Include done tasks.") var all = false
    @Option(help: "Only this status.") var status: String?
    @Option(help: "Only tasks assigned to this person or agent.") var assignee: String?
    @Option(help: "Only tasks with this label.") var label: String?
    @Option(help: "Only this priority.") var priority: String?
    @Option(help: "Only this project.") var project: String?
    @Option(help: "The group, when you are in several.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_ListRequest()
            r.all = all; r.group = group ?? ""; r.assignee = assignee ?? ""; r.label = label ?? ""; r.project = project ?? ""
            if let status { r.statuses = [try TaskOutput.status(named: status)] }
            if let priority { r.priority = try TaskOutput.priority(named: priority) }
            TaskOutput.tasks(try await session.call(BttaskMethods.list, r), json: common.json, empty: "no tasks")
        }
    }
}

struct Board: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The board: one column per status.")
    @OptionGroup var common: ClientOptions
    @Option(help: "The group, when you are in several.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_ListRequest()
            r.all = true; r.group = group ?? ""; r.limit = 1000
            let list = try await session.call(BttaskMethods.list, r)
            if common.json { Terminal.printJSON(list); return }
            for status in [Agor_Bttask_V1_Status.todo, .inProgress, .review, .blocked, .done, .rejected] {
                let column = list.tasks.filter { $0.status == status }
                print(Terminal.bold("\(BttaskRules.statusName(status)) (\(column.count))"))
                for t in column { print("  " + TaskOutput.line(t)) }
            }
            print(Terminal.dim("board revision \(list.revision)"))
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A task with its comments, blockers and children.")
    @OptionGroup var common: ClientOptions
    @Argument(help: "Task id or unambiguous prefix.") var task: String

    func run() async throws {
        try await common.withSession { session in
            var ref = Agor_Bttask_V1_TaskRef()
            ref.id = try await session.resolveTask(task).id
            let reply = try await session.call(BttaskMethods.show, ref)
            if common.json { Terminal.printJSON(reply); return }
            let t = reply.task
            print("""
                \(Terminal.bold(t.title)) \(Terminal.short(t.id))
                status:   \(BttaskRules.statusName(t.status))\(t.ready ? "" : " (blocked by \(t.blockedBy.map { String($0.prefix(8)) }.joined(separator: ", ")))")
                priority: \(TaskOutput.priorityName(t.priority))
                assignee: \(t.assignee.isEmpty ? "—" : t.assignee)
                creator:  \(t.creator), group \(t.group)\(t.project.isEmpty ? "" : ", project \(t.project)")
                version:  \(t.version) (board revision \(reply.revision))
                """)
            if !t.labels.isEmpty { print("labels:   \(t.labels.joined(separator: ", "))") }
            if !t.description_p.isEmpty { print("\n\(t.description_p)") }
            for child in reply.children { print("  child " + TaskOutput.line(child)) }
            for c in reply.comments { print("\n\(Terminal.bold(c.author)) \(Terminal.dim(Terminal.time(c.createdAtUs)))\n\(c.body)") }
        }
    }
}

struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a task: bttask add <title words…>.")
    @OptionGroup var common: ClientOptions
    @Option(help: "Description.") var desc: String?
    @Option(help: "critical, high, medium or low.") var priority: String = "medium"
    @Option(help: "Assign it at once (managers and operators).") var assign: String?
    @Option(help: "Parent task.") var parent: String?
    @Option(help: "Project.") var project: String?
    @Option(help: "A label (repeatable).") var label: [String] = []
    @Option(name: .customLong("blocked-by"), help: "A blocking task (repeatable).") var blockedBy: [String] = []
    @Option(help: "The group, when you are in several.") var group: String?
    @Argument(help: "The title (all remaining words).") var words: [String] = []

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_CreateRequest()
            r.title = words.joined(separator: " ")
            guard !r.title.isEmpty else { throw Failure(.badInput, "a task needs a title") }
            r.description_p = desc ?? ""; r.priority = try TaskOutput.priority(named: priority)
            r.assignee = assign ?? ""; r.project = project ?? ""; r.labels = label; r.group = group ?? ""
            if let parent { r.parent = try await session.resolveTask(parent).id }
            for blocker in blockedBy { r.blockedBy.append(try await session.resolveTask(blocker).id) }
            TaskOutput.changed(try await session.call(BttaskMethods.create, r), json: common.json, verb: "created")
        }
    }
}

struct Assign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Assign a task (managers and operators); an empty name unassigns.")
    @OptionGroup var common: ClientOptions
    @Argument var task: String
    @Argument var agent: String

    func run() async throws {
        try await common.withSession { session in
            let t = try await session.resolveTask(task)
            var r = Agor_Bttask_V1_AssignRequest()
            r.id = t.id; r.expectedVersion = t.version; r.assignee = agent
            TaskOutput.changed(try await session.call(BttaskMethods.assign, r), json: common.json, verb: "assigned")
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move a task: bttask status <task> <todo|progress|review|done|blocked|rejected>.")
    @OptionGroup var common: ClientOptions
    @Argument var task: String
    @Argument var status: String

    func run() async throws {
        try await common.withSession { session in
            let target = try TaskOutput.status(named: status)
            let t = try await session.resolveTask(task)
            var r = Agor_Bttask_V1_MoveRequest()
            r.id = t.id; r.expectedVersion = t.version; r.status = target
            TaskOutput.changed(try await session.call(BttaskMethods.move, r), json: common.json, verb: "moved")
        }
    }
}

struct Comment: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Comment on a task: bttask comment <task> <words…>.")
    @OptionGroup var common: ClientOptions
    @Argument var task: String
    @Argument(help: "The comment (all remaining words).") var words: [String] = []

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_CommentRequest()
            r.body = words.joined(separator: " ")
            guard !r.body.isEmpty else { throw Failure(.badInput, "the comment is empty") }
            r.id = try await session.resolveTask(task).id
            let reply = try await session.call(BttaskMethods.comment, r)
            if common.json { Terminal.printJSON(reply) } else { print("commented on \(Terminal.short(r.id)) (board revision \(reply.revision))") }
        }
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a task (managers and operators).")
    @OptionGroup var common: ClientOptions
    @Argument var task: String

    func run() async throws {
        try await common.withSession { session in
            let t = try await session.resolveTask(task)
            var r = Agor_Bttask_V1_DeleteRequest()
            r.id = t.id; r.expectedVersion = t.version
            TaskOutput.changed(try await session.call(BttaskMethods.delete, r), json: common.json, verb: "deleted")
        }
    }
}

struct Ready: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tasks to take: todo, unassigned, every blocker done; best first.")
    @OptionGroup var common: ClientOptions
    @Option(help: "How many.") var limit: Int32 = 20
    @Option(help: "The group, when you are in several.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_ListRequest()
            r.limit = limit; r.group = group ?? ""
            TaskOutput.tasks(try await session.call(BttaskMethods.ready, r), json: common.json, empty: "nothing ready")
        }
    }
}

struct Claim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take a task: you become its assignee and it moves to in_progress. Without an id: the best ready task.")
    @OptionGroup var common: ClientOptions
    @Argument(help: "Task id or prefix (default: the best ready task).") var task: String?
    @Option(help: "The group, when you are in several.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_ClaimRequest()
            r.group = group ?? ""
            // Without an id the service picks the best ready task inside the claim itself.
            if let task { r.id = try await session.resolveTask(task).id }
            TaskOutput.changed(try await session.call(BttaskMethods.claim, r), json: common.json, verb: "claimed")
        }
    }
}

struct Deps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a task's blockers, or add (--on) / remove (--remove --on) one. A cycle is refused.")
    @OptionGroup var common: ClientOptions
    @Argument var task: String
    @Option(help: "The blocking task.") var on: String?
    @Flag(help: "Remove the dependency instead.") var remove = false

    func run() async throws {
        try await common.withSession { session in
            let t = try await session.resolveTask(task)
            guard let on else {
                if common.json { Terminal.printJSON(t); return }
                print(t.blockedBy.isEmpty ? "\(Terminal.short(t.id)) has no blockers" : "\(Terminal.short(t.id)) is blocked by:")
                for id in t.blockedBy { print("  " + TaskOutput.line(try await session.resolveTask(id))) }
                return
            }
            var r = Agor_Bttask_V1_DependencyRequest()
            r.id = t.id; r.blockedBy = try await session.resolveTask(on).id; r.remove = remove
            TaskOutput.changed(try await session.call(BttaskMethods.dependency, r), json: common.json,
                               verb: remove ? "unblocked" : "blocked")
        }
    }
}

struct Changes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Every change after a board revision, in order.")
    @OptionGroup var common: ClientOptions
    @Option(help: "The revision you hold.") var since: Int64 = 0
    @Option(help: "The group, when you are in several.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var r = Agor_Bttask_V1_ChangesRequest()
            r.sinceRevision = since; r.group = group ?? ""
            let list = try await session.call(BttaskMethods.changes, r)
            if common.json { Terminal.printJSON(list); return }
            for c in list.changes { print("\(c.revision) \(c.kind) \(TaskOutput.line(c.task)) by \(c.by)") }
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stream the board's changes (push) until Ctrl-C.")
    @OptionGroup var common: ClientOptions
    @Option(help: "The group, when you are in several.") var group: String?

    func run() async throws {
        try await guarded(program: "bttask") {
            let session = try common.connect(service: BttaskMethods.service)
            // Asking for one task first checks the group (and that the service answers).
            var probe = Agor_Bttask_V1_ListRequest()
            probe.group = group ?? ""; probe.limit = 1
            _ = try await session.call(BttaskMethods.list, probe)
            let groups = try group.map { [$0] } ?? { () throws -> [String] in
                let me = session.client.directory.principal(forKey: session.client.key.publicKey)
                guard let me else { throw Failure(.forbidden, "your key is not in the directory") }
                return me.groups
            }()
            let subscriber = try session.client.subscriber(BttaskMethods.service, prefixes: groups.map(BttaskRules.stream(of:)), start: .now,
                                                           endsWhenRefused: true)
            for await event in subscriber.events {
                guard var change = try? Agor_Bttask_V1_Change(serializedBytes: event.body) else { continue }
                change.revision = Int64(event.seq)
                if common.json { Terminal.printJSON(change) } else { print("\(change.revision) \(change.kind) \(TaskOutput.line(change.task)) by \(change.by)") }
                fflush(nil)
            }
            // The stream ends only when the service stops accepting this key (revoked).
            if subscriber.wasRefused { throw BusError.keyRefused }
        }
    }
}
