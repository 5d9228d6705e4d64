import BtmsgAPI
import Bus
import Foundation
import GRDB
import HomeConfig
import Logging
import RunnerAPI
import Synchronization

/// Wake on message: a btmsg message to an agent (direct, or in a channel it may read) becomes a
/// user turn of that agent's session, pushed by btmsg's event stream (never a timer).
///
/// One task follows every group's stream (the runner is a delegate of btmsg) and does all the work
/// in order: it decides who each `message.created` is for, queues it per agent, and delivers an
/// agent's queue as one turn when its session can take one: written into a Claude session that is
/// idle, else by resuming the agent's latest session once its process has ended (Claude `--resume`,
/// Codex `exec resume`); with the policy `start`, an agent with no session gets a new one.
///
/// None is delivered twice, none is lost across a restart: a delivery is a `message.delivered` event
/// on the session's stream, stored in the same transaction as the agent's cursor (`wake_cursors`:
/// every event of that btmsg stream up to `seq` is settled for the agent). A restart follows each
/// stream again from the lowest cursor and skips, per agent, what its cursor already covers.
final class WakeState: Sendable {
    struct Pending: Sendable {
        let messageId: String
        let line: String
        let stream: String
        let seq: UInt64
    }

    enum Input: Sendable {
        case event(BusEvent)
        /// Something changed for this agent's sessions (a turn ended, a session ended): try again.
        case attention(String)
    }

    let inputs: AsyncStream<Input>
    let feed: AsyncStream<Input>.Continuation
    /// Owned by the router's task alone; locked only because the class is shared.
    let pending = Mutex<[String: [Pending]]>([:])
    /// Cursors as stored: (agent, stream) -> seq; agent "*" for the router's own progress.
    let cursors = Mutex<[String: [String: UInt64]]>([:])
    /// At most this many messages wait per agent; older ones are left to its btmsg inbox.
    static let maxQueued = 200
    /// Messages left out of an agent's queue since its last delivery.
    let dropped = Mutex<[String: Int]>([:])
    /// When the runner first followed btmsg: older messages are history, not news.
    let began = Mutex<Int64>(0)
    /// Sessions that were given a turn and have not finished it yet.
    let awaitingTurn = Mutex<Set<String>>([])

    init() {
        (inputs, feed) = AsyncStream<Input>.makeStream()
    }

    func cursor(_ agent: String, _ stream: String) -> UInt64? { cursors.withLock { $0[agent]?[stream] } }
}

extension RunnerService {
    static let allStreams = "*"

    /// The agent's policy: its own (`agor session policy`), else the setting `runner.on_message`
    /// of the agent's group (default wake).
    func wakePolicy(of agent: String) async -> (policy: String, source: String) {
        if let own = try? await runtime.database.read({ db in
            try String.fetchOne(db, sql: "SELECT policy FROM wake_policies WHERE agent = ?", arguments: [agent])
        }) {
            return (own, "agent")
        }
        let group = runtime.directory.principal(named: agent)?.groups.first ?? ""
        let setting = (try? Settings.load(from: home))?.string("runner.on_message", project: nil, group: group) ?? "wake"
        return (setting, "setting")
    }

    /// Follows btmsg until cancelled (a `BackgroundWork` of the runner); while btmsg cannot be
    /// reached at the start, it tries again every 5 s.
    func followMessages() async {
        while !Task.isCancelled {
            do {
                try await followMessagesOnce()
                return
            } catch {
                logger.warning("wake on message waits for btmsg", metadata: ["runner.error": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }

    private func followMessagesOnce() async throws {
        let state = wake
        let stored = try await runtime.database.read { db in
            try Row.fetchAll(db, sql: "SELECT agent, stream, seq FROM wake_cursors").map {
                (agent: $0["agent"] as String, stream: $0["stream"] as String, seq: UInt64($0["seq"] as Int64))
            }
        }
        state.cursors.withLock { table in for row in stored { table[row.agent, default: [:]][row.stream] = row.seq } }
        // Every stream from its lowest cursor; a stream without one from its first event, where only
        // messages newer than the runner's first start count (kept, so a restart keeps it).
        var start: [String: UInt64] = [:]
        for row in stored { start[row.stream] = min(start[row.stream] ?? .max, row.seq) }
        let began = try await runtime.database.write { db -> Int64 in
            if let at = try Int64.fetchOne(db, sql: "SELECT at_us FROM wake_began WHERE id = 1") { return at }
            let now = BusProtocol.nowMicros()
            try db.execute(sql: "INSERT INTO wake_began (id, at_us) VALUES (1, ?)", arguments: [now])
            return now
        }
        state.began.withLock { $0 = began }
        let btmsg = try runtime.client(of: BtmsgMethods.service)
        let subscriber = try runtime.subscriber(of: BtmsgMethods.service, prefixes: ["btmsg/"], start: .cursors(start), replay: btmsg)
        let feeder = Task {
            for await event in subscriber.events { state.feed.yield(.event(event)) }
        }
        defer { feeder.cancel() }
        await withTaskCancellationHandler {
            for await input in state.inputs {
                switch input {
                case .event(let event):
                    await route(event, btmsg: btmsg)
                    try? await settle(Self.allStreams, event.stream, event.seq)
                case .attention(let agent): await deliver(to: agent)
                }
            }
        } onCancel: {
            state.feed.finish()
        }
        await subscriber.close()
    }

    /// Decides who a btmsg event is for and queues it for them; then delivers what can go now.
    private func route(_ event: BusEvent, btmsg: RPCClient) async {
        guard event.type == "message.created", event.timestampUs >= wake.began.withLock({ $0 }),
              let body = try? Agor_Btmsg_V1_Event(serializedBytes: event.body),
              case .messageCreated(let message)? = body.change else { return }
        let directory = runtime.directory.current
        let candidates: [String]
        if !message.recipient.isEmpty {
            candidates = [message.recipient]
        } else {
            candidates = directory.byName.values.filter { $0.kind == .agent && $0.isMember(of: message.group) }.map(\.name).sorted()
        }
        var woken: [String] = []
        for agent in candidates where agent != message.sender && directory.byName[agent]?.kind == .agent {
            let settled = wake.cursor(agent, event.stream) ?? wake.cursor(Self.allStreams, event.stream) ?? 0
            guard event.seq > settled else { continue }
            guard await wakePolicy(of: agent).policy != "ignore" else {
                // Settled for it: a later policy does not bring it back after a restart.
                if wake.cursor(agent, event.stream) != nil { try? await settle(agent, event.stream, event.seq) }
                continue
            }
            // Read as the agent: the body, and whether it may read it at all (channel membership).
            var ref = Agor_Btmsg_V1_MessageRef()
            ref.id = message.id
            guard let full = try? await btmsg.call(BtmsgMethods.get, ref, options: .init(timeout: .seconds(10), idempotent: true, onBehalfOf: agent)) else {
                continue
            }
            let line = full.channelName.isEmpty
                ? "new message from \(full.sender): \(full.body)"
                : "new message from \(full.sender) in #\(full.channelName): \(full.body)"
            if wake.cursor(agent, event.stream) == nil {
                // From here on the agent's own cursor says what is settled for it.
                try? await settle(agent, event.stream, event.seq - 1)
            }
            wake.pending.withLock { queues in
                queues[agent, default: []].append(.init(messageId: full.id, line: line, stream: event.stream, seq: event.seq))
                // Bounded: an agent nothing can wake keeps its newest messages queued here; the older
                // ones stay in its btmsg inbox, and the turn says so.
                if queues[agent]!.count > WakeState.maxQueued {
                    queues[agent]!.removeFirst(queues[agent]!.count - WakeState.maxQueued)
                    wake.dropped.withLock { $0[agent, default: 0] += 1 }
                }
            }
            woken.append(agent)
        }
        for agent in woken { await deliver(to: agent) }
    }

    /// Delivers an agent's queue as one turn, if its session can take one now.
    private func deliver(to agent: String) async {
        let queue = wake.pending.withLock { $0[agent] ?? [] }
        guard !queue.isEmpty else { return }
        let left = wake.dropped.withLock { $0[agent] ?? 0 }
        let text = queue.map(\.line).joined(separator: "\n")
            + (left > 0 ? "\n(and \(left) earlier message(s) in your btmsg inbox)" : "")
        let newest = live.withLock { $0.values.filter { $0.record.withLock { $0.agent } == agent } }
            .max { $0.record.withLock { $0.createdUs } < $1.record.withLock { $0.createdUs } }
        if let session = newest {
            // A live session takes a turn on stdin when it is idle; anything else waits for its turn
            // or its end (a `.attention` then comes back here).
            guard session.turnsOnStdin, session.health.withLock({ $0.state }) == .idle,
                  !wake.awaitingTurn.withLock({ $0.contains(session.id) }),
                  let process = session.process.withLock({ $0 }) else { return }
            do {
                try await recordDelivery(queue, text: text, to: agent, session: session)
                wake.awaitingTurn.withLock { _ = $0.insert(session.id) }
                _ = process.write(ClaudeAdapter.userTurn(text, sessionId: session.id))
            } catch {
                logger.error("message not delivered", metadata: ["runner.agent": "\(agent)", "runner.error": "\(error)"])
            }
            return
        }
        // No live session: resume the latest one, or (policy start) start one.
        let latest = try? await runtime.database.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM sessions WHERE agent = ? ORDER BY created_us DESC LIMIT 1", arguments: [agent])
                .flatMap { try? Agor_Runner_V1_Session(serializedBytes: $0) }
        }
        do {
            if let latest, latest.state != .interrupted, ["claude", "codex"].contains(latest.provider) {
                try await resume(latest, withTurn: text) { session in try await self.recordDelivery(queue, text: text, to: agent, session: session) }
            } else if latest == nil, await wakePolicy(of: agent).policy == "start" {
                try await startForMessage(agent: agent, text: text, queue: queue)
            }
        } catch {
            logger.error("message not delivered", metadata: ["runner.agent": "\(agent)", "runner.error": "\(error)"])
        }
    }

    /// Stores `message.delivered` on the session's stream and moves the agent's cursors, in one
    /// transaction; then the queue is empty.
    func recordDelivery(_ queue: [WakeState.Pending], text: String, to agent: String, session: LiveSession) async throws {
        var delivered = Agor_Runner_V1_MessageDelivered()
        delivered.messageIds = queue.map(\.messageId).filter { !$0.isEmpty }
        delivered.text = text
        delivered.stream = queue.last { !$0.stream.isEmpty }?.stream ?? ""
        delivered.seq = queue.last { !$0.stream.isEmpty }?.seq ?? 0
        var event = AgentEvent()
        event.messageDelivered = delivered
        // Team notes (a child's end) come from no btmsg stream and move no cursor.
        let highest = queue.filter { !$0.stream.isEmpty }.reduce(into: [String: UInt64]()) { $0[$1.stream] = max($0[$1.stream] ?? 0, $1.seq) }
        try await store(session, [event]) { db in
            for (stream, seq) in highest { try Self.saveCursor(db, agent: agent, stream: stream, seq: seq) }
        }
        wake.cursors.withLock { table in for (stream, seq) in highest { table[agent, default: [:]][stream] = seq } }
        wake.dropped.withLock { $0[agent] = nil }
        let done = Set(queue.map(\.messageId)), notes = Set(queue.filter { $0.messageId.isEmpty }.map(\.line))
        wake.pending.withLock { $0[agent]?.removeAll { done.contains($0.messageId) && !$0.messageId.isEmpty || notes.contains($0.line) } }
    }

    private func settle(_ agent: String, _ stream: String, _ seq: UInt64) async throws {
        guard (wake.cursor(agent, stream) ?? 0) < seq || wake.cursor(agent, stream) == nil else { return }
        try await runtime.database.write { db in try Self.saveCursor(db, agent: agent, stream: stream, seq: seq) }
        wake.cursors.withLock { $0[agent, default: [:]][stream] = seq }
    }

    static func saveCursor(_ db: Database, agent: String, stream: String, seq: UInt64) throws {
        try db.execute(sql: """
            INSERT INTO wake_cursors (agent, stream, seq) VALUES (?, ?, ?)
            ON CONFLICT(agent, stream) DO UPDATE SET seq = max(seq, excluded.seq)
            """, arguments: [agent, stream, Int64(seq)])
    }

    /// A session's turn ended or the session ended: its agent's queue may go now.
    func noteTurnBoundary(_ session: LiveSession, ended: Bool) {
        wake.awaitingTurn.withLock { _ = $0.remove(session.id) }
        wake.feed.yield(.attention(session.record.withLock { $0.agent }))
    }
}

extension RunnerService {
    /// Resumes an agent's ended session with `turn` as its next user turn (Claude on stdin after
    /// `--resume`, Codex as `exec resume`'s prompt). `deliver` records the delivery on the session's
    /// stream before the program starts.
    func resume(_ record: Agor_Runner_V1_Session, withTurn turn: String,
                deliver: (LiveSession) async throws -> Void) async throws {
        let limits = limits(for: record)
        guard let arguments = ProviderLaunch.resumeArguments(provider: record.provider, sessionId: record.id,
                                                            providerSessionId: record.providerSessionID, model: record.model,
                                                            extra: record.args, askApprovals: limits.askApprovals, prompt: turn),
              !record.command.isEmpty else {
            throw BusError.conflict("session \(record.id) of \(record.provider) cannot be resumed")
        }
        let session = LiveSession(record: record, turnsOnStdin: record.provider == "claude", limits: limits)
        if let spent = try? await storedTeamSpend(of: record.id) { session.team.withLock { $0 = spent } }
        live.withLock { $0[record.id] = session }
        var change = Agor_Runner_V1_StateChanged()
        change.state = .starting
        change.reason = "resumed for a new message"
        var event = AgentEvent()
        event.stateChanged = change
        session.health.withLock { _ = $0.resumeStarting() }
        do {
            try await store(session, [event])
            try await deliver(session)
            wake.awaitingTurn.withLock { _ = $0.insert(record.id) }
            try launch(session, program: record.command, extraArguments: record.args, arguments: arguments,
                       firstTurn: session.turnsOnStdin ? turn : nil)
            watchStalls()
        } catch {
            live.withLock { $0[record.id] = nil }
            try? await store(session, [.error("spawn", "\(error)", fatal: true), { var e = AgentEvent(); e.sessionFinished.exitCode = 127; return e }()])
            throw error
        }
    }

    /// Policy `start`: a new session for an agent that has none, with the provider of the setting
    /// `runner.on_message.provider` (default claude) and the message as its prompt.
    func startForMessage(agent: String, text: String, queue: [WakeState.Pending]) async throws {
        guard let principal = runtime.directory.principal(named: agent), let group = principal.groups.first else { return }
        var request = Agor_Runner_V1_StartRequest()
        request.agent = agent
        request.provider = (try? Settings.load(from: home))?.string("runner.on_message.provider", project: nil, group: group) ?? "claude"
        request.prompt = text
        // The runner starts it for the group, as an operator of that group would.
        let starter = Principal(name: RunnerService.name, kind: .service, publicKey: [], groups: [group], role: .operator_, rights: [])
        let started = try await start(request, by: starter)
        guard let session = live.withLock({ $0[started.id] }) else { return }
        wake.awaitingTurn.withLock { _ = $0.insert(started.id) }
        try await recordDelivery(queue, text: text, to: agent, session: session)
    }
}

extension RunnerService {
    static let policies = ["ignore", "wake", "start"]

    /// runner.policy: operators and managers of the agent's group set it; they and the agent read it.
    /// `default` drops the agent's own policy (the setting `runner.on_message` applies again).
    func registerPolicyMethod() {
        runtime.server.register(RunnerAPI.policy) { [self] context, request in
            guard Principal.isValidName(request.agent), let agent = runtime.directory.principal(named: request.agent), agent.kind == .agent else {
                throw BusError.notFound("no agent named \(request.agent.prefix(64)) in the directory")
            }
            let caller = context.principal
            let manages = agent.groups.contains { RunnerRules.mayManage(caller, group: $0) }
            guard manages || (caller.name == agent.name && request.policy.isEmpty) else {
                throw BusError.forbidden("only operators and managers of \(agent.name)'s groups set its policy")
            }
            switch request.policy {
            case "":
                break
            case "default":
                try await runtime.database.write { db in try db.execute(sql: "DELETE FROM wake_policies WHERE agent = ?", arguments: [agent.name]) }
            case let policy where Self.policies.contains(policy):
                try await runtime.database.write { db in
                    try db.execute(sql: "INSERT INTO wake_policies (agent, policy) VALUES (?, ?) ON CONFLICT(agent) DO UPDATE SET policy = excluded.policy",
                                   arguments: [agent.name, policy])
                }
            default:
                throw BusError.badRequest("a policy is ignore, wake, start or default")
            }
            let (policy, source) = await wakePolicy(of: agent.name)
            var reply = Agor_Runner_V1_PolicyReply()
            reply.agent = agent.name
            reply.policy = policy
            reply.source = source
            return reply
        }
    }
}
