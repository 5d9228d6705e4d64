import AgentRunner
import AgorCLI
import AgorKit
import ArgumentParser
import Bus
import Foundation
import HomeConfig
import RunnerAPI

/// `agor project add/list/remove`: the home's projects.toml.
struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "project", abstract: "Manage projects (a group's folder, for editor clients).",
                                                    subcommands: [Add.self, List.self, Remove.self, Untrack.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a project: its group and root folder.")
        @OptionGroup var homeOption: HomeOption
        @Argument var name: String
        @Option(help: "The group whose members may use it.") var group: String
        @Option(help: "The project's root folder (must exist).") var root: String

        func run() async throws {
            let home = homeOption.resolved
            guard Principal.isValidName(name) else { throw fail("project names use letters, digits, '-', '_' and '.' (at most 64): \(name)", code: 2) }
            guard Directory(folder: home.directoryFolder).groups.contains(group) else {
                throw fail("no group \(group); create it with `agor group add \(group)`", code: 2)
            }
            var isFolder: ObjCBool = false
            let path = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                throw fail("\(root) is not a folder", code: 2)
            }
            do {
                var projects = try Projects.load(from: home)
                guard !projects.contains(where: { $0.name == name }) else { throw fail("a project named \(name) exists already", code: 5) }
                projects.append(Project(name: name, group: group, root: path))
                try Projects.save(projects, to: home)
                print("project \(name) (\(group)) at \(path)")
            } catch let exit as ExitCode { throw exit } catch { throw fail("\(error)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the projects.")
        @OptionGroup var homeOption: HomeOption

        func run() async throws {
            do {
                for project in try Projects.load(from: homeOption.resolved) { print("\(project.name)\t\(project.group)\t\(project.root)") }
            } catch { throw fail("\(error)") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a project (its files are left alone).")
        @OptionGroup var homeOption: HomeOption
        @Argument var name: String

        func run() async throws {
            do {
                var projects = try Projects.load(from: homeOption.resolved)
                guard projects.contains(where: { $0.name == name }) else { throw fail("no project \(name)", code: 4) }
                projects.removeAll { $0.name == name }
                try Projects.save(projects, to: homeOption.resolved)
                print("project \(name) removed")
            } catch let exit as ExitCode { throw exit } catch { throw fail("\(error)") }
        }
    }

    struct Untrack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a project and delete its agent sessions (their events and folders); refused while the runner does not answer.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let home = options.resolvedHome
            guard ((try? Projects.load(from: home)) ?? []).contains(where: { $0.name == name }) else {
                throw fail("no project \(name)", code: 4)
            }
            // The runner first: when it cannot delete the sessions, nothing changes.
            var deleted: Int32 = 0
            try await options.withSession(service: RunnerService.name, program: "agor project untrack") { session in
                var request = Agor_Runner_V1_UntrackRequest()
                request.project = name
                deleted = try await session.call(RunnerAPI.untrack, request).sessionsDeleted
            }
            do {
                var projects = try Projects.load(from: home)
                projects.removeAll { $0.name == name }
                try Projects.save(projects, to: home)
            } catch { throw fail("\(error)") }
            print("project \(name) untracked: \(deleted) session(s) deleted")
        }
    }
}
