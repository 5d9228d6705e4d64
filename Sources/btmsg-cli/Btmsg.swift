import AgorKit
import ArgumentParser
import Bus
import Foundation
import btmsg

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

/// Options every command shares.
struct Common: ParsableArguments {
    @Option(help: "The agor home (default: $AGOR_HOME, else $HOME/.local/share/agor).") var home: String?
    @Option(help: "Secret key file (default: $AGOR_KEY, else the home's operator key).") var key: String?
    @Flag(help: "Print JSON (one object per line for streams).") var json = false
    @Option(help: "Seconds to wait for the service.") var timeout: Double = 10

    var resolvedHome: Home { Home.resolve(home) }

    /// Runs `body` with a session to the service; every error becomes one stderr line and an exit status.
    func withSession(_ body: (Session) async throws -> Void) async throws {
        try await guarded {
            let session = try connect()
            do {
                try await body(session)
                await session.close()
            } catch {
                await session.close()
                throw error
            }
        }
    }

    func connect() throws -> Session {
        let home = resolvedHome
        guard home.isInitialized else { throw Failure(.badInput, "no agor home at \(home.root.path) (set AGOR_HOME or run `agor init`)") }
        do {
            let client = try ServiceClient(home: home, keyFile: home.clientKeyFile(explicit: key))
            return Session(client: client, rpc: try client.rpc(BtmsgService.name), timeout: .milliseconds(Int64(timeout * 1000)), json: json)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(.badInput, "\(error)")
        }
    }
}

/// A refusal or failure, printed as one line on stderr with its exit status.
struct Failure: Error {
    enum Kind: Int32 { case general = 1, badInput = 2, forbidden = 3, notFound = 4, conflict = 5, unavailable = 6 }
    let kind: Kind
    let message: String
    init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }

    init(_ error: BusError) {
        switch error.errorCode {
        case .badRequest, .tooLarge, .unsupportedVersion: kind = .badInput
        case .unauthenticated, .forbidden: kind = .forbidden
        case .notFound: kind = .notFound
        case .conflict: kind = .conflict
        case .unavailable, .timeout: kind = .unavailable
        default: kind = .general
        }
        message = error.errorCode == .timeout ? "btmsg service did not answer in time (is `agor up` running?): \(error.message)" : error.message
    }
}

/// Runs a command body, turning every error into one stderr line and an exit status.
func guarded(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as Failure {
        FileHandle.standardError.write(Data("btmsg: \(failure.message)\n".utf8))
        throw ExitCode(failure.kind.rawValue)
    } catch let error as BusError {
        let failure = Failure(error)
        FileHandle.standardError.write(Data("btmsg: \(failure.message)\n".utf8))
        throw ExitCode(failure.kind.rawValue)
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("btmsg: \(error)\n".utf8))
        throw ExitCode(1)
    }
}
