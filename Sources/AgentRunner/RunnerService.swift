import Bus
import Foundation
import GRDB
import Logging
import RunnerAPI
import SwiftProtobuf
import Synchronization

/// The runner service: agent sessions on a `ServiceRuntime`. Each session is an agent program
/// started through the exec helper as an agent principal of the directory; its output becomes
/// events, each stored with its session's own sequence number (the stream
/// `runner/<group>/<session-id>`) in the same transaction as the session's record, then published.
public final class RunnerService: Sendable {
    public static let name = "runner"

    let runtime: ServiceRuntime
    let home: Home
    let logger: Logger
    /// The exec helper's path (beside the running executable, or `AGOR_EXEC_HELPER`).
    let helper: String
    let live = Mutex<[String: LiveSession]>([:])
    /// Every session's group and agent, for the subscription gate (which cannot wait on a database).
    let owners = Locked<[String: (group: String, agent: String)]>([:])
    /// Sessions this start found interrupted, resumed by `resumeInterrupted()`.
    let interrupted: [String]
    /// What each project spent today (UTC), for the daily budgets; a new day starts empty.
    let daily = Mutex<[DailySpend.Key: DailySpend]>([:])
    /// Whether the stall watch runs (only while sessions are live).
    let watching = Mutex(false)
    /// Wake on message: queues and cursors (WakeOnMessage.swift).
    let wake = WakeState()

    public static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: name, home: home) { RunnerSchema.register(in: &$0) }
        let service = try await RunnerService(runtime: runtime)
        // Retention starts once the interrupted sessions were resumed (or left), never before.
        try await runtime.run(background: [
            BackgroundWork("resume interrupted sessions") {
                await service.resumeInterrupted()
                service.keepRetention()
            },
            BackgroundWork("wake on message") { await service.followMessages() },
        ])
        service.stopAll()
    }

    public init(runtime: ServiceRuntime, helper: String? = nil) async throws {
        self.runtime = runtime
        home = runtime.home
        logger = runtime.logger
        self.helper = helper ?? RunnerService.findHelper()
        let rows = try await runtime.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, grp, agent, state FROM sessions").map {
                (id: $0["id"] as String, group: $0["grp"] as String, agent: $0["agent"] as String, state: $0["state"] as Int)
            }
        }
        owners.withLock { table in for row in rows { table[row.id] = (row.group, row.agent) } }
        let today = try await runtime.database.read { db in try DailySpend.load(day: DailySpend.day(), from: db) }
        daily.withLock { $0 = today }
        // Sessions that were running when the runner stopped are interrupted.
        let active: Set<Int> = [SessionState.starting, .running, .idle, .needsInput, .stalled].map(\.rawValue).reduce(into: []) { $0.insert($1) }
        interrupted = rows.filter { active.contains($0.state) }.map(\.id)
        for id in interrupted {
            try await changeState(id, to: .interrupted, reason: "the runner stopped while the session ran")
        }
        let owners = self.owners
        runtime.publisher.restrictSubscriptions { principal, prefix in
            RunnerRules.mayRead(principal, prefix: prefix) { id in owners.withLock { $0[id] } }
        }
        runtime.publisher.serveReplay(on: runtime.server) { principal, stream in
            RunnerRules.mayRead(principal, prefix: stream) { id in owners.withLock { $0[id] } }
        }
        registerMethods()
    }

    /// The executable this runner runs from (it is also the Ollama provider's program).
    static func ownExecutable() -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }

    static func findHelper() -> String {
        if let explicit = ProcessInfo.processInfo.environment["AGOR_EXEC_HELPER"], !explicit.isEmpty { return explicit }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("agor-exec").path
    }

    /// Resumes the sessions that were running when the runner stopped, where their provider can.
    public func resumeInterrupted() async {
        for id in interrupted {
            do { try await resume(id) } catch {
                logger.error("session not resumed", metadata: ["runner.session": "\(id)", "runner.error": "\(error)"])
            }
        }
    }

    /// Stops every live session (the runner is shutting down: they become interrupted on restart).
    public func stopAll() {
        for session in live.withLock({ Array($0.values) }) { session.process.withLock { $0 }?.stop(grace: .seconds(2)) }
    }

    // MARK: storing events

    /// Applies `events` to the session's health and record and stores them, with the record, in one
    /// transaction (with `also`, when given); published after the commit. A turn's or the session's
    /// end lets wake on message deliver what waits for the agent.
    func store(_ session: LiveSession, _ events: [AgentEvent], also: (@Sendable (Database) throws -> Void)? = nil) async throws {
        if !events.isEmpty { session.lastActivity.withLock { $0 = .now } }
        var stored: [AgentEvent] = []
        var record = session.record.withLock { $0 }
        let spendKey = DailySpend.Key(day: DailySpend.day(), group: record.group, project: record.project)
        var spent = DailySpend()
        session.health.withLock { health in
            let before = (cost: health.costUSD, tokens: health.usage.inputTokens + health.usage.outputTokens)
            for var event in events {
                let change = health.apply(&event)
                if case .sessionStarted(let started) = event.kind, !started.providerSessionID.isEmpty {
                    record.providerSessionID = started.providerSessionID
                }
                if case .stateChanged(let given) = event.kind { record.stateReason = given.reason }   // the runner's own (a stall)
                if case .turnFinished(let turn) = event.kind, !turn.isError { record.resumesFailed = 0 }
                InProcessAgents.track(event, in: &record)
                if case .sessionFinished(let end) = event.kind {
                    record.exitCode = end.exitCode
                    record.signal = end.signal
                }
                // The state change follows its event, except at the end: `session.finished` is last.
                if event.typeName == "session.finished" { if let change { stored.append(change) } }
                stored.append(event)
                if let change {
                    record.stateReason = change.stateChanged.reason
                    if event.typeName != "session.finished" { stored.append(change) }
                }
            }
            spent = DailySpend(costUSD: max(0, health.costUSD - before.cost),
                               tokens: max(0, health.usage.inputTokens + health.usage.outputTokens - before.tokens),
                               turns: Int64(events.filter { if case .turnFinished = $0.kind { true } else { false } }.count))
            let today = daily.withLock { totals in
                if !spent.isZero { totals[spendKey, default: DailySpend()] += spent }
                return totals[spendKey] ?? DailySpend()
            }
            if let reason = session.budgetReason(after: events, health: health, today: today), let pause = health.pause(reason) {
                record.stateReason = reason
                stored.append(pause)
            }
            record.turns = session.budget.withLock { $0.turns }
            record.state = health.state
            record.toolsInFlight = health.toolsInFlight
            record.pendingApprovals = health.pendingApprovals
            record.usage = health.usage
            record.costUsd = health.costUSD
        }
        // A team member's spending counts against its ancestors' limits too.
        if !spent.isZero, let reason = chargeAncestors(of: record, spent), session.budget.withLock({ state in
            defer { state.paused = true }
            return !state.paused
        }) {
            session.health.withLock { health in
                if let pause = health.pause(reason) {
                    record.stateReason = reason
                    record.state = health.state
                    stored.append(pause)
                }
            }
        }
        record.updatedUs = BusProtocol.nowMicros()
        let wasIdle = session.record.withLock { $0.state } == .idle
        let final = try await write(record, stored, spent: spent.isZero ? nil : (spendKey, spent), also: also)
        session.record.withLock { $0 = final }
        // A turn ended, or the session became idle (a resumed session waiting for its turn).
        if events.contains(where: { $0.typeName == "turn.finished" }) || (final.state == .idle && !wasIdle) {
            noteTurnBoundary(session, ended: false)
        }
    }

    /// Appends `events` to the session's stream and saves its record in one transaction.
    func write(_ record: Agor_Runner_V1_Session, _ events: [AgentEvent], spent: (DailySpend.Key, DailySpend)? = nil,
               also: (@Sendable (Database) throws -> Void)? = nil) async throws -> Agor_Runner_V1_Session {
        try await runtime.publisher.write { db, writer in
            var record = record
            if let (key, delta) = spent { try DailySpend.add(delta, to: key, in: db) }
            try also?(db)
            for event in events {
                let appended = try writer.append(stream: record.stream, type: event.typeName, body: try event.serializedBytes())
                record.lastSeq = appended.seq
            }
            try db.execute(sql: """
                INSERT INTO sessions (id, grp, agent, provider, project, state, created_us, updated_us, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_us = excluded.updated_us, record = excluded.record
                """, arguments: [record.id, record.group, record.agent, record.provider, record.project, record.state.rawValue,
                                 record.createdUs, record.updatedUs, Data(try record.serializedBytes() as [UInt8])])
            return record
        }
    }

    /// A stored session's record, or nil.
    func record(_ id: String) async throws -> Agor_Runner_V1_Session? {
        try await runtime.database.read { db in
            guard let data = try Data.fetchOne(db, sql: "SELECT record FROM sessions WHERE id = ?", arguments: [id]) else { return nil }
            return try Agor_Runner_V1_Session(serializedBytes: data)
        }
    }

    /// Once a second while sessions are live: a session silent past its project's stall threshold
    /// (or, while tools run, past its tool timeout) becomes `stalled`; its next output makes it
    /// running again. An idle one past the idle timeout has its input closed (it finishes). The
    /// watch ends when no session is live.
    func watchStalls() {
        let start = watching.withLock { running -> Bool in
            defer { running = true }
            return !running
        }
        guard start else { return }
        Task { [self] in
            while true {
                try? await Task.sleep(for: .seconds(1))
                let sessions = live.withLock { Array($0.values) }
                if sessions.isEmpty {
                    let stop = watching.withLock { running -> Bool in
                        if live.withLock({ $0.isEmpty }) { running = false }
                        return !running
                    }
                    if stop { return }
                    continue
                }
                for session in sessions {
                    let violations = session.violations(checkingMemory: true)
                    if !violations.isEmpty {
                        session.process.withLock { $0 }?.killGroup()
                        try? await store(session, violations)
                    }
                    let silence = ContinuousClock.now - session.lastActivity.withLock { $0 }
                    // Idle past the project's idle timeout: close its input, and it finishes.
                    if let idle = session.limits.idleTimeout, silence > idle, session.health.withLock({ $0.state == .idle }) {
                        session.process.withLock { $0 }?.closeInput()
                    }
                    let change = session.health.withLock {
                        $0.checkSilence(silence, threshold: session.limits.stall, toolTimeout: session.limits.toolTimeout)
                    }
                    if let change { try? await store(session, [change]) }
                }
            }
        }
    }

    /// Changes a stored session's state with an event (sessions that are not live: at start-up).
    func changeState(_ id: String, to state: SessionState, reason: String) async throws {
        guard var record = try await record(id) else { return }
        record.state = state
        record.stateReason = reason
        record.updatedUs = BusProtocol.nowMicros()
        var change = Agor_Runner_V1_StateChanged()
        change.state = state
        change.reason = reason
        var event = AgentEvent()
        event.stateChanged = change
        _ = try await write(record, [event])
    }
}

/// A session whose program runs in this process.
final class LiveSession: Sendable {
    struct Limits: Sendable {
        var stall: Duration = .seconds(300)
        var toolTimeout: Duration = .seconds(1800)
        var lineLimit = 10 << 20
        /// Per session; 0 = none.
        var maxCostCents: Int64 = 0
        var maxTokens: Int64 = 0
        var maxTurns: Int64 = 0
        /// The same tool call (name and input) this many times in a row pauses the session; 0 = off.
        var loopGuard = 5
        /// An idle session (waiting for a turn) has its input closed after this long; nil = never.
        var idleTimeout: Duration? = .seconds(3600)
        /// Per project (or group without one) per UTC day; 0 = none.
        var dailyMaxCostCents: Int64 = 0
        var dailyMaxTokens: Int64 = 0
        var dailyMaxTurns: Int64 = 0
        var sandbox = SandboxSettings()
        /// Claude asks agor before it uses a tool (`runner.approvals = ask`), or acts without asking.
        var askApprovals = true
        /// The setting model.ollama, for Ollama sessions started without a model.
        var ollamaModel: String?
    }

    let id: String
    let turnsOnStdin: Bool
    let limits: Limits
    let lastActivity = Mutex(ContinuousClock.now)
    /// Turns finished, and the last tool call with how many times in a row it came.
    let budget: Mutex<(turns: Int64, lastCall: String, repeats: Int, paused: Bool)>
    /// What its team (children, and theirs) spent: counted against this session's limits too.
    let team = Mutex(DailySpend())
    let record: Mutex<Agor_Runner_V1_Session>
    let health: Mutex<SessionHealth>
    let process = Mutex<AgentProcess?>(nil)
    /// The session's cgroups (nil: none, or not writable here: the watchdog checks its memory).
    let caps = Mutex<CgroupCaps?>(nil)
    /// The strict tier's model proxy, while the session runs.
    let proxy = Mutex<ModelProxy?>(nil)
    /// A sandbox violation was reported (once).
    let violated = Mutex(false)

    init(record: Agor_Runner_V1_Session, turnsOnStdin: Bool, limits: Limits) {
        id = record.id
        self.turnsOnStdin = turnsOnStdin
        self.limits = limits
        self.record = Mutex(record)
        budget = Mutex((turns: record.turns, lastCall: "", repeats: 0, paused: false))
        health = Mutex(SessionHealth(keepsInputOpen: turnsOnStdin))
    }

    /// Why the session must pause (a budget crossed, a tool call repeating), once; nil otherwise.
    /// Pausing puts it in `needs_input` with the reason: work is not killed, a person decides.
    func budgetReason(after events: [AgentEvent], health: SessionHealth, today: DailySpend) -> String? {
        budget.withLock { state -> String? in
            for event in events {
                if case .turnFinished = event.kind { state.turns += 1 }
                if case .toolCall(let call) = event.kind {
                    let signature = call.name + "\u{0}" + call.inputJson
                    state.repeats = signature == state.lastCall ? state.repeats + 1 : 1
                    state.lastCall = signature
                    if !state.paused && limits.loopGuard > 0 && state.repeats == limits.loopGuard {
                        state.paused = true
                        return "loop guard: the same tool call \(state.repeats) times in a row"
                    }
                }
            }
            guard !state.paused else { return nil }
            // Its own spending and its team's: a parent's limits cover its children.
            let teamSpent = team.withLock { $0 }
            var spent = teamSpent
            spent += DailySpend(costUSD: health.costUSD, tokens: health.usage.inputTokens + health.usage.outputTokens, turns: state.turns)
            var reason = crossedLimit(spent, withTeam: !teamSpent.isZero)
            let project = record.withLock { $0.project.isEmpty ? "group \($0.group)" : "project \($0.project)" }
            if reason == nil, let daily = limits.dailyReason(today, of: project) { reason = daily }
            if reason != nil { state.paused = true }
            return reason
        }
    }
}

extension LiveSession.Limits {
    /// Why the day's budget of `owner` ("project P" or "group G") is spent, or nil.
    func dailyReason(_ today: DailySpend, of owner: String) -> String? {
        if dailyMaxTurns > 0 && today.turns >= dailyMaxTurns {
            return "daily budget of \(owner): \(today.turns) turns today (limit \(dailyMaxTurns))"
        }
        if dailyMaxTokens > 0 && today.tokens >= dailyMaxTokens {
            return "daily budget of \(owner): \(today.tokens) tokens today (limit \(dailyMaxTokens))"
        }
        if dailyMaxCostCents > 0 && today.costUSD * 100 >= Double(dailyMaxCostCents) {
            return "daily budget of \(owner): $\(today.costUSD) today (limit \(dailyMaxCostCents) cents)"
        }
        return nil
    }
}

extension LiveSession {
    /// Removes what the runner held for the session's sandbox: its cgroups and its model proxy.
    func releaseSandbox() {
        caps.withLock { caps in
            caps?.remove()
            caps = nil
        }
        proxy.withLock { proxy in
            proxy?.close()
            proxy = nil
        }
    }

    /// Sandbox violations not yet reported, as fatal `sandbox_violation` errors: what the cgroups
    /// refused, or (without cgroups, `checkingMemory`) resident memory over the cap. At most once.
    func violations(checkingMemory: Bool = false) -> [AgentEvent] {
        guard !violated.withLock({ $0 }) else { return [] }
        var reasons = caps.withLock { $0 }?.violations() ?? []
        let cap = limits.sandbox.memoryMB << 20
        if checkingMemory, cap > 0, caps.withLock({ $0?.memoryDirectory == nil }), let pid = process.withLock({ $0?.pid }) {
            let resident = ResidentMemory.ofGroup(pid)
            if resident > cap { reasons.append("memory cap (watchdog): \(resident >> 20) MB resident, over \(limits.sandbox.memoryMB) MB") }
        }
        guard !reasons.isEmpty else { return [] }
        violated.withLock { $0 = true }
        return reasons.map { .error("sandbox_violation", $0, fatal: true) }
    }
}
