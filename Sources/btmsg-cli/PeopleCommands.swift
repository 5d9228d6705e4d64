import AgorCLI
import AgorKit
import ArgumentParser
import BtmsgAPI
import Bus
import Foundation

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Who your key says you are.")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            let me = try await session.call(BtmsgMethods.whoami, Agor_Btmsg_V1_Empty())
            if common.json { Terminal.printJSON(me); return }
            print("\(me.name) (\(me.kind), \(me.role)) in \(me.groups.joined(separator: ", "))"
                  + (me.rights.isEmpty ? "" : "; rights: \(me.rights.joined(separator: ", "))") + "; \(me.unread) unread")
        }
    }
}

struct Contacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Whom you may message, and why (role, contact, reply).")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            let list = try await session.call(BtmsgMethods.contacts, Agor_Btmsg_V1_Empty())
            if common.json { Terminal.printJSON(list); return }
            if list.contacts.isEmpty { print("no contacts (an operator adds them: btmsg allow <from> <to>)") }
            for c in list.contacts {
                print("\(c.online ? Terminal.paint("●", "32") : "○") \(c.name) (\(c.role)) in \(c.group) via \(c.via)")
            }
        }
    }
}

func printStatuses(_ statuses: [Agor_Btmsg_V1_PrincipalStatus]) {
    for s in statuses {
        print("\(s.online ? Terminal.paint("●", "32") : "○") \(s.name) (\(s.kind), \(s.role)) in \(s.group): last seen \(Terminal.time(s.lastSeenUs)), \(s.unread) unread")
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "People and agents of your groups: presence and unread counts.")
    @OptionGroup var common: Common
    @Option(help: "Only this group.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_StatusRequest()
            request.group = group ?? ""
            let reply = try await session.call(BtmsgMethods.status, request)
            if common.json { Terminal.printJSON(reply) } else { printStatuses(reply.principals) }
        }
    }
}

struct Graph: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Who may message whom in your groups.")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.withSession { session in
            let reply = try await session.call(BtmsgMethods.graph, Agor_Btmsg_V1_Empty())
            if common.json { Terminal.printJSON(reply); return }
            for e in reply.edges { print("\(e.from) → \(e.to) (\(e.group), \(e.via))") }
        }
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Your groups and their members.",
                                                    subcommands: [List.self, Members.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your groups.")
        @OptionGroup var common: Common
        func run() async throws {
            try await common.withSession { session in
                let reply = try await session.call(BtmsgMethods.groupList, Agor_Btmsg_V1_Empty())
                if common.json { Terminal.printJSON(reply); return }
                for g in reply.groups { print("\(g.name): \(g.members.map(\.name).joined(separator: ", "))") }
            }
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The members of one of your groups.")
        @OptionGroup var common: Common
        @Argument(help: "Group (default: your only group).") var group: String?
        func run() async throws {
            try await common.withSession { session in
                var request = Agor_Btmsg_V1_GroupMembersRequest()
                request.group = group ?? ""
                let info = try await session.call(BtmsgMethods.groupMembers, request)
                if common.json { Terminal.printJSON(info) } else { printStatuses(info.members) }
            }
        }
    }
}

struct Allow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Operators: let <from> message <to> (-b: both ways; --remove to undo).")
    @OptionGroup var common: Common
    @Argument var from: String
    @Argument var to: String
    @Flag(name: [.customShort("b"), .customLong("both")], help: "Both ways.") var both = false
    @Flag(help: "Remove the contact instead.") var remove = false
    @Option(help: "The group, when the two share several.") var group: String?

    func run() async throws {
        try await common.withSession { session in
            var request = Agor_Btmsg_V1_AllowRequest()
            request.from = from; request.to = to; request.bothWays = both; request.remove = remove; request.group = group ?? ""
            _ = try await session.call(BtmsgMethods.allow, request)
            print(common.json ? "{}" : "\(remove ? "removed" : "allowed"): \(from) \(both ? "↔" : "→") \(to)")
        }
    }
}

struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operators, on the host: create an agent (the predecessor's form of `agor agent add`).",
        discussion: "btmsg register <id> <name> <role> <group>: <id> becomes the agent's name; <name>, --tier, --model and --cwd are accepted for compatibility and not stored. Prints AGOR_KEY=<path> for the agent.")
    @OptionGroup var common: Common
    @Argument var id: String
    @Argument var name: String
    @Argument var role: String
    @Argument var group: String
    @Option var tier: Int?
    @Option var model: String?
    @Option var cwd: String?

    func run() async throws {
        try await guarded {
            let home = common.resolvedHome
            guard home.isInitialized else { throw Failure(.badInput, "no agor home at \(home.root.path)") }
            guard let parsedRole = Role(name: role) else {
                throw Failure(.badInput, "unknown role \(role) (operator/admin, manager, architect, tester, reviewer, worker/project)")
            }
            // The caller's key must be an operator's of that group: the same check the services make.
            let key = try CurveKeyPair.read(from: home.clientKeyFile(explicit: common.key))
            let directory = Directory(folder: home.directoryFolder)
            guard let caller = directory.principal(forKey: key.publicKey) else { throw Failure(.forbidden, "your key is not in the directory") }
            guard caller.role == .operator_, caller.isMember(of: group) else {
                throw Failure(.forbidden, "only an operator of group \(group) may register agents; \(caller.name) is a \(caller.role.rawValue)")
            }
            let keyFile: URL
            do { keyFile = try HomeSetup(home: home).addAgent(name: id, group: group, role: parsedRole) } catch let error as HomeError {
                throw Failure(error.code == .exists ? .conflict : error.code == .badGroup ? .notFound : .badInput, error.detail)
            }
            if common.json { print("{\"name\":\"\(id)\",\"group\":\"\(group)\",\"role\":\"\(parsedRole.rawValue)\",\"key\":\"\(keyFile.path)\"}") }
            else { print("registered \(id) (\(parsedRole.rawValue)) in \(group)\nAGOR_KEY=\(keyFile.path)") }
        }
    }
}
