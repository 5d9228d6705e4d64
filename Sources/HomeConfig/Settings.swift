import Bus
import ConfigText
import Foundation

/// Where an effective setting came from, most specific first: a project, its group, the whole
/// home, or agor's built-in default.
public enum SettingLevel: Sendable, Equatable, CustomStringConvertible {
    case project(String)
    case group(String)
    case global
    case builtIn

    public var description: String {
        switch self {
        case .project(let name): "project \(name)"
        case .group(let name): "group \(name)"
        case .global: "global"
        case .builtIn: "default"
        }
    }
}

/// A setting's value: text, a whole number, or a list of names.
public enum SettingValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case list([String])

    public var description: String {
        switch self {
        case .string(let text): text
        case .integer(let number): String(number)
        case .list(let items): items.joined(separator: ",")
        }
    }

    /// The value as JSON would hold it.
    public var jsonValue: Any {
        switch self {
        case .string(let text): text
        case .integer(let number): number
        case .list(let items): items
        }
    }

    var toml: TOMLValue {
        switch self {
        case .string(let text): .string(text)
        case .integer(let number): .integer(number)
        case .list(let items): .array(items.map { .string($0) })
        }
    }

    init?(_ toml: TOMLValue) {
        if let text = toml.string { self = .string(text) } else if let number = toml.integer { self = .integer(number) } else if let items = toml.strings { self = .list(items) } else { return nil }
    }
}

/// The home's settings.toml: settings at three levels (global, per group, per project), the most
/// specific winning per key. Written by `agor settings set/unset` and profile imports; read by the
/// CLI, the Gateway (`GET /v1/settings`) and the services that use a setting (btmsg's retention).
///
///     [global]
///     theme = "dark"
///     "keybinding.terminal.copy" = "Ctrl+Shift+C"
///     [groups.web]
///     "retention.keep_days" = 30
///     [projects.site]
///     shell = "/bin/zsh"
public struct Settings: Sendable, Equatable {
    public private(set) var global: [String: SettingValue] = [:]
    public private(set) var groups: [String: [String: SettingValue]] = [:]
    public private(set) var projects: [String: [String: SettingValue]] = [:]

    public init() {}

    public static func file(in home: Home) -> URL { home.root.appendingPathComponent("settings.toml") }

    /// The settings; none when the file does not exist. A malformed file, or a key or value the
    /// schema refuses, is a `bad_file` error naming where.
    public static func load(from home: Home) throws -> Settings {
        let url = file(in: home)
        guard let data = FileManager.default.contents(atPath: url.path) else { return Settings() }
        let table: TOMLTable
        do { table = try TOML.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw HomeConfigError(.badFile, "\(url.path): \(error)")
        }
        var settings = Settings()
        func level(_ values: TOMLTable, _ path: String) throws -> [String: SettingValue] {
            var result: [String: SettingValue] = [:]
            for key in values.keys {
                guard let raw = values[key], let value = SettingValue(raw) else {
                    throw HomeConfigError(.badFile, "\(url.path): \(path).\(key) is not text, a number or a list")
                }
                do { result[key] = try SettingSchema.check(key, value) } catch let error as HomeConfigError {
                    throw HomeConfigError(.badFile, "\(url.path): \(path): \(error.message)")
                }
            }
            return result
        }
        for key in table.keys where !["global", "groups", "projects"].contains(key) {
            throw HomeConfigError(.badFile, "\(url.path): unknown section [\(key)] (global, groups.NAME, projects.NAME)")
        }
        settings.global = try level(table["global"]?.table ?? TOMLTable(), "global")
        for (section, path) in [("groups", "groups"), ("projects", "projects")] {
            let all = table[section]?.table ?? TOMLTable()
            for name in all.keys {
                guard let values = all[name]?.table else { throw HomeConfigError(.badFile, "\(url.path): \(path).\(name) must be a table") }
                let parsed = try level(values, "\(path).\(name)")
                if section == "groups" { settings.groups[name] = parsed } else { settings.projects[name] = parsed }
            }
        }
        return settings
    }

    public func save(to home: Home) throws {
        func table(_ values: [String: SettingValue]) -> TOMLTable {
            var table = TOMLTable()
            for key in values.keys.sorted() { table[key] = values[key]?.toml }
            return table
        }
        var root = TOMLTable()
        root["global"] = .table(table(global))
        var groupTables = TOMLTable()
        for name in groups.keys.sorted() where !(groups[name] ?? [:]).isEmpty { groupTables[name] = .table(table(groups[name] ?? [:])) }
        root["groups"] = .table(groupTables)
        var projectTables = TOMLTable()
        for name in projects.keys.sorted() where !(projects[name] ?? [:]).isEmpty { projectTables[name] = .table(table(projects[name] ?? [:])) }
        root["projects"] = .table(projectTables)
        try AtomicFile.write("# agor settings, written by `agor settings set/unset`.\n\n" + TOML.write(root), to: Settings.file(in: home), mode: 0o644)
    }

    /// The values set at one level.
    public func values(at level: SettingLevel) -> [String: SettingValue] {
        switch level {
        case .global: global
        case .group(let name): groups[name] ?? [:]
        case .project(let name): projects[name] ?? [:]
        case .builtIn: SettingSchema.defaults
        }
    }

    /// The levels that apply, most specific first: the project, then its group (or the group
    /// asked for), then global, then the built-in defaults.
    public static func chain(project: Project?, group: String?) -> [SettingLevel] {
        var levels: [SettingLevel] = []
        if let project { levels.append(.project(project.name)) }
        if let group = project?.group ?? group { levels.append(.group(group)) }
        return levels + [.global, .builtIn]
    }

    /// A key's effective value and where it came from; nil when it is set nowhere and has no default.
    public func effective(_ key: String, project: Project? = nil, group: String? = nil) -> (value: SettingValue, level: SettingLevel)? {
        for level in Settings.chain(project: project, group: group) {
            if let value = values(at: level)[key] { return (value, level) }
        }
        return nil
    }

    /// Every key with a value for this scope, sorted, each with the level that gives it.
    /// The effective whole number for `key` (nil when unset or of another type).
    public func integer(_ key: String, project: Project? = nil, group: String? = nil) -> Int64? {
        if case .integer(let value)? = effective(key, project: project, group: group)?.value { return value }
        return nil
    }

    /// The effective text (or choice) for `key`.
    public func string(_ key: String, project: Project? = nil, group: String? = nil) -> String? {
        if case .string(let value)? = effective(key, project: project, group: group)?.value { return value }
        return nil
    }

    /// The effective list for `key`.
    public func list(_ key: String, project: Project? = nil, group: String? = nil) -> [String]? {
        if case .list(let value)? = effective(key, project: project, group: group)?.value { return value }
        return nil
    }

    public func effectiveAll(project: Project? = nil, group: String? = nil) -> [(key: String, value: SettingValue, level: SettingLevel)] {
        var keys: Set<String> = []
        for level in Settings.chain(project: project, group: group) { keys.formUnion(values(at: level).keys) }
        return keys.sorted().compactMap { key in effective(key, project: project, group: group).map { (key, $0.value, $0.level) } }
    }

    /// Sets a key at a level from its text form (checked against the schema; a keybinding whose
    /// chord another action of the same context already has at that level is refused, both named).
    public mutating func set(_ key: String, text: String, at level: SettingLevel) throws {
        let value = try SettingSchema.parse(key, text)
        var current = values(at: level)
        if let binding = Keybinding(key: key), case .string(let chord) = value {
            for (otherKey, otherValue) in current where otherKey != key {
                guard let other = Keybinding(key: otherKey), other.context == binding.context,
                      case .string(let otherChord) = otherValue, otherChord == chord else { continue }
                throw HomeConfigError(.conflict, "\(chord) is already \(other.action) in context \(binding.context) (\(level)); "
                                    + "\(binding.action) cannot have it too: unset \(otherKey) first or choose another chord")
            }
        }
        current[key] = value
        store(current, at: level)
    }

    /// Removes a key from a level; false when it was not set there.
    @discardableResult
    public mutating func unset(_ key: String, at level: SettingLevel) -> Bool {
        var current = values(at: level)
        guard current.removeValue(forKey: key) != nil else { return false }
        store(current, at: level)
        return true
    }

    /// Replaces a whole level (profile imports).
    public mutating func replace(_ values: [String: SettingValue], at level: SettingLevel) {
        store(values, at: level)
    }

    private mutating func store(_ values: [String: SettingValue], at level: SettingLevel) {
        switch level {
        case .global: global = values
        case .group(let name): groups[name] = values.isEmpty ? nil : values
        case .project(let name): projects[name] = values.isEmpty ? nil : values
        case .builtIn: break
        }
    }
}
