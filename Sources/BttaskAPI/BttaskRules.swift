import Bus

/// Who may do what on the board, as one table that the service, the docs (docs/BTTASK.md) and the
/// tests share. Group isolation comes first: nobody acts on a task outside their groups.
public enum BttaskRules {
    public enum Action: String, Sendable, CaseIterable {
        case view, create, update, assign, move, comment, delete, claim, dependency
    }

    /// What each role may do to any task of its groups ("all"), only to tasks assigned to it
    /// ("own"), or not at all (missing). Reviewers' moves are further limited by `reviewerMoves`.
    public enum Scope: String, Sendable { case all, own }

    public static let table: [Role: [Action: Scope]] = [
        .operator_: [.view: .all, .create: .all, .update: .all, .assign: .all, .move: .all, .comment: .all,
                     .delete: .all, .claim: .all, .dependency: .all],
        .manager: [.view: .all, .create: .all, .update: .all, .assign: .all, .move: .all, .comment: .all,
                   .delete: .all, .claim: .all, .dependency: .all],
        .architect: [.view: .all, .create: .all, .move: .all, .comment: .all, .claim: .all, .dependency: .all],
        .tester: [.view: .all, .comment: .all, .move: .own, .claim: .all],
        .reviewer: [.view: .all, .comment: .all, .move: .all],
        .worker: [.view: .all, .claim: .all, .move: .own, .comment: .own],
    ]

    /// The only moves a reviewer makes: review→done, review→rejected, review→in_progress.
    public static let reviewerMoves: Set<String> = ["review>done", "review>rejected", "review>in_progress"]

    public static func statusName(_ s: Agor_Bttask_V1_Status) -> String {
        switch s {
        case .todo: "todo"
        case .inProgress: "in_progress"
        case .review: "review"
        case .done: "done"
        case .blocked: "blocked"
        case .rejected: "rejected"
        default: "unspecified"
        }
    }

    /// Parses a status name; `progress` is the predecessor's alias of in_progress.
    public static func status(named name: String) -> Agor_Bttask_V1_Status? {
        switch name.lowercased() {
        case "todo": .todo
        case "in_progress", "in-progress", "progress": .inProgress
        case "review": .review
        case "done": .done
        case "blocked": .blocked
        case "rejected": .rejected
        default: nil
        }
    }

    /// Whether `principal` may do `action` to a task of `group` assigned to `assignee`
    /// (for `move`, from `from` to `to`).
    public static func may(_ principal: Principal, _ action: Action, group: String, assignee: String = "",
                           from: Agor_Bttask_V1_Status = .unspecified, to: Agor_Bttask_V1_Status = .unspecified) -> Bool {
        guard principal.isMember(of: group), let scope = table[principal.role]?[action] else { return false }
        if scope == .own && assignee != principal.name { return false }
        if action == .move && principal.role == .reviewer {
            return reviewerMoves.contains("\(statusName(from))>\(statusName(to))")
        }
        return true
    }

    /// The docs' table, generated from `table` so the two cannot drift.
    public static func markdownTable() -> String {
        var lines = ["| role | " + Action.allCases.map(\.rawValue).joined(separator: " | ") + " |",
                     "| --- |" + String(repeating: " --- |", count: Action.allCases.count)]
        for role in Role.allCases {
            let cells = Action.allCases.map { action -> String in
                switch table[role]?[action] {
                case .all?: role == .reviewer && action == .move ? "review→done/rejected/in_progress" : "yes"
                case .own?: "own tasks"
                case nil: "—"
                }
            }
            lines.append("| \(role.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// One sentence per role, from `table`: the command line's help says exactly this.
    public static func summary() -> String {
        Role.allCases.map { role -> String in
            let rights = table[role] ?? [:]
            let all = Action.allCases.filter { rights[$0] == .all && $0 != .view }.map(\.rawValue)
            let own = Action.allCases.filter { rights[$0] == .own }.map(\.rawValue)
            var parts: [String] = []
            if !all.isEmpty { parts.append(all.joined(separator: ", ") + (role == .reviewer ? " (moves: review to done, rejected or in_progress)" : "")) }
            if !own.isEmpty { parts.append(own.joined(separator: ", ") + " their own tasks") }
            return "\(role.rawValue)s: see the board" + (parts.isEmpty ? "" : "; " + parts.joined(separator: "; ")) + "."
        }.joined(separator: " ")
    }

    public static func stream(of group: String) -> String { "\(BttaskEvents.streamPrefix)\(group)/" }

    public static func group(ofStream stream: String) -> String? {
        let prefix = BttaskEvents.streamPrefix
        guard stream.hasPrefix(prefix), stream.hasSuffix("/"), stream.utf8.count > prefix.utf8.count + 1 else { return nil }
        let group = String(stream.dropFirst(prefix.count).dropLast())
        return Principal.isValidName(group) ? group : nil
    }

    /// Subscriptions and replays: a group's members, and delegates.
    public static func mayRead(_ principal: Principal, prefix: String) -> Bool {
        if principal.has(.delegate) { return true }
        guard prefix.hasPrefix(BttaskEvents.streamPrefix) else { return false }
        let rest = prefix.dropFirst(BttaskEvents.streamPrefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return false }
        return principal.isMember(of: String(rest[..<slash]))
    }
}
