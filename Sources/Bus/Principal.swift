/// What a principal is.
public enum PrincipalKind: String, Sendable, Codable, CaseIterable {
    case person, agent, service
}

/// Roles, from most to least powerful. `admin` and `project` are the predecessor's names.
public enum Role: String, Sendable, Codable, CaseIterable {
    case operator_ = "operator"
    case manager, architect, tester, reviewer, worker

    /// Parses a role name, accepting the aliases `admin` (operator) and `project` (worker).
    public init?(name: String) {
        switch name.lowercased() {
        case "admin": self = .operator_
        case "project": self = .worker
        default:
            guard let role = Role(rawValue: name.lowercased()) else { return nil }
            self = role
        }
    }
}

/// Extra rights beyond a role.
public enum Right: String, Sendable, Codable, CaseIterable {
    /// May act on behalf of another principal (the gateway, the runner, bttask's review posts).
    case delegate
}

/// A person, agent or service known to the directory: the identity behind a CURVE key.
public struct Principal: Sendable, Equatable, Codable {
    public var name: String
    public var kind: PrincipalKind
    public var publicKey: [UInt8]
    public var groups: [String]
    public var role: Role
    public var rights: [Right]
    /// libsodium password hash of the gateway token (people only), empty when none.
    public var tokenHash: String
    /// For an agent the runner spawned into a team: the team's root agent (the one a person
    /// started). Members of one team may message each other. Empty for everyone else.
    public var team: String

    public init(name: String, kind: PrincipalKind, publicKey: [UInt8], groups: [String], role: Role,
                rights: [Right] = [], tokenHash: String = "", team: String = "") {
        self.name = name
        self.kind = kind
        self.publicKey = publicKey
        self.groups = groups
        self.role = role
        self.rights = rights
        self.tokenHash = tokenHash
        self.team = team
    }

    public func has(_ right: Right) -> Bool { rights.contains(right) }
    public func isMember(of group: String) -> Bool { groups.contains(group) }

    /// Names are used as file names and User-Ids: letters, digits, '-', '_', '.', 1 to 64 characters.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), name.first != "." else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }
}
