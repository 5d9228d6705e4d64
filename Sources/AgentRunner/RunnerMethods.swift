import Bus
import Foundation
import GRDB
import HomeConfig
import RunnerAPI
import Synchronization

/// The runner's Bus methods: runner.start, runner.stop, runner.input, runner.answer, runner.list,
/// runner.show, runner.untrack (and bus.replay for a session's events). Refusals are typed and change nothing.
extension RunnerService {
    static let maxPromptBytes = 1 << 20

    func registerMethods() {
        let server = runtime.server
        registerPolicyMethod()
        registerTeamMethods()
        server.register(RunnerAPI.start) { [self] context, request in
            try await start(request, by: context.principal)
        }
        server.register(RunnerAPI.stop) { [self] context, request in
            let (session, record) = try await liveSessionToStop(request.id, by: context.principal)
            stopTeam(of: request.id)
            session.health.withLock { $0.stopRequested = true }
            if let process = session.process.withLock({ $0 }) {
                process.closeInput()
                process.stop(grace: .seconds(5))
            }
            return record
        }
        server.register(RunnerAPI.input) { [self] context, request in
            guard !request.text.isEmpty, request.text.utf8.count <= RunnerService.maxPromptBytes else {
                throw BusError.badRequest("a turn is 1 byte to 1 MiB of text")
            }
            let (session, record) = try await liveSession(request.id, managedBy: context.principal)
            guard session.turnsOnStdin, let process = session.process.withLock({ $0 }) else {
                throw BusError.conflict("\(record.provider) sessions take no new turn while they run")
            }
            guard process.write(ClaudeAdapter.userTurn(request.text, sessionId: session.id)) else {
                throw BusError.conflict("the session's input is closed")
            }
            // A new turn from a person lifts a pause.
            if let change = session.health.withLock({ $0.lift() }) { try await store(session, [change]) }
            return record
        }
        server.register(RunnerAPI.answer) { [self] context, request in
            let (session, _) = try await liveSession(request.id, managedBy: context.principal)
            let pending = session.health.withLock { $0.pendingApprovals }
            // No approval pending but a pause (a budget, the loop guard): allow lets it go on, deny stops it.
            if request.requestID.isEmpty && pending.isEmpty && !session.health.withLock({ $0.pauseReason.isEmpty }) {
                if request.allow {
                    if let change = session.health.withLock({ $0.lift() }) { try await store(session, [change]) }
                } else {
                    session.health.withLock { $0.stopRequested = true }
                    session.process.withLock { $0 }?.stop(grace: .seconds(5))
                }
                return session.record.withLock { $0 }
            }
            let requestId = request.requestID.isEmpty ? pending.first : pending.first { $0 == request.requestID }
            guard let requestId, let process = session.process.withLock({ $0 }) else {
                throw BusError.notFound("no pending approval \(request.requestID) in session \(request.id)")
            }
            var answered = Agor_Runner_V1_ApprovalAnswered()
            answered.requestID = requestId
            answered.allowed = request.allow
            answered.by = context.principal.name
            var event = AgentEvent()
            event.approvalAnswered = answered
            // Stored before the agent reads it: what the agent does next comes after it on the stream.
            try await store(session, [event])
            guard process.write(ClaudeAdapter.approvalAnswer(requestId: requestId, allow: request.allow, message: request.message)) else {
                try await store(session, [.error("approval", "the answer to \(requestId) was not delivered: the session's input is closed", fatal: false)])
                throw BusError.conflict("the session's input is closed")
            }
            return session.record.withLock { $0 }
        }
        server.register(RunnerAPI.show) { [self] context, request in
            let id = request.id
            guard let record = try await record(id), RunnerRules.mayRead(context.principal, group: record.group, agent: record.agent) else {
                throw BusError.notFound("no session \(id) that \(context.principal.name) may read")
            }
            return record
        }
        server.register(RunnerAPI.untrack) { [self] context, request in
            guard !request.project.isEmpty else { throw BusError.badRequest("name the project") }
            let running = live.withLock { $0.values.filter { $0.record.withLock { $0.project } == request.project }.map(\.id) }
            guard running.isEmpty else {
                throw BusError.conflict("project \(request.project.prefix(64)) has running sessions: \(running.joined(separator: ", "))")
            }
            let ids = try await runtime.database.read { db in
                try String.fetchAll(db, sql: "SELECT id FROM sessions WHERE project = ?", arguments: [request.project])
            }
            let deleted = try await deleteSessions(ids)
            logger.notice("project untracked", metadata: ["runner.project": "\(request.project)", "runner.sessions": "\(deleted.count)"])
            var reply = Agor_Runner_V1_UntrackReply()
            reply.sessionsDeleted = Int32(deleted.count)
            return reply
        }
        server.register(RunnerAPI.list) { [self] context, request in
            let principal = context.principal
            let limit = request.limit <= 0 ? 100 : min(Int(request.limit), 1000)
            let records = try await runtime.database.read { db in
                try Data.fetchAll(db, sql: "SELECT record FROM sessions ORDER BY created_us DESC").lazy
                    .compactMap { try? Agor_Runner_V1_Session(serializedBytes: $0) }
                    .filter { RunnerRules.mayRead(principal, group: $0.group, agent: $0.agent) }
                    .filter { request.project.isEmpty || $0.project == request.project }
                    .filter { request.parent.isEmpty || $0.parent == request.parent }
                    .filter { request.state == .unspecified || $0.state == request.state }
                    .prefix(limit)
            }
            var list = Agor_Runner_V1_SessionList()
            list.sessions = Array(records)
            return list
        }
    }

    /// A live session the caller manages, with its record; typed refusals otherwise.
    func liveSession(_ id: String, managedBy principal: Principal) async throws -> (LiveSession, Agor_Runner_V1_Session) {
        guard let record = try await record(id), RunnerRules.mayRead(principal, group: record.group, agent: record.agent) else {
            throw BusError.notFound("no session \(id) that \(principal.name) may read")
        }
        guard RunnerRules.mayManage(principal, group: record.group) else {
            throw BusError.forbidden("only operators and managers of \(record.group) act on its sessions")
        }
        guard let session = live.withLock({ $0[id] }) else {
            throw BusError.conflict("session \(id) is \(RunnerService.stateName(record.state)), not running")
        }
        return (session, session.record.withLock { $0 })
    }

    /// Starts a session: checks, records it, spawns the program through the helper.
    /// `team`: for a spawned child, its secret key (it has none in keys/), its parent and depth.
    func start(_ request: Agor_Runner_V1_StartRequest, by caller: Principal,
               team: (key: Data, parent: String, depth: Int32, budget: Agor_Runner_V1_Budget)? = nil) async throws -> Agor_Runner_V1_Session {
        guard Providers.names.contains(request.provider) else {
            throw BusError.badRequest("provider is one of \(Providers.names.joined(separator: ", "))")
        }
        guard !request.prompt.isEmpty, request.prompt.utf8.count <= RunnerService.maxPromptBytes else {
            throw BusError.badRequest("a prompt is 1 byte to 1 MiB of text")
        }
        guard Principal.isValidName(request.agent), let agent = runtime.directory.principal(named: request.agent), agent.kind == .agent else {
            throw BusError.notFound("no agent named \(request.agent.prefix(64)) in the directory (agor agent add)")
        }
        guard let group = agent.groups.first(where: { RunnerRules.mayManage(caller, group: $0) }) else {
            throw BusError.forbidden("\(caller.name) is not an operator or manager of \(agent.name)'s groups")
        }
        var sessionLimits = limits(project: request.project, group: group, tightening: request.sandbox)
        if let team { sessionLimits = sessionLimits.narrowed(to: team.budget) }
        let today = daily.withLock { $0[DailySpend.Key(day: DailySpend.day(), group: group, project: request.project)] } ?? DailySpend()
        if let spent = sessionLimits.dailyReason(today, of: request.project.isEmpty ? "group \(group)" : "project \(request.project)") {
            throw BusError.conflict("not started: the \(spent)")
        }
        // Ollama's model: the request's, else the setting model.ollama.
        let model = request.provider == "ollama" && request.model.isEmpty ? sessionLimits.ollamaModel ?? "" : request.model
        if request.provider == "ollama" && model.isEmpty {
            throw BusError.badRequest("an Ollama session needs a model: --model, or the setting model.ollama")
        }
        if sessionLimits.sandbox.strict == .required && StrictTier.available == nil {
            throw BusError.unavailable("not started: the strict tier is required and bubblewrap cannot make its namespaces here")
        }
        let id = UUID().uuidString.lowercased()
        let folder = SessionFolder(home: home, session: id)
        var workingDirectory = folder.work
        var worktree = ""
        if !request.project.isEmpty {
            guard let project = (try? Projects.load(from: home))?.first(where: { $0.name == request.project }), project.group == group else {
                throw BusError.notFound("no project \(request.project.prefix(64)) in group \(group)")
            }
            workingDirectory = project.root
            if case .string("on")? = (try? Settings.load(from: home))?.effective("runner.worktree", project: project, group: group)?.value {
                worktree = folder.worktree
                try FileManager.default.createDirectory(at: folder.root, withIntermediateDirectories: true)
                do { try Worktree.create(project: project.root, session: id, at: worktree) } catch {
                    try? FileManager.default.removeItem(at: folder.root)
                    throw BusError.conflict("project \(project.name) asks for a worktree per session and git refused: \(error)")
                }
                workingDirectory = worktree
            }
        }
        let program = try ProviderLaunch.program(provider: request.provider, requested: request.command, home: home, path: SessionFolder.programSearchPath)
        try FileManager.default.createDirectory(atPath: workingDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder.temporary, withIntermediateDirectories: true)
        // The agent acts as itself: a copy of its key in the session's folder.
        guard let keyData = team?.key ?? FileManager.default.contents(atPath: home.secretKeyFile(agent.name).path) else {
            throw BusError.unavailable("the key of \(agent.name) is not in this home's keys/")
        }
        guard FileManager.default.createFile(atPath: folder.key, contents: keyData, attributes: [.posixPermissions: 0o600]) else {
            throw BusError.unavailable("cannot write the session's key copy")
        }

        var record = Agor_Runner_V1_Session()
        record.id = id
        record.group = group
        record.agent = agent.name
        record.provider = request.provider
        record.project = request.project
        record.model = request.model
        record.state = .starting
        record.cwd = workingDirectory
        record.worktree = worktree
        record.startedBy = caller.name
        record.createdUs = BusProtocol.nowMicros()
        record.updatedUs = record.createdUs
        record.stream = RunnerRules.stream(group: group, session: id)
        if let team {
            record.parent = team.parent
            record.depth = team.depth
        }
        var extra = request.args
        var ollamaURL = ""
        if request.provider == "ollama" {
            ollamaURL = ProviderLaunch.ollamaURL(home: home)
            if program == RunnerService.ownExecutable() { extra = ["ollama-chat"] + extra }
        }
        let (arguments, turnsOnStdin) = ProviderLaunch.arguments(provider: request.provider, sessionId: id, model: model,
                                                                 extra: extra, prompt: request.prompt, ollamaURL: ollamaURL,
                                                                 askApprovals: sessionLimits.askApprovals)
        record.model = model
        record.tightening = request.sandbox
        record.budget = sessionLimits.budget
        let session = LiveSession(record: record, turnsOnStdin: turnsOnStdin, limits: sessionLimits)
        owners.withLock { $0[id] = (group, agent.name) }
        try await store(session, [])

        record.command = program
        record.args = request.args
        session.record.withLock { $0 = record }
        live.withLock { $0[id] = session }
        do {
            try launch(session, program: program, extraArguments: request.args, arguments: arguments,
                       firstTurn: turnsOnStdin ? request.prompt : nil)
        } catch {
            live.withLock { $0[id] = nil }
            try await store(session, [.error("spawn", "\(error)", fatal: true), { var e = AgentEvent(); e.sessionFinished.exitCode = 127; return e }()])
            throw BusError.unavailable("cannot start \(program): \(error)")
        }
        watchStalls()
        logger.info("session started", metadata: ["runner.session": "\(id)", "runner.agent": "\(agent.name)", "runner.provider": "\(request.provider)"])
        return session.record.withLock { $0 }
    }

    /// Spawns a session's program through the exec helper, in the session's sandbox and with its
    /// environment; its events are stored as they come. `firstTurn` goes to stdin (Claude), else
    /// stdin is closed.
    func launch(_ session: LiveSession, program: String, extraArguments: [String], arguments: [String], firstTurn: String?) throws {
        do { try spawn(session, program: program, extraArguments: extraArguments, arguments: arguments, firstTurn: firstTurn) } catch {
            session.releaseSandbox()   // a start that failed leaves no cgroup or proxy behind
            throw error
        }
    }

    private func spawn(_ session: LiveSession, program: String, extraArguments: [String], arguments: [String], firstTurn: String?) throws {
        let record = session.record.withLock { $0 }
        let id = record.id
        let folder = SessionFolder(home: home, session: id)
        // agor's tools for the agent (agor mcp, as the session's agent), with no manual step;
        // written before the sandbox, which opens its files.
        let mcp = try AgentMCPConfig.write(provider: record.provider, folder: folder, home: home, agor: RunnerService.ownExecutable())
        let sandbox = try sandbox(for: session, record: record, folder: folder, program: program, extraArguments: extraArguments)
        let policy = sandbox.policy, layers = sandbox.layers, transport = sandbox.environment
        let secrets: [String: String]
        do { secrets = try ProviderSecrets.environment(for: record.provider, home: home) } catch {
            throw BusError.unavailable("the vault cannot be read for \(record.provider)'s secrets: \(error)")
        }
        let environment = secrets.merging(["PATH": SessionFolder.programSearchPath, "HOME": folder.root.path, "TMPDIR": folder.temporary, "LANG": "C.UTF-8",
                                           "AGOR_HOME": home.root.path, "AGOR_KEY": folder.key, "AGOR_SESSION": id]) { $1 }
            .merging(transport) { $1 }
            .merging(mcp.environment) { $1 }
        let launch = AgentProcess.Launch(helper: helper, program: program, arguments: arguments + mcp.arguments, environment: environment,
                                         workingDirectory: record.cwd, policy: policy, lineLimit: session.limits.lineLimit)
        guard let adapter = Providers.adapter(for: record.provider) else { throw BusError.badRequest("unknown provider") }
        // The previous read's events, being stored while the reader parses the next read: at most
        // one read waits, so storing and parsing overlap and the bound on pending bytes holds.
        let storing = Mutex<DispatchSemaphore?>(nil)
        let process = try AgentProcess(launch, adapter: adapter) { [self] events in
            // On the session's reader thread, in order: a read's events are stored only after the
            // previous read's were, and nothing more is read while two reads are unstored.
            var events = events
            let finished = events.last?.typeName == "session.finished"
            if finished { events.insert(contentsOf: session.violations(), at: events.count - 1) }
            storing.withLock { $0 }?.wait()
            let done = DispatchSemaphore(value: 0)
            storing.withLock { $0 = done }
            Task {
                do { try await store(session, events) } catch {
                    logger.error("session events not stored", metadata: ["runner.session": "\(id)", "runner.error": "\(error)"])
                }
                done.signal()
            }
            if finished {
                done.wait()
                session.releaseSandbox()
                live.withLock { $0[id] = nil }
                noteTurnBoundary(session, ended: true)
                teamMemberEnded(session)
                let ended = session.record.withLock { $0 }
                if !ended.worktree.isEmpty, let project = (try? Projects.load(from: home))?.first(where: { $0.name == ended.project }) {
                    Worktree.unlock(project: project.root, at: ended.worktree)
                }
                // Once it is no longer live, so that it counts among the ended ones.
                Task { try? await sweepRetention() }
            }
        }
        session.process.withLock { $0 = process }
        session.record.withLock { $0.sandbox = process.sandbox.layers.merging(layers) { $1 } }
        if let firstTurn { process.write(ClaudeAdapter.userTurn(firstTurn, sessionId: id)) } else if !session.turnsOnStdin { process.closeInput() }
    }

    /// Resumes an interrupted session where its provider can (Claude `--resume`, Codex `exec
    /// resume`), from the same working directory; after three resumes in a row that did not reach
    /// a good turn, it is left interrupted.
    func resume(_ id: String) async throws {
        guard var record = try await record(id), record.state == .interrupted else { return }
        let resumedLimits = limits(for: record)
        guard let arguments = ProviderLaunch.resumeArguments(provider: record.provider, sessionId: id, providerSessionId: record.providerSessionID,
                                                            model: record.model, extra: record.args, askApprovals: resumedLimits.askApprovals),
              !record.command.isEmpty else { return }
        guard record.resumesFailed < 3 else {
            try await changeState(id, to: .interrupted, reason: "not resumed: \(record.resumesFailed) resumes in a row failed")
            return
        }
        record.resumesFailed += 1
        let session = LiveSession(record: record, turnsOnStdin: record.provider == "claude", limits: resumedLimits)
        if let spent = try? await storedTeamSpend(of: id) { session.team.withLock { $0 = spent } }
        live.withLock { $0[id] = session }
        var change = Agor_Runner_V1_StateChanged()
        change.state = .starting
        change.reason = "resumed after the runner restarted"
        var event = AgentEvent()
        event.stateChanged = change
        session.health.withLock { _ = $0.resumeStarting() }
        try await store(session, [event])
        do {
            try launch(session, program: record.command, extraArguments: record.args, arguments: arguments, firstTurn: nil)
            watchStalls()
        } catch {
            live.withLock { $0[id] = nil }
            try await store(session, [.error("spawn", "\(error)", fatal: true), { var e = AgentEvent(); e.sessionFinished.exitCode = 127; return e }()])
        }
    }

    /// A stored session's limits, to resume it: the settings', and for a team's child never above
    /// the budget it was given.
    func limits(for record: Agor_Runner_V1_Session) -> LiveSession.Limits {
        let limits = limits(project: record.project, group: record.group, tightening: record.tightening)
        return record.parent.isEmpty ? limits : limits.narrowed(to: record.budget)
    }

    /// The session's limits from the settings cascade (project, group, global, built-in).
    func limits(project: String, group: String, tightening: Agor_Runner_V1_Tightening = .init()) -> LiveSession.Limits {
        var limits = LiveSession.Limits()
        guard let settings = try? Settings.load(from: home) else { return limits }
        let project = project.isEmpty ? nil : (try? Projects.load(from: home))?.first { $0.name == project }
        func integer(_ key: String) -> Int64? { settings.integer(key, project: project, group: group) }
        if let seconds = integer("stall_threshold_s") { limits.stall = .seconds(seconds) }
        if let seconds = integer("runner.tool_timeout_s") { limits.toolTimeout = .seconds(seconds) }
        if let megabytes = integer("runner.line_limit_mb") { limits.lineLimit = Int(megabytes) << 20 }
        if let cents = integer("runner.budget.max_cost_cents") { limits.maxCostCents = cents }
        if let tokens = integer("runner.budget.max_tokens") { limits.maxTokens = tokens }
        if let turns = integer("runner.budget.max_turns") { limits.maxTurns = turns }
        if let repeats = integer("runner.loop_guard") { limits.loopGuard = Int(repeats) }
        if let seconds = integer("runner.idle_timeout_s") { limits.idleTimeout = seconds == 0 ? nil : .seconds(seconds) }
        if let cents = integer("runner.daily.max_cost_cents") { limits.dailyMaxCostCents = cents }
        if let tokens = integer("runner.daily.max_tokens") { limits.dailyMaxTokens = tokens }
        if let turns = integer("runner.daily.max_turns") { limits.dailyMaxTurns = turns }
        limits.sandbox = SandboxSettings(settings: settings, project: project, group: group).tightened(by: tightening)
        limits.askApprovals = settings.string("runner.approvals", project: project, group: group) != "auto"
        limits.ollamaModel = settings.string("model.ollama", project: project, group: group).flatMap { $0.isEmpty ? nil : $0 }
        return limits
    }

    /// The lowercase word of a state, as `show --json` and the docs say it.
    public static func stateName(_ state: SessionState) -> String {
        switch state {
        case .starting: "starting"
        case .running: "running"
        case .idle: "idle"
        case .needsInput: "needs_input"
        case .stalled: "stalled"
        case .interrupted: "interrupted"
        case .finished: "finished"
        case .failed: "failed"
        case .stopped: "stopped"
        default: "unknown"
        }
    }
}
