import AgorCLI
import ArgumentParser
import BttaskAPI
import Bus
import Foundation

/// `bttask lease`: file leases from a shell, the same calls as the MCP tools lease_* (docs/BTTASK.md
/// "File leases"). Lease ids are printed and taken back whole.
struct Lease: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "File leases: hold paths or globs of a project, exclusive (default) or shared, for a time.",
        subcommands: [Acquire.self, Renew.self, Release.self, LeaseList.self])

    struct Acquire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acquire", abstract: "Lease paths of a project: all of them or none (409 names the holder and the expiry).")
        @OptionGroup var common: ClientOptions
        @Argument(help: "The project.") var project: String
        @Argument(help: "Paths, directories (src/) or globs (src/*.swift), relative to the project.") var paths: [String] = []
        @Flag(help: "A shared lease (others' shared leases coexist); default exclusive.") var shared = false
        @Option(help: "Seconds to hold it (1-86400, default 600).") var ttl: Int32?
        @Option(help: "A task (id or prefix): the lease ends when the task is done.") var task: String?
        @Option(help: "The group, when you are in several.") var group: String?

        func run() async throws {
            try await common.withSession { session in
                guard !paths.isEmpty else { throw Failure(.badInput, "name at least one path") }
                guard (ttl ?? 1) >= 1 else { throw Failure(.badInput, "--ttl is 1 to 86400 seconds") }
                var request = Agor_Bttask_V1_LeaseRequest()
                request.project = project
                request.paths = paths
                request.exclusive = !shared
                request.ttlS = ttl ?? 0
                request.group = group ?? ""
                if let task { request.task = try await session.resolveTask(task).id }
                let reply = try await session.call(BttaskMethods.leaseAcquire, request)
                if common.json { Terminal.printJSON(reply) } else { reply.leases.forEach(LeaseOutput.line) }
            }
        }
    }

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "renew", abstract: "Extend a lease you hold.")
        @OptionGroup var common: ClientOptions
        @Argument var id: String
        @Option(help: "Seconds from now (1-86400, default 600).") var ttl: Int32?

        func run() async throws {
            try await common.withSession { session in
                guard (ttl ?? 1) >= 1 else { throw Failure(.badInput, "--ttl is 1 to 86400 seconds") }
                var ref = Agor_Bttask_V1_LeaseRef()
                ref.id = id
                ref.ttlS = ttl ?? 0
                let lease = try await session.call(BttaskMethods.leaseRenew, ref)
                if common.json { Terminal.printJSON(lease) } else { LeaseOutput.line(lease) }
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "release", abstract: "End a lease (its holder, a manager or an operator).")
        @OptionGroup var common: ClientOptions
        @Argument var id: String

        func run() async throws {
            try await common.withSession { session in
                var ref = Agor_Bttask_V1_LeaseRef()
                ref.id = id
                let lease = try await session.call(BttaskMethods.leaseRelease, ref)
                if common.json { Terminal.printJSON(lease) } else { print("released \(lease.id) (\(lease.project):\(lease.path))") }
            }
        }
    }

    struct LeaseList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Who holds what: the live leases of your groups.")
        @OptionGroup var common: ClientOptions
        @Option(help: "Only this project.") var project: String?
        @Option(help: "Only this holder.") var holder: String?
        @Option(help: "Only leases covering this path.") var path: String?
        @Option(help: "Only this group.") var group: String?

        func run() async throws {
            try await common.withSession { session in
                var request = Agor_Bttask_V1_LeaseListRequest()
                request.project = project ?? ""
                request.holder = holder ?? ""
                request.path = path ?? ""
                request.group = group ?? ""
                let reply = try await session.call(BttaskMethods.leaseList, request)
                if common.json { Terminal.printJSON(reply) } else { reply.leases.forEach(LeaseOutput.line) }
            }
        }
    }
}

enum LeaseOutput {
    /// `ID  project:path  exclusive|shared  holder  until TIME [task [abcd1234]]`.
    static func line(_ lease: Agor_Bttask_V1_Lease) {
        let until = Date(timeIntervalSince1970: Double(lease.expiresUs) / 1e6).formatted(.iso8601)
        print("\(lease.id)  \(lease.project):\(lease.path)  \(lease.exclusive ? "exclusive" : "shared")  \(lease.holder)  until \(until)"
              + (lease.task.isEmpty ? "" : "  task \(Terminal.short(lease.task))"))
    }
}
