import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import RunnerAPI

/// One agent's connections to btmsg and bttask, with that agent's key: every tool call is checked by
/// the services as this agent, exactly as its `btmsg` and `bttask` commands would be.
final class AgentConnection: Sendable {
    let client: ServiceClient
    let btmsg: RPCClient
    let bttask: RPCClient
    /// The runner, when the home has one (teams).
    let runner: RPCClient?
    /// The session this server serves, when the runner started it (AGOR_SESSION).
    let session: String?
    let timeout: Duration

    init(home: Home, keyFile: URL, timeout: Duration = .seconds(10)) throws {
        client = try ServiceClient(home: home, keyFile: keyFile)
        btmsg = try client.rpc(BtmsgMethods.service)
        bttask = try client.rpc(BttaskMethods.service)
        runner = try? client.rpc(RunnerAPI.service)
        let session = ProcessInfo.processInfo.environment["AGOR_SESSION"] ?? ""
        self.session = session.isEmpty ? nil : session
        self.timeout = timeout
    }

    func close() async {
        await btmsg.close()
        await bttask.close()
        await runner?.close()
    }

    /// Calls a method of btmsg, bttask or the runner as its effect allows (`RPCClient.call(_:_:within:)`).
    func call<Q, R>(_ method: Bus.Method<Q, R>, _ request: Q) async throws -> R {
        let rpc: RPCClient
        switch method.service {
        case BttaskMethods.service: rpc = bttask
        case RunnerAPI.service:
            guard let runner else { throw BusError.unavailable("this home has no runner") }
            rpc = runner
        default: rpc = btmsg
        }
        return try await rpc.call(method, request, within: timeout)
    }

    /// Who this agent is (name, role, groups), asked of btmsg.
    func whoami() async throws -> Agor_Btmsg_V1_WhoAmIReply {
        try await call(BtmsgMethods.whoami, Agor_Btmsg_V1_Empty())
    }

    /// Waits until a message for this agent arrives (a direct message to it, or a post in a channel
    /// by someone else) or `timeout` passes: pushed by btmsg's event stream, never polled. The
    /// streams' heads are taken before `ready` looks (at the inbox, say), and the wait follows the
    /// streams from those heads, so a message that lands between the look and the wait still ends it.
    /// Returns whether `ready` said yes or a message arrived.
    func waitForMessage(groups: [String], me: String, timeout: Duration, ready: () async throws -> Bool) async throws -> Bool {
        var heads: [String: UInt64] = [:]
        for group in groups {
            var ask = Agor_Bus_V1_HeadsRequest()
            ask.prefix = BtmsgRules.stream(of: group)
            let reply = try await btmsg.call(BusMethods.heads, ask, options: .init(timeout: timeout, idempotent: true))
            for head in reply.heads { heads[head.stream] = head.seq }
        }
        if try await ready() { return true }
        let subscriber = try client.subscriber(BtmsgMethods.service, prefixes: groups.map(BtmsgRules.stream(of:)),
                                               start: .cursors(heads), replay: btmsg, endsWhenRefused: true)
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in subscriber.events where event.type == "message.created" {
                    guard let body = try? Agor_Btmsg_V1_Event(serializedBytes: event.body),
                          case .messageCreated(let message)? = body.change else { continue }
                    if message.sender != me && (message.recipient == me || !message.channelID.isEmpty) { return true }
                }
                return false
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            // Ends the event loop (its iterator does not watch for cancellation).
            await subscriber.close()
            return first
        }
    }
}
