import ConfigText
import Foundation
import Logging
import Synchronization

/// The home's `directory/`: one certificate file per principal (`NAME.cert`), the ZAP allow-list and
/// the source of groups, roles and rights for every service. Revoked certificates move to `revoked/`.
///
/// Thread-safe: lookups read an immutable snapshot that `reload()` swaps.
public final class Directory: Sendable {
    public struct Snapshot: Sendable {
        public var byName: [String: Principal] = [:]
        public var byKey: [[UInt8]: Principal] = [:]
        /// People by the hash of their gateway token (`TokenHash`).
        public var byTokenHash: [String: Principal] = [:]
        public var groups: [String] = []
        /// Files that could not be read, with the reason (skipped, never fatal).
        public var rejected: [String: String] = [:]
    }

    public let folder: URL
    private let snapshot = Mutex(Snapshot())
    private let logger: Logger
    /// Called after each reload that narrows someone's access, in reload order.
    private let observers = Mutex<[@Sendable (DirectoryChange) -> Void]>([])
    /// Serializes reloads, so observers see the changes in the order they were applied.
    private let reloading = Mutex(())

    public init(folder: URL, logger: Logger = Logger(label: "agor.directory")) {
        self.folder = folder
        self.logger = logger
        reload()
    }

    public var current: Snapshot { snapshot.withLock { $0 } }

    public func principal(named name: String) -> Principal? { snapshot.withLock { $0.byName[name] } }
    public func principal(forKey key: [UInt8]) -> Principal? { snapshot.withLock { $0.byKey[key] } }
    public func principal(forTokenHash hash: String) -> Principal? { snapshot.withLock { $0.byTokenHash[hash] } }
    public var groups: [String] { snapshot.withLock { $0.groups } }

    /// Calls `observer` after every reload that narrows a principal's access (`DirectoryChange`),
    /// on the reloading thread, once the new snapshot is in place. Keep it short: it runs before
    /// `reload()` returns, which is what lets an observer act before anything else sees the change.
    public func onNarrowing(_ observer: @escaping @Sendable (DirectoryChange) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Reads every certificate again. Unreadable files are skipped and reported in `rejected`.
    /// When the new snapshot narrows someone's access, the `onNarrowing` observers run before this
    /// returns.
    public func reload() {
        reloading.withLock { _ in reloadSerialized() }
    }

    private func reloadSerialized() {
        var next = Snapshot()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let spawned = (try? FileManager.default.contentsOfDirectory(atPath: spawnedFolder.path)) ?? []
        let certificates = files.sorted().map { (folder, $0, false) } + spawned.sorted().map { (spawnedFolder, $0, true) }
        for (place, file, isSpawned) in certificates where file.hasSuffix(".cert") && !file.hasPrefix(".") {
            let url = place.appendingPathComponent(file)
            do {
                let principal = try Directory.readCertificate(url)
                guard file == "\(principal.name).cert" else {
                    throw HomeError(code: .badCertificate, detail: "name \(principal.name) does not match file \(file)")
                }
                // The runner's part holds agents with no rights beyond a worker's, never a name of the rest.
                if isSpawned {
                    guard principal.kind == .agent, principal.rights.isEmpty, principal.role != .operator_, principal.tokenHash.isEmpty else {
                        throw HomeError(code: .badCertificate, detail: "a spawned certificate names an agent with no rights and no operator role")
                    }
                    guard next.byName[principal.name] == nil else {
                        throw HomeError(code: .badCertificate, detail: "spawned \(principal.name) has the name of a principal of the directory")
                    }
                }
                if next.byKey[principal.publicKey] != nil {
                    throw HomeError(code: .badCertificate, detail: "public key already used by \(next.byKey[principal.publicKey]!.name)")
                }
                next.byName[principal.name] = principal
                next.byKey[principal.publicKey] = principal
                if !principal.tokenHash.isEmpty { next.byTokenHash[principal.tokenHash] = principal }
            } catch {
                next.rejected[file] = "\(error)"
                logger.warning("certificate skipped", metadata: ["directory.file": "\(file)", "directory.error": "\(error)"])
            }
        }
        if let data = FileManager.default.contents(atPath: folder.appendingPathComponent("groups.toml").path),
           let table = try? TOML.parse(String(decoding: data, as: UTF8.self)) {
            next.groups = table["groups"]?.strings ?? []
        }
        let previous = snapshot.withLock { current in
            defer { current = next }
            return current
        }
        let change = DirectoryChange(from: previous, to: next)
        guard change.removesRights else { return }
        for observer in observers.withLock({ $0 }) { observer(change) }
        // Logged once the observers have acted: from here on the change is applied (docs/BUS.md).
        logger.notice("directory change applied", metadata: ["directory.narrowed": "\(change.narrowed.joined(separator: ","))"])
    }

    // MARK: certificate files

    public static func readCertificate(_ url: URL) throws -> Principal {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw HomeError(code: .badCertificate, detail: "cannot read \(url.lastPathComponent)")
        }
        let table = try TOML.parse(String(decoding: data, as: UTF8.self))
        func field(_ key: String) throws -> String {
            guard let value = table[key]?.string else {
                throw HomeError(code: .badCertificate, detail: "\(url.lastPathComponent): missing \(key)")
            }
            return value
        }
        let name = try field("name")
        guard Principal.isValidName(name) else { throw HomeError(code: .badName, detail: "bad name \(name)") }
        guard let kind = PrincipalKind(rawValue: try field("kind")) else {
            throw HomeError(code: .badCertificate, detail: "\(url.lastPathComponent): unknown kind")
        }
        guard let role = Role(name: try field("role")) else {
            throw HomeError(code: .badCertificate, detail: "\(url.lastPathComponent): unknown role")
        }
        let rights = try (table["rights"]?.strings ?? []).map { name -> Right in
            guard let right = Right(rawValue: name) else {
                throw HomeError(code: .badCertificate, detail: "\(url.lastPathComponent): unknown right \(name)")
            }
            return right
        }
        return Principal(name: name, kind: kind, publicKey: try Z85.decodeKey(try field("public_key")),
                         groups: table["groups"]?.strings ?? [], role: role, rights: rights,
                         tokenHash: table["token_hash"]?.string ?? "", team: table["team"]?.string ?? "")
    }

    public static func certificateText(_ p: Principal) -> String {
        var t = TOMLTable()
        t["name"] = .string(p.name)
        t["kind"] = .string(p.kind.rawValue)
        t["public_key"] = .string(Z85.encode(p.publicKey))
        t["groups"] = .array(p.groups.map { .string($0) })
        t["role"] = .string(p.role.rawValue)
        t["rights"] = .array(p.rights.map { .string($0.rawValue) })
        if !p.tokenHash.isEmpty { t["token_hash"] = .string(p.tokenHash) }
        if !p.team.isEmpty { t["team"] = .string(p.team) }
        return "# agor certificate: the principal behind a CURVE public key\n" + TOML.write(t)
    }

    /// Writes (or replaces) a principal's certificate atomically; watchers pick it up.
    public func write(_ principal: Principal) throws { try write(principal, into: folder) }

    private func write(_ principal: Principal, into place: URL) throws {
        guard Principal.isValidName(principal.name) else {
            throw HomeError(code: .badName, detail: "names use letters, digits, '-', '_' and '.': \(principal.name)")
        }
        try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true)
        try AtomicFile.write(Directory.certificateText(principal), to: place.appendingPathComponent("\(principal.name).cert"), mode: 0o644)
        reload()
    }

    /// The runner's part of the directory: the certificates of agents it spawned for teams (only it
    /// writes here; every service reads it like the rest, with the limits `reload` checks).
    public var spawnedFolder: URL { folder.appendingPathComponent("spawned") }

    /// Adds a spawned agent's certificate (the runner's part).
    public func writeSpawned(_ principal: Principal) throws { try write(principal, into: spawnedFolder) }

    /// Removes a spawned agent's certificate: its key is refused from then on.
    public func removeSpawned(_ name: String) {
        guard Principal.isValidName(name) else { return }
        try? FileManager.default.removeItem(at: spawnedFolder.appendingPathComponent("\(name).cert"))
        reload()
    }

    /// Moves a principal's certificate to `revoked/` with the reason; its key is refused from then on.
    public func revoke(_ name: String, reason: String) throws {
        let source = folder.appendingPathComponent("\(name).cert")
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw HomeError(code: .notFound, detail: "no principal named \(name)")
        }
        let revoked = folder.appendingPathComponent("revoked")
        try FileManager.default.createDirectory(at: revoked, withIntermediateDirectories: true)
        let stamp = Int(Date().timeIntervalSince1970)
        let target = revoked.appendingPathComponent("\(name).\(stamp).cert")
        var text = (try? String(contentsOf: source, encoding: .utf8)) ?? ""
        text += "revoked_at = \(stamp)\nrevoked_reason = \(QuotedString.literal(reason))\n"
        try AtomicFile.write(text, to: target, mode: 0o644)
        try FileManager.default.removeItem(at: source)
        reload()
    }

    /// A revoked principal: when and why (from `revoked/NAME.STAMP.cert`).
    public struct Revocation: Sendable, Equatable {
        public var name: String
        public var reason: String
        public var revokedAtUnix: Int64
    }

    /// Every revoked principal, the latest revocation of each name.
    public func revocations() -> [String: Revocation] {
        let revoked = folder.appendingPathComponent("revoked")
        var result: [String: Revocation] = [:]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: revoked.path)) ?? []
        for file in files where file.hasSuffix(".cert") {
            guard let data = FileManager.default.contents(atPath: revoked.appendingPathComponent(file).path),
                  let table = try? TOML.parse(String(decoding: data, as: UTF8.self)),
                  let name = table["name"]?.string else { continue }
            let entry = Revocation(name: name, reason: table["revoked_reason"]?.string ?? "",
                                   revokedAtUnix: table["revoked_at"]?.integer ?? 0)
            if let known = result[name], known.revokedAtUnix > entry.revokedAtUnix { continue }
            result[name] = entry
        }
        return result
    }

    public func addGroup(_ group: String) throws {
        guard Principal.isValidName(group) else { throw HomeError(code: .badGroup, detail: "bad group name \(group)") }
        var groups = self.groups
        guard !groups.contains(group) else { return }
        groups.append(group)
        var t = TOMLTable()
        t["groups"] = .array(groups.map { .string($0) })
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write("# agor groups\n" + TOML.write(t), to: folder.appendingPathComponent("groups.toml"), mode: 0o644)
        reload()
    }
}
