import AgorKit
import ArgumentParser
import Bus
import Foundation
import HomeConfig

/// `agor settings get/set/unset/list`: the settings cascade in the home's settings.toml.
struct SettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "Settings at three levels (global, group, project); the most specific wins.",
        discussion: "Keys: \(SettingSchema.summary)",
        subcommands: [Get.self, Set.self, Unset.self, List.self])

    /// Where a command reads or writes: a project, a group, or (neither) global.
    struct Scope: ParsableArguments {
        @Option(help: "A project (its group's and the global settings apply below it).") var project: String?
        @Option(help: "A group.") var group: String?

        /// The project and group named, checked against projects.toml and the directory.
        func resolve(_ home: Home) throws -> (project: Project?, group: String?, level: SettingLevel) {
            guard project == nil || group == nil else { throw fail("name a --project or a --group, not both", code: 2) }
            if let project {
                let projects: [Project]
                do { projects = try Projects.load(from: home) } catch { throw fail("\(error)", code: 2) }
                guard let found = projects.first(where: { $0.name == project }) else {
                    throw fail("no project \(project); add it with `agor project add`", code: 4)
                }
                return (found, nil, .project(found.name))
            }
            if let group {
                guard Directory(folder: home.directoryFolder).groups.contains(group) else {
                    throw fail("no group \(group); create it with `agor group add \(group)`", code: 4)
                }
                return (nil, group, .group(group))
            }
            return (nil, nil, .global)
        }
    }

    static func load(_ home: Home) throws -> Settings {
        do { return try Settings.load(from: home) } catch { throw fail("\(error)", code: 2) }
    }

    static func exitCode(_ error: HomeConfigError) -> Int32 {
        switch error.code {
        case .conflict: 5
        case .unknownKey, .badValue, .badFile: 2
        case .locked, .missing, .badName, .sealing: 1   // the vault's, not thrown by settings
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a key's effective value and the level it came from.")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var scope: Scope
        @Flag(help: "Print JSON: {\"key\", \"value\", \"level\"}.") var json = false
        @Argument var key: String

        func run() async throws {
            let home = homeOption.resolved
            let (project, group, _) = try scope.resolve(home)
            guard SettingSchema.isKnown(key) else { throw fail("unknown setting \(key.prefix(80)); known: \(SettingSchema.summary)", code: 2) }
            guard let found = try SettingsCommand.load(home).effective(key, project: project, group: group) else {
                throw fail("\(key) is not set at any level and has no default", code: 4)
            }
            if json {
                let object: [String: Any] = ["key": key, "value": found.value.jsonValue, "level": found.level.description]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print("\(key) = \(found.value)\t(\(found.level))")
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a key at a level (global unless --group or --project).")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var scope: Scope
        @Argument var key: String
        @Argument var value: String

        func run() async throws {
            let home = homeOption.resolved
            let level = try scope.resolve(home).level
            var settings = try SettingsCommand.load(home)
            do {
                try settings.set(key, text: value, at: level)
                try settings.save(to: home)
            } catch let error as HomeConfigError {
                throw fail(error.message, code: SettingsCommand.exitCode(error))
            } catch { throw fail("\(error)") }
            print("\(key) = \(settings.values(at: level)[key]?.description ?? value)\t(\(level))")
        }
    }

    struct Unset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key from a level (the next level's value applies again).")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var scope: Scope
        @Argument var key: String

        func run() async throws {
            let home = homeOption.resolved
            let level = try scope.resolve(home).level
            var settings = try SettingsCommand.load(home)
            guard settings.unset(key, at: level) else { throw fail("\(key) is not set at \(level)", code: 4) }
            do { try settings.save(to: home) } catch { throw fail("\(error)") }
            print("\(key) unset at \(level)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every effective setting for a scope, with its level.")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var scope: Scope

        func run() async throws {
            let home = homeOption.resolved
            let (project, group, _) = try scope.resolve(home)
            for item in try SettingsCommand.load(home).effectiveAll(project: project, group: group) {
                print("\(item.key) = \(item.value)\t(\(item.level))")
            }
        }
    }
}
