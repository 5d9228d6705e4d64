import AgorKit
import ArgumentParser
import Bus
import Foundation

/// `agor user add` and `agor user token`: people who use the Gateway (browsers, dashboards, scripts).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage people (Gateway sign-in).", subcommands: [Add.self, Token.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a person and print their bearer token once, alone on the last line (only its hash is kept).")
        @OptionGroup var homeOption: HomeOption
        @Argument var name: String
        @Option(help: "The person's group (created when it does not exist yet).") var group: String
        @Option(help: "operator (admin), manager, architect, tester, reviewer, worker (project).") var role = "worker"
        @Flag(help: "Also keep a CURVE key pair for the person's own CLI use (keys/NAME.key).") var key = false

        func run() async throws {
            guard let role = Role(name: role) else {
                throw fail("unknown role \(self.role); roles: operator (admin), manager, architect, tester, reviewer, worker (project)")
            }
            do {
                let user = try HomeSetup(home: homeOption.resolved).addUser(name: name, group: group, role: role, writeKey: key)
                if user.groupCreated { print("group \(group) created") }
                print("person \(name) added to \(group) as \(role.rawValue)")
                if let keyFile = user.keyFile { print("AGOR_KEY=\(keyFile.path)") }
                print("token (shown once; sign in with it on the dashboard, or send Authorization: Bearer TOKEN):")
                print(user.token)
            } catch { throw fail("\(error)") }
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new bearer token for a person, alone on the last line; the old one and its sign-ins stop working.")
        @OptionGroup var homeOption: HomeOption
        @Argument var name: String

        func run() async throws {
            do {
                let token = try HomeSetup(home: homeOption.resolved).newToken(for: name)
                print("new token for \(name) (shown once; the old one no longer signs in):")
                print(token)
            } catch { throw fail("\(error)") }
        }
    }
}
