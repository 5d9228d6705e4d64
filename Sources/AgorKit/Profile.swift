import Bus
import ConfigText
import Foundation
import HomeConfig

/// A home's shareable configuration as one TOML file: groups, projects, principals (public keys,
/// roles), settings at every level, and, sealed with a passphrase (Argon2id, XChaCha20-Poly1305),
/// the vault's secrets and, only when asked, principals' secret keys. Never token hashes.
public enum Profile {
    /// The format this agor writes. Imports of a newer format are refused; older ones are
    /// migrated through `migrations` (none yet: 1 is the first format).
    public static let format: Int64 = 1
    static let migrations: [Int64: @Sendable (inout TOMLTable) throws -> Void] = [:]

    public struct ExportOptions: Sendable {
        public var passphrase: String?
        public var includeSecrets = true
        public var includeSecretKeys = false
        public var vaultUnlock: Vault.Unlock?
        public init(passphrase: String? = nil, includeSecrets: Bool = true, includeSecretKeys: Bool = false, vaultUnlock: Vault.Unlock? = nil) {
            self.passphrase = passphrase
            self.includeSecrets = includeSecrets
            self.includeSecretKeys = includeSecretKeys
            self.vaultUnlock = vaultUnlock
        }
    }

    // MARK: Export

    public static func export(home: Home, options: ExportOptions) throws -> String {
        let directory = Directory(folder: home.directoryFolder)
        var root = TOMLTable()
        root["format"] = .integer(format)
        root["created_at"] = .string(ISO8601DateFormatter().string(from: Date()))
        root["groups"] = .array(directory.groups.sorted().map { .string($0) })

        var projects = TOMLTable()
        for project in try Projects.load(from: home) {
            var entry = TOMLTable()
            entry["group"] = .string(project.group)
            entry["root"] = .string(project.root)
            projects[project.name] = .table(entry)
        }
        root["projects"] = .table(projects)

        var principals = TOMLTable()
        let everyone = directory.current.byName.values.sorted { $0.name < $1.name }
        for principal in everyone {
            var entry = TOMLTable()
            entry["kind"] = .string(principal.kind.rawValue)
            entry["public_key"] = .string(Z85.encode(principal.publicKey))
            entry["groups"] = .array(principal.groups.map { .string($0) })
            entry["role"] = .string(principal.role.rawValue)
            entry["rights"] = .array(principal.rights.map { .string($0.rawValue) })
            principals[principal.name] = .table(entry)
        }
        root["principals"] = .table(principals)

        let settings = try Settings.load(from: home)
        var settingsTable = TOMLTable()
        settingsTable["global"] = .table(table(settings.global))
        var groupSettings = TOMLTable(), projectSettings = TOMLTable()
        for (name, values) in settings.groups.sorted(by: { $0.key < $1.key }) { groupSettings[name] = .table(table(values)) }
        for (name, values) in settings.projects.sorted(by: { $0.key < $1.key }) { projectSettings[name] = .table(table(values)) }
        settingsTable["groups"] = .table(groupSettings)
        settingsTable["projects"] = .table(projectSettings)
        root["settings"] = .table(settingsTable)

        // What is secret: sealed with a key from the passphrase, or left out.
        var secrets: [(String, String)] = []
        if options.includeSecrets, FileManager.default.fileExists(atPath: Vault.file(in: home).path) {
            let vault = try Vault.open(home: home, unlock: options.vaultUnlock ?? .keyFile(Vault.keyFile(in: home)), create: false)
            for item in try vault.list() { if let value = try vault.get(item.name) { secrets.append((item.name, value)) } }
        }
        var secretKeys: [(String, String)] = []
        if options.includeSecretKeys {
            for principal in everyone {
                if let text = try? String(contentsOf: home.secretKeyFile(principal.name), encoding: .utf8) { secretKeys.append((principal.name, text)) }
            }
        }
        if !secrets.isEmpty || !secretKeys.isEmpty {
            guard let passphrase = options.passphrase, !passphrase.isEmpty else {
                throw AgorKitError(.passphrase, "the profile would hold \(secrets.count) secret(s) and \(secretKeys.count) secret key(s): give a passphrase to seal them, or leave them out")
            }
            let salt = Sealing.randomBytes(Sealing.saltBytes)
            let kdf = Sealing.KDF.standard
            let key = try Sealing.key(passphrase: passphrase, salt: salt, kdf: kdf)
            var sealed = TOMLTable()
            sealed["kdf"] = .string("argon2id13:\(kdf.opsLimit),\(kdf.memLimit)")
            sealed["salt"] = .string(Data(salt).base64EncodedString())
            sealed["check"] = .string(Data(Sealing.seal(Array("agor profile".utf8), key: key, context: "check")).base64EncodedString())
            var secretTable = TOMLTable(), keyTable = TOMLTable()
            for (name, value) in secrets { secretTable[name] = .string(Data(Sealing.seal(Array(value.utf8), key: key, context: "secret:\(name)")).base64EncodedString()) }
            for (name, text) in secretKeys { keyTable[name] = .string(Data(Sealing.seal(Array(text.utf8), key: key, context: "key:\(name)")).base64EncodedString()) }
            sealed["secrets"] = .table(secretTable)
            sealed["secret_keys"] = .table(keyTable)
            root["sealed"] = .table(sealed)
        }
        return "# agor profile (format \(format)). Secrets, if any, are sealed with the exporter's passphrase.\n\n" + TOML.write(root)
    }

    private static func table(_ values: [String: SettingValue]) -> TOMLTable {
        var table = TOMLTable()
        for key in values.keys.sorted() {
            switch values[key]! {
            case .string(let text): table[key] = .string(text)
            case .integer(let number): table[key] = .integer(number)
            case .list(let items): table[key] = .array(items.map { .string($0) })
            }
        }
        return table
    }

    // MARK: Import

    public enum Mode: Sendable { case merge, overwrite }

    /// What an import would change, one line each, and the change itself.
    public struct Plan {
        public var lines: [String] = []
        var actions: [() throws -> Void] = []
        public var isEmpty: Bool { lines.isEmpty }

        mutating func add(_ line: String, _ action: @escaping () throws -> Void) {
            lines.append(line)
            actions.append(action)
        }

        /// Applies every change, in order.
        public func apply() throws { for action in actions { try action() } }
    }

    /// Reads and checks the whole file (decrypting what is sealed) before anything changes, and
    /// returns the plan. `merge` adds what is missing and sets the settings the file has, keeping
    /// what differs for principals and projects; `overwrite` also replaces those, and each settings
    /// level the file has. Principals are never removed (revoking stays a separate act).
    public static func plan(importing text: String, into home: Home, mode: Mode, passphrase: String?) throws -> Plan {
        var root: TOMLTable
        do { root = try TOML.parse(text) } catch { throw AgorKitError(.damaged, "not a profile: \(error)") }
        guard let version = root["format"]?.integer else { throw AgorKitError(.damaged, "not a profile: no format number") }
        guard version <= format else { throw AgorKitError(.newer, "this profile is format \(version), from a newer agor; this agor reads up to \(format)") }
        guard version >= 1 else { throw AgorKitError(.damaged, "format \(version) is not a profile format") }
        for step in version..<format { try migrations[step]?(&root) }

        let directory = Directory(folder: home.directoryFolder)
        var plan = Plan()

        // Groups.
        guard let groups = (root["groups"] ?? .array([])).strings, groups.allSatisfy(Principal.isValidName) else {
            throw AgorKitError(.damaged, "groups must be a list of names")
        }
        let known = Set(directory.groups)
        for group in groups where !known.contains(group) { plan.add("+ group \(group)") { try directory.addGroup(group) } }
        let allGroups = known.union(groups)

        // Principals.
        var incoming: [Principal] = []
        let principals = root["principals"]?.table ?? TOMLTable()
        for name in principals.keys {
            guard Principal.isValidName(name), let entry = principals[name]?.table,
                  let kind = entry["kind"]?.string.flatMap(PrincipalKind.init(rawValue:)),
                  let role = entry["role"]?.string.flatMap(Role.init(name:)),
                  let keyText = entry["public_key"]?.string, let key = try? Z85.decodeKey(keyText),
                  let memberOf = (entry["groups"] ?? .array([])).strings, memberOf.allSatisfy(allGroups.contains) else {
                throw AgorKitError(.damaged, "principals.\(name.prefix(64)) needs a kind, a role, a public key and known groups")
            }
            let rights = try ((entry["rights"] ?? .array([])).strings ?? []).map { text -> Right in
                guard let right = Right(rawValue: text) else { throw AgorKitError(.damaged, "principals.\(name): unknown right \(text.prefix(32))") }
                return right
            }
            incoming.append(Principal(name: name, kind: kind, publicKey: key, groups: memberOf, role: role, rights: rights))
        }
        for principal in incoming {
            if let existing = directory.principal(named: principal.name) {
                let same = existing.publicKey == principal.publicKey && existing.groups == principal.groups && existing.role == principal.role
                    && existing.kind == principal.kind && existing.rights == principal.rights
                guard !same else { continue }
                if mode == .overwrite {
                    var replaced = principal
                    if existing.publicKey == principal.publicKey { replaced.tokenHash = existing.tokenHash }   // same person: keep their token
                    plan.add("~ principal \(principal.name) (\(principal.kind.rawValue), \(principal.role.rawValue), \(principal.groups.joined(separator: ",")))") {
                        try directory.write(replaced)
                    }
                } else {
                    plan.lines.append("! principal \(principal.name) differs here (kept; --overwrite replaces it)")
                }
            } else {
                plan.add("+ principal \(principal.name) (\(principal.kind.rawValue), \(principal.role.rawValue), \(principal.groups.joined(separator: ",")))") {
                    try directory.write(principal)
                }
            }
        }

        // Projects.
        var projects = try Projects.load(from: home)
        let projectTable = root["projects"]?.table ?? TOMLTable()
        var projectsChanged = false
        for name in projectTable.keys {
            guard Principal.isValidName(name), let entry = projectTable[name]?.table, let group = entry["group"]?.string,
                  allGroups.contains(group), let projectRoot = entry["root"]?.string, projectRoot.hasPrefix("/") else {
                throw AgorKitError(.damaged, "projects.\(name.prefix(64)) needs a known group and an absolute root")
            }
            let project = Project(name: name, group: group, root: projectRoot)
            if let index = projects.firstIndex(where: { $0.name == name }) {
                guard projects[index] != project else { continue }
                if mode == .overwrite {
                    projects[index] = project
                    projectsChanged = true
                    plan.lines.append("~ project \(name) (\(group)) at \(projectRoot)")
                } else {
                    plan.lines.append("! project \(name) differs here (kept; --overwrite replaces it)")
                }
            } else {
                projects.append(project)
                projectsChanged = true
                plan.lines.append("+ project \(name) (\(group)) at \(projectRoot)")
            }
        }
        if projectsChanged {
            let final = projects
            plan.actions.append { try Projects.save(final, to: home) }
        }

        // Settings, every value checked against the schema.
        var settings = try Settings.load(from: home)
        let before = settings
        let settingsTable = root["settings"]?.table ?? TOMLTable()
        func values(_ table: TOMLTable, _ path: String) throws -> [String: SettingValue] {
            var result: [String: SettingValue] = [:]
            for key in table.keys {
                guard let raw = table[key], let value = settingValue(raw) else { throw AgorKitError(.damaged, "\(path).\(key): not a setting value") }
                do { result[key] = try SettingSchema.check(key, value) } catch { throw AgorKitError(.damaged, "\(path).\(key): \(error)") }
            }
            return result
        }
        var levels: [(SettingLevel, [String: SettingValue])] = [(.global, try values(settingsTable["global"]?.table ?? TOMLTable(), "settings.global"))]
        for (section, make) in [("groups", SettingLevel.group), ("projects", SettingLevel.project)] {
            let all = settingsTable[section]?.table ?? TOMLTable()
            for name in all.keys { levels.append((make(name), try values(all[name]?.table ?? TOMLTable(), "settings.\(section).\(name)"))) }
        }
        for (level, incomingValues) in levels {
            var merged = mode == .overwrite ? [:] : settings.values(at: level)
            for (key, value) in incomingValues { merged[key] = value }
            let current = settings.values(at: level)
            for key in Set(merged.keys).union(current.keys).sorted() where merged[key] != current[key] {
                let from = current[key].map { "\($0)" } ?? "unset", to = merged[key].map { "\($0)" } ?? "unset"
                plan.lines.append("~ setting \(key) (\(level)): \(from) → \(to)")
            }
            settings.replace(merged, at: level)
        }
        if settings != before {
            let final = settings
            plan.actions.append { try final.save(to: home) }
        }

        // Sealed parts: all opened now, so a wrong passphrase or a changed byte refuses the whole import.
        if let sealed = root["sealed"]?.table {
            guard let passphrase, !passphrase.isEmpty else { throw AgorKitError(.passphrase, "this profile holds sealed secrets: give its passphrase") }
            guard let kdfText = sealed["kdf"]?.string, kdfText.hasPrefix("argon2id13:"),
                  case let parts = kdfText.dropFirst(11).split(separator: ","), parts.count == 2,
                  let ops = UInt64(parts[0]), let mem = Int(parts[1]),
                  let salt = sealed["salt"]?.string.flatMap({ Data(base64Encoded: $0) }), let check = sealed["check"]?.string.flatMap({ Data(base64Encoded: $0) }) else {
                throw AgorKitError(.damaged, "the sealed section's key record is damaged")
            }
            let key: [UInt8]
            do { key = try Sealing.key(passphrase: passphrase, salt: [UInt8](salt), kdf: .init(opsLimit: ops, memLimit: mem)) } catch {
                throw AgorKitError(.damaged, "the sealed section's key record is unusable: \(error)")
            }
            guard (try? Sealing.open([UInt8](check), key: key, context: "check")) == Array("agor profile".utf8) else {
                throw AgorKitError(.passphrase, "wrong passphrase for this profile")
            }
            func open(_ section: String, _ context: String) throws -> [(String, String)] {
                let table = sealed[section]?.table ?? TOMLTable()
                return try table.keys.map { name in
                    guard let data = table[name]?.string.flatMap({ Data(base64Encoded: $0) }),
                          let plain = try? Sealing.open([UInt8](data), key: key, context: "\(context):\(name)") else {
                        throw AgorKitError(.damaged, "sealed.\(section).\(name.prefix(64)) is damaged")
                    }
                    return (name, String(decoding: plain, as: UTF8.self))
                }
            }
            let secrets = try open("secrets", "secret")
            let secretKeys = try open("secret_keys", "key")
            if !secrets.isEmpty {
                for (name, _) in secrets { plan.lines.append("+ vault secret \(name)") }
                plan.actions.append {
                    let vault = try Vault.open(home: home, unlock: .keyFile(Vault.keyFile(in: home)), create: true)
                    for (name, value) in secrets { try vault.set(name, value) }
                }
            }
            for (name, text) in secretKeys {
                let url = home.secretKeyFile(name)
                if FileManager.default.fileExists(atPath: url.path), mode == .merge {
                    plan.lines.append("! secret key of \(name) exists here (kept; --overwrite replaces it)")
                    continue
                }
                plan.add("+ secret key of \(name)") { try AtomicFile.write(text, to: url, mode: 0o600) }
            }
        }
        return plan
    }

    private static func settingValue(_ raw: TOMLValue) -> SettingValue? {
        if let text = raw.string { return .string(text) }
        if let number = raw.integer { return .integer(number) }
        if let items = raw.strings { return .list(items) }
        return nil
    }
}
