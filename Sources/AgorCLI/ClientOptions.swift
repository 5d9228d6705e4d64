import ArgumentParser
import Bus
import Foundation

/// The options every command of a service's command line shares.
public struct ClientOptions: ParsableArguments {
    @Option(help: "The agor home (default: $AGOR_HOME, else $HOME/.local/share/agor).") public var home: String?
    @Option(help: "Secret key file (default: $AGOR_KEY, else the home's operator key).") public var key: String?
    @Flag(help: "Print JSON (one object per line for streams).") public var json = false
    @Option(help: "Seconds to wait for the service.") public var timeout: Double = 10

    public init() {}

    public var resolvedHome: Home { Home.resolve(home) }

    /// Runs `body` with a session to `service`; every error becomes one stderr line and an exit status.
    public func withSession(service: String, program: String, _ body: (ServiceSession) async throws -> Void) async throws {
        try await guarded(program: program) {
            let session = try connect(service: service)
            do {
                try await body(session)
                await session.close()
            } catch {
                await session.close()
                throw error
            }
        }
    }

    public func connect(service: String) throws -> ServiceSession {
        let home = resolvedHome
        guard home.isInitialized else { throw Failure(.badInput, "no agor home at \(home.root.path) (set AGOR_HOME or run `agor init`)") }
        do {
            let client = try ServiceClient(home: home, keyFile: home.clientKeyFile(explicit: key))
            return ServiceSession(client: client, rpc: try client.rpc(service), timeout: .milliseconds(Int64(timeout * 1000)), json: json)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(.badInput, "\(error)")
        }
    }
}

/// One connection to a service for one command.
public struct ServiceSession: Sendable {
    public let client: ServiceClient
    public let rpc: RPCClient
    public let timeout: Duration
    public let json: Bool

    /// Calls `method`: a read is asked once; a change keeps one client request id for every
    /// attempt, so a retry is applied once.
    public func call<Q, R>(_ method: Method<Q, R>, _ request: Q) async throws -> R {
        try await rpc.call(method, request, within: timeout)
    }

    public func close() async { await rpc.close() }
}
