import AgorCLI
import ArgumentParser
import BttaskAPI
import Bus
import Foundation

/// `bttask`: the shared task board from a shell. The caller is the owner of the key (`--key`, else
/// `$AGOR_KEY`, else the home's operator key); the service checks every right (docs/BTTASK.md).
@main
struct Bttask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bttask",
        abstract: "The shared task board (agor).",
        discussion: "Ids print as 8-character prefixes ([1e5327fa]) and are accepted back as any unambiguous prefix among the tasks of your groups. Statuses: todo, in_progress (alias progress), review, done, blocked, rejected. Every command takes --json. Errors: one line on stderr and a non-zero exit: 2 bad input, 3 not allowed, 4 not found, 5 conflict (a stale version, a taken task, a cycle), 6 service unavailable. Rights in your groups: " + BttaskRules.summary(),
        subcommands: [List.self, Board.self, Show.self, Add.self, Assign.self, Status.self, Comment.self, Delete.self,
                      Ready.self, Claim.self, Deps.self, Watch.self, Changes.self, Lease.self])
}

extension ClientOptions {
    func withSession(_ body: (ServiceSession) async throws -> Void) async throws {
        try await withSession(service: BttaskMethods.service, program: "bttask", body)
    }
}

extension ServiceSession {
    /// Task ids: a full id as is; a prefix only when exactly one task of your groups has it.
    func resolveTask(_ text: String) async throws -> Agor_Bttask_V1_Task {
        let prefix = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).lowercased()
        var id = prefix
        if prefix.utf8.count != 36 {
            var request = Agor_Bttask_V1_ResolveRequest()
            request.prefix = prefix
            let ids = try await call(BttaskMethods.resolve, request).ids
            switch ids.count {
            case 0: throw Failure(.notFound, "no task starting with \(prefix) in your groups")
            case 1: id = ids[0]
            default: throw Failure(.badInput, "ambiguous id \(prefix): \(ids.count) candidates: \(ids.joined(separator: ", "))")
            }
        }
        var ref = Agor_Bttask_V1_TaskRef()
        ref.id = id
        return try await call(BttaskMethods.show, ref).task
    }
}

enum TaskOutput {
    static func priorityName(_ p: Agor_Bttask_V1_Priority) -> String {
        switch p {
        case .critical: "critical"
        case .high: "high"
        case .low: "low"
        default: "medium"
        }
    }

    static func priority(named name: String) throws -> Agor_Bttask_V1_Priority {
        switch name.lowercased() {
        case "critical": .critical
        case "high": .high
        case "medium": .medium
        case "low": .low
        default: throw Failure(.badInput, "priority is critical, high, medium or low, not \(name)")
        }
    }

    static func status(named name: String) throws -> Agor_Bttask_V1_Status {
        guard let status = BttaskRules.status(named: name) else {
            throw Failure(.badInput, "status is todo, progress (in_progress), review, done, blocked or rejected, not \(name)")
        }
        return status
    }

    static func line(_ t: Agor_Bttask_V1_Task) -> String {
        let mark = t.priority == .critical || t.priority == .high ? Terminal.paint("!", "31") : " "
        let who = t.assignee.isEmpty ? "" : " @\(t.assignee)"
        let blocked = t.ready ? "" : Terminal.paint(" (blocked)", "33")
        return "\(mark)\(Terminal.dim(Terminal.short(t.id))) \(BttaskRules.statusName(t.status)) \(t.title)\(who)\(blocked)"
    }

    static func tasks(_ list: Agor_Bttask_V1_TaskList, json: Bool, empty: String) {
        if json { Terminal.printJSON(list); return }
        if list.tasks.isEmpty { print(empty) }
        for t in list.tasks { print(line(t)) }
    }

    static func changed(_ reply: Agor_Bttask_V1_TaskReply, json: Bool, verb: String) {
        if json { Terminal.printJSON(reply); return }
        print("\(verb) \(Terminal.short(reply.task.id)) \(reply.task.title): \(BttaskRules.statusName(reply.task.status))"
              + (reply.task.assignee.isEmpty ? "" : " @\(reply.task.assignee)") + " (board revision \(reply.revision))")
    }
}
