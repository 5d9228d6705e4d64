import AgorCLI
import ArgumentParser
import Bus
import BtmsgAPI
import Foundation

/// `btmsg`: messaging for people and agents from a shell. The caller is the owner of the key
/// (`--key`, else `$AGOR_KEY`, else the home's operator key); the service checks every right.
@main
struct Btmsg: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "btmsg",
        abstract: "Messages, channels and presence for people and agents (agor).",
        discussion: "Ids print as 8-character prefixes ([1e5327fa]) and are accepted back as any unambiguous prefix among the messages you may see. Channels are named without '#'. Every command takes --json. Errors: one line on stderr and a non-zero exit: 2 bad input, 3 not allowed, 4 not found, 5 conflict, 6 service unavailable or timed out, 7 wait timed out.",
        subcommands: [Inbox.self, Read.self, Ack.self, Send.self, Reply.self, Contacts.self, History.self,
                      StatusCommand.self, WhoAmI.self, Unread.self, Notify.self, Graph.self, Feed.self, Search.self,
                      Wait.self, Watch.self, ChannelCommand.self, GroupCommand.self, DeadLetters.self,
                      Register.self, Allow.self, Heartbeat.self])
}

/// btmsg's commands share the client options; their sessions talk to the btmsg service.
typealias Common = ClientOptions
typealias Session = ServiceSession

extension ClientOptions {
    func withSession(_ body: (Session) async throws -> Void) async throws {
        try await withSession(service: BtmsgMethods.service, program: "btmsg", body)
    }

    func connect() throws -> Session { try connect(service: BtmsgMethods.service) }
}

/// Runs a command body that manages its own session, with btmsg's error reporting.
func guarded(_ body: () async throws -> Void) async throws { try await guarded(program: "btmsg", body) }
