import Bus
import ConfigText
import Foundation

/// The home's projects.toml: named project folders, each belonging to one group. Written by
/// `agor project add/remove`, read by the Gateway (file access for editor clients) and later by
/// the settings cascade.
public struct Project: Sendable, Equatable {
    public var name: String
    public var group: String
    /// Absolute path of the project's root folder.
    public var root: String

    public init(name: String, group: String, root: String) {
        self.name = name
        self.group = group
        self.root = root
    }
}

public enum Projects {
    public static func file(in home: Home) -> URL { home.root.appendingPathComponent("projects.toml") }

    /// The projects, sorted by name; none when the file does not exist. A malformed file or entry
    /// is a HomeError naming it.
    public static func load(from home: Home) throws -> [Project] {
        let url = file(in: home)
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let table: TOMLTable
        do { table = try TOML.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw HomeError.config(file: url.path, reason: "\(error)")
        }
        var projects: [Project] = []
        let all = table["projects"]?.table ?? TOMLTable()
        for name in all.keys {
            guard let entry = all[name]?.table, let group = entry["group"]?.string, let root = entry["root"]?.string, root.hasPrefix("/") else {
                throw HomeError.config(file: url.path, reason: "projects.\(name) needs group = \"...\" and an absolute root = \"/...\"")
            }
            projects.append(Project(name: name, group: group, root: root))
        }
        return projects.sorted { $0.name < $1.name }
    }

    public static func save(_ projects: [Project], to home: Home) throws {
        var all = TOMLTable()
        for project in projects {
            var entry = TOMLTable()
            entry["group"] = .string(project.group)
            entry["root"] = .string(project.root)
            all[project.name] = .table(entry)
        }
        var root = TOMLTable()
        root["projects"] = .table(all)
        try AtomicFile.write("# agor projects, written by `agor project add/remove`.\n\n" + TOML.write(root), to: file(in: home), mode: 0o644)
    }
}
