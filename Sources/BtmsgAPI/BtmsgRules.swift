import Bus

/// The access rules of btmsg as pure functions of the directory's principals, so that the service,
/// the docs' table and the tests all use the same definitions. Anything that needs stored state
/// (explicit contacts, earlier messages, channel membership) is passed in.
public enum BtmsgRules {
    /// Roles that read and post in the system channels `review-queue` and `review-log` without being
    /// added as members.
    public static let systemChannelRoles: Set<Role> = [.operator_, .manager, .reviewer]
    public static let systemChannels = ["review-queue", "review-log"]

    /// The longest message body, in bytes.
    public static let maxBodyBytes = 64 * 1024

    /// Why a direct message is allowed, or nil when it is not (before group checks).
    public enum ContactReason: String, Sendable {
        case operatorRole = "role"
        case managerToAgent = "role-manager"
        case contact
        case reply
        case team
    }

    /// The group a direct message travels in: the one named (it must hold both), else the only group
    /// the two share. Group validation: a message never crosses groups.
    public static func groupForDirectMessage(sender: Principal, recipient: Principal, named: String) throws(BusError) -> String {
        if !named.isEmpty {
            guard sender.isMember(of: named) else { throw .forbidden("\(sender.name) is not in group \(named)") }
            guard recipient.isMember(of: named) else { throw .forbidden("\(recipient.name) is not in group \(named)") }
            return named
        }
        let shared = sender.groups.filter { recipient.isMember(of: $0) }
        switch shared.count {
        case 0: throw .forbidden("\(sender.name) and \(recipient.name) share no group")
        case 1: return shared[0]
        default: throw .badRequest("\(sender.name) and \(recipient.name) share several groups (\(shared.joined(separator: ", "))); name one with group")
        }
    }

    /// The role defaults: an operator reaches everyone in its groups, a manager its group's agents;
    /// the members of one agent team (the runner's spawned agents and their root) reach each other.
    public static func roleAllows(sender: Principal, recipient: Principal) -> ContactReason? {
        if sender.role == .operator_ { return .operatorRole }
        if sender.role == .manager && recipient.kind == .agent { return .managerToAgent }
        if sameTeam(sender, recipient) { return .team }
        return nil
    }

    /// Whether two principals belong to one agent team: one spawned into the other's team, or both
    /// spawned into the same one.
    public static func sameTeam(_ a: Principal, _ b: Principal) -> Bool {
        guard !a.team.isEmpty || !b.team.isEmpty else { return false }
        return (a.team.isEmpty ? a.name : a.team) == (b.team.isEmpty ? b.name : b.team)
    }

    /// Whether `principal` may read and post in a channel of `group`, given its explicit membership.
    public static func channelAccess(principal: Principal, group: String, system: Bool, isMember: Bool) -> Bool {
        guard principal.isMember(of: group) else { return false }
        return isMember || (system && systemChannelRoles.contains(principal.role))
    }

    /// Whether `actor` may add or remove members of a channel: its owner or an operator of its group.
    public static func mayManageMembers(actor: Principal, group: String, owner: String) -> Bool {
        guard actor.isMember(of: group) else { return false }
        return actor.name == owner || actor.role == .operator_
    }

    /// Whether a service with the delegate right may post for `principal` into this channel even
    /// though the principal cannot: bttask posts to `review-queue` for whoever moved a task to review.
    public static func delegatedReviewPost(sender: Principal, principal: Principal, group: String, channelName: String, system: Bool) -> Bool {
        sender.kind == .service && sender.has(.delegate) && system && channelName == "review-queue" && principal.isMember(of: group)
    }

    /// Who may read a group's event stream `btmsg/<group>/`: its members, and delegates (the gateway
    /// and services, which filter for the people they act for).
    public static func mayReadStream(_ principal: Principal, stream: String) -> Bool {
        guard let group = group(ofStream: stream) else { return false }
        return principal.isMember(of: group) || principal.has(.delegate)
    }

    /// A subscription prefix on btmsg's publisher: one group's whole stream (or a longer prefix of
    /// it) for its members; anything, including every group at once, only for delegates.
    public static func maySubscribe(_ principal: Principal, prefix: String) -> Bool {
        if principal.has(.delegate) { return true }
        guard prefix.hasPrefix(BtmsgEvents.streamPrefix) else { return false }
        let rest = prefix.dropFirst(BtmsgEvents.streamPrefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return false }
        return principal.isMember(of: String(rest[..<slash]))
    }

    /// A group's stream. The closing '/' (never in a name) makes the name a safe subscription
    /// prefix: `btmsg/team/` does not match `btmsg/team2/`.
    public static func stream(of group: String) -> String { "\(BtmsgEvents.streamPrefix)\(group)/" }

    public static func group(ofStream stream: String) -> String? {
        let prefix = BtmsgEvents.streamPrefix
        guard stream.hasPrefix(prefix), stream.hasSuffix("/"), stream.utf8.count > prefix.utf8.count + 1 else { return nil }
        let group = String(stream.dropFirst(prefix.count).dropLast())
        return Principal.isValidName(group) ? group : nil
    }

    /// Channel names: like principal names (letters, digits, '-', '_', '.'), at most 64.
    public static func isValidChannelName(_ name: String) -> Bool { Principal.isValidName(name) }

}
