import AgentRunner
import AgorKit
import ArgumentParser
import Bus
import Foundation
import HomeConfig
import Logging

@main
struct Agor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agor",
        abstract: "The agor home, its people, agents and services.",
        subcommands: [Init.self, Up.self, Status.self, Serve.self, GroupCommand.self, AgentCommand.self, Revoke.self, SessionCommand.self, DiagCommand.self, UserCommand.self, ProjectCommand.self, SettingsCommand.self, VaultCommand.self, ProfileCommand.self, Down.self, Logs.self, BackupCommand.self, RestoreCommand.self, OllamaChatCommand.self, MCPCommand.self])
}

struct HomeOption: ParsableArguments {
    @Option(name: .long, help: "The agor home (default: $AGOR_HOME, else $HOME/.local/share/agor).")
    var home: String?

    var resolved: Home { Home.resolve(home) }
}

/// Prints a typed error the way every agor command does, and exits non-zero.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("agor: \(message)\n".utf8))
    return ExitCode(code)
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the home: config.toml, keys, the directory and the first operator. Safe to run again.")
    @OptionGroup var homeOption: HomeOption
    @Option(help: "First port of the services' endpoints (two per service).") var portBase = 9760
    @Flag(help: "Endpoints on a host named like each service (tcp://btmsg:9762), HTTP on all interfaces: one container per service (compose/).")
    var hostPerService = false

    func run() async throws {
        let home = homeOption.resolved
        let report = try HomeSetup(home: home).initialize(portBase: portBase, hostPerService: hostPerService)
        print("agor home: \(home.root.path)")
        print("  config:    \(home.configFile.path)")
        print("  keys:      \(home.keysFolder.path)  (operator key: \(home.secretKeyFile("operator").path))")
        print("  directory: \(home.directoryFolder.path)")
        print("  data:      \(home.dataFolder.path)")
        print("  logs:      \(home.logsFolder.path)")
        print(report.created.isEmpty ? "nothing new: everything existed already" : "created: \(report.created.count) item(s)")
        for item in report.created { print("  + \(item)") }
        if let account = AgentAccount.ensure() { print(account) }
    }
}

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start every service as its own process and supervise them until Ctrl-C or SIGTERM.")
    @OptionGroup var homeOption: HomeOption
    @Flag(help: "Also run a few scripted agents in a `demo` group and print a sign-in token for the dashboard.") var demo = false

    func run() async throws {
        let home = homeOption.resolved
        guard home.isInitialized else { throw fail("no home at \(home.root.path); run `agor init` first") }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var policy = Supervisor.Policy()
        do {
            let settings = try Settings.load(from: home)
            if let seconds = settings.integer("supervisor.healthy_run_s") { policy.healthyRun = TimeInterval(seconds) }
            if let limit = settings.integer("supervisor.failure_limit") { policy.failureLimit = Int(limit) }
        } catch {
            throw fail("\(error)", code: 2)
        }
        let supervisor = try Supervisor(home: home, executable: executable, policy: policy)
        var team: Task<Void, Never>?
        if demo {
            let token: String
            do { token = try DemoScript.prepare(home: home) } catch { throw fail("demo: \(error)") }
            team = Task {
                // Once the Gateway answers: say where to look, then let the team work.
                let client = try? ServiceClient(home: home, keyFile: home.secretKeyFile("operator"))
                for _ in 0..<120 where await client?.ping("gateway", timeout: .milliseconds(500)) == nil {
                    try? await Task.sleep(for: .milliseconds(500))
                }
                let address = (try? BusConfig.load(from: home.configFile).service("gateway")?.http?.description) ?? "127.0.0.1:9750"
                print("agor up --demo: open http://\(address)/ and sign in as \(DemoScript.person) with this token:")
                print(token)
                fflush(nil)
                await DemoScript.run(home: home) { print($0) }
            }
        }
        _ = await supervisor.run()
        team?.cancel()
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each service: pid, uptime, restarts, endpoint. Exits 0 only when every service answers.")
    @OptionGroup var homeOption: HomeOption
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Secret key file to ask with (default: $AGOR_KEY, else the home's operator key).") var key: String?
    @Option(help: "Only this service (for health checks: exit 0 when it answers).") var service: String?

    func run() async throws {
        let home = homeOption.resolved
        guard home.isInitialized else { throw fail("no home at \(home.root.path); run `agor init` first") }
        let client: ServiceClient
        do { client = try ServiceClient(home: home, keyFile: home.clientKeyFile(explicit: key)) } catch { throw fail("\(error)") }
        let state = UpState.read(home)
        struct Row: Codable { var name: String; var pid: Int32; var answers: Bool; var uptime_ms: Int64?; var restarts: Int; var state: String; var rpc: String; var pub: String }
        var rows: [Row] = []
        // One named service may be any entry of config.toml; all of them means the ones `agor up` runs.
        let services = self.service.map { only in client.config.services.filter { $0.name == only } }
            ?? ServiceCatalog.supervised(in: client.config)
        if let only = self.service, services.isEmpty { throw fail("no service \(only) in \(home.configFile.path)", code: 2) }
        for service in services {
            let recorded = state?.services.first { $0.name == service.name }
            let ping = await client.ping(service.name)
            rows.append(Row(name: service.name, pid: ping?.pid ?? recorded?.pid ?? 0, answers: ping != nil,
                            uptime_ms: ping?.uptimeMs, restarts: recorded?.restarts ?? 0,
                            state: recorded?.state ?? (ping != nil ? "running" : "not running"),
                            rpc: service.rpc, pub: service.pub))
        }
        let allAnswer = !rows.isEmpty && rows.allSatisfy(\.answers)
        if json {
            struct Report: Codable { var home: String; var supervisor_pid: Int32?; var all_answer: Bool; var services: [Row] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(Report(home: home.root.path, supervisor_pid: state?.supervisorPid, all_answer: allAnswer, services: rows))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("home: \(home.root.path)" + (state.map { "  (agor up pid \($0.supervisorPid))" } ?? "  (agor up is not running)"))
            let cells = rows.map { row in
                [row.name, "\(row.pid)", row.answers ? "yes" : "no", row.uptime_ms.map { String(format: "%.1fs", Double($0) / 1000) } ?? "-",
                 "\(row.restarts)", row.rpc]
            }
            for line in alignedRows([["SERVICE", "PID", "ANSWERS", "UPTIME", "RESTARTS", "RPC"]] + cells) { print(line) }
        }
        if !allAnswer { throw ExitCode(1) }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one service in this process (what `agor up` starts).")
    @OptionGroup var homeOption: HomeOption
    @Argument(help: "The service: \(ServiceCatalog.names.joined(separator: ", ")).") var service: String

    func run() async throws {
        let home = homeOption.resolved
        let logMaxBytes = (try? BusConfig.load(from: home.configFile).logMaxBytes) ?? (10 << 20)
        LoggingSystem.bootstrap(FileLogHandler.factory(file: home.logFile(service), echoToStderr: isatty(2) != 0, maxBytes: Int(logMaxBytes)))
        do {
            try await ServiceLauncher.serve(service, home: home)
        } catch {
            throw fail("\(service): \(error)")
        }
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Manage groups.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group.")
        @OptionGroup var homeOption: HomeOption
        @Argument var name: String
        func run() async throws {
            do {
                let created = try HomeSetup(home: homeOption.resolved).addGroup(name)
                print(created ? "group \(name) created" : "group \(name) exists already")
            } catch { throw fail("\(error)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups.")
        @OptionGroup var homeOption: HomeOption
        func run() async throws {
            for group in Directory(folder: homeOption.resolved.directoryFolder).groups { print(group) }
        }
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Manage agents.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an agent: its key pair and certificate. Prints the AGOR_KEY line for its environment.")
        @OptionGroup var homeOption: HomeOption
        @Argument var name: String
        @Option(help: "The agent's group.") var group: String
        @Option(help: "operator (admin), manager, architect, tester, reviewer, worker (project).") var role = "worker"

        func run() async throws {
            guard let role = Role(name: role) else {
                throw fail("unknown role \(self.role); roles: operator (admin), manager, architect, tester, reviewer, worker (project)")
            }
            do {
                let keyFile = try HomeSetup(home: homeOption.resolved).addAgent(name: name, group: group, role: role)
                print("agent \(name) added to \(group) as \(role.rawValue)")
                print("AGOR_KEY=\(keyFile.path)")
            } catch { throw fail("\(error)") }
        }
    }
}

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End a principal's access at once: its key is refused from the next connection and request.")
    @OptionGroup var homeOption: HomeOption
    @Argument var name: String
    @Option(help: "Why (kept with the revoked certificate).") var reason = "revoked by operator"

    func run() async throws {
        do {
            try HomeSetup(home: homeOption.resolved).revoke(name: name, reason: reason)
            print("\(name) revoked")
        } catch { throw fail("\(error)") }
    }
}
