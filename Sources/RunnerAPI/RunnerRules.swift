import Bus

/// Who may do what with agent sessions. Operators and managers start, stop, answer and read the
/// sessions of their own groups; an agent may read its own sessions; a delegate (the Gateway) acts
/// for a person and is checked as that person.
public enum RunnerRules {
    public static let streamPrefix = "runner/"

    public static func stream(group: String, session: String) -> String { "runner/\(group)/\(session)" }
    public static func groupPrefix(_ group: String) -> String { "runner/\(group)/" }

    /// Start, stop, input, answer: operators and managers of the group.
    public static func mayManage(_ principal: Principal, group: String) -> Bool {
        principal.isMember(of: group) && (principal.role == .operator_ || principal.role == .manager)
    }

    /// Reading a session (show, logs, its stream): its managers, or the agent it runs as.
    public static func mayRead(_ principal: Principal, group: String, agent: String) -> Bool {
        mayManage(principal, group: group) || principal.name == agent
    }

    /// A subscription or replay prefix: a group's whole prefix for its operators, managers and
    /// delegates; one session's exact stream also for the agent it runs as (`owner` finds it).
    public static func mayRead(_ principal: Principal, prefix: String, owner: (String) -> (group: String, agent: String)?) -> Bool {
        // Every group's sessions (and any shorter prefix): services that act for people only.
        if streamPrefix.hasPrefix(prefix) { return principal.has(.delegate) && principal.kind == .service }
        guard prefix.hasPrefix(streamPrefix) else { return false }
        let parts = prefix.dropFirst(streamPrefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty else { return false }
        let group = String(parts[0])
        if parts.count == 2 && parts[1].isEmpty {   // runner/<group>/
            return mayManage(principal, group: group) || (principal.has(.delegate) && principal.kind == .service)
        }
        guard parts.count == 2, let session = owner(String(parts[1])), session.group == group else { return false }
        return mayRead(principal, group: group, agent: session.agent) || (principal.has(.delegate) && principal.kind == .service)
    }
}
