/// What one reload of the directory changed, as far as access goes: the principals that lost
/// something they could use a moment ago (removed or revoked, a new key, fewer groups, another role
/// or kind, fewer rights). Additions never take anything away, so they are not listed.
public struct DirectoryChange: Sendable {
    /// Names of the principals that may now hold less than before.
    public let narrowed: [String]

    /// True when some open connection may hold access it no longer has.
    public var removesRights: Bool { !narrowed.isEmpty }

    public init(from previous: Directory.Snapshot, to next: Directory.Snapshot) {
        var narrowed: [String] = []
        for (name, before) in previous.byName {
            guard let after = next.byName[name] else { narrowed.append(name); continue }
            if DirectoryChange.narrows(before, after) { narrowed.append(name) }
        }
        self.narrowed = narrowed.sorted()
    }

    /// Whether `after` may do less than `before`. A changed role counts as less whichever way it
    /// goes: roles are not a strict ladder for every service (a reviewer is not a lesser manager).
    static func narrows(_ before: Principal, _ after: Principal) -> Bool {
        before.publicKey != after.publicKey || before.kind != after.kind || before.role != after.role
            || !Set(after.groups).isSuperset(of: before.groups) || !Set(after.rights).isSuperset(of: before.rights)
    }
}
