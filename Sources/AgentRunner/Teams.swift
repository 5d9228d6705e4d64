import Bus
import Foundation
import GRDB
import HomeConfig
import RunnerAPI

/// Agent teams: a running session spawns children (`runner.spawn`, the MCP tool `spawn_agent`).
/// A child is a new agent of its parent's group with a key of its own, whose certificate the runner
/// writes into its part of the directory (`directory/spawned/`, read by every service like the
/// rest) and removes when the child ends; its role is never above its parent's. Depth and fan-out
/// are limited per group or project (settings runner.team.max_depth, runner.team.max_children).
/// Stopping a parent stops its team; a child's end reaches its parent as a turn.
extension RunnerService {
    /// Roles by what they may do, for "no more rights than its parent".
    static func rank(_ role: Role) -> Int {
        switch role {
        case .operator_: 5
        case .manager: 4
        case .architect: 3
        case .reviewer, .tester: 2
        case .worker: 1
        }
    }

    /// For spawn: the session's managers, or the agent of the session itself.
    func liveSessionForTeam(_ id: String, by principal: Principal) async throws -> (LiveSession, Agor_Runner_V1_Session) {
        if let session = live.withLock({ $0[id] }), session.record.withLock({ $0.agent }) == principal.name {
            return (session, session.record.withLock { $0 })
        }
        return try await liveSession(id, managedBy: principal)
    }

    /// For stop: the session's managers, or the agent of its parent session (a parent ends its child).
    func liveSessionToStop(_ id: String, by principal: Principal) async throws -> (LiveSession, Agor_Runner_V1_Session) {
        if let session = live.withLock({ $0[id] }) {
            let parent = session.record.withLock { $0.parent }
            if !parent.isEmpty, let record = try? await record(parent), record.agent == principal.name {
                return (session, session.record.withLock { $0 })
            }
        }
        return try await liveSession(id, managedBy: principal)
    }

    func registerTeamMethods() {
        runtime.server.register(RunnerAPI.spawn) { [self] context, request in
            try await spawn(request, by: context.principal)
        }
    }

    func spawn(_ request: Agor_Runner_V1_SpawnRequest, by caller: Principal) async throws -> Agor_Runner_V1_Session {
        let (parent, record) = try await liveSessionForTeam(request.parent, by: caller)
        guard let parentAgent = runtime.directory.principal(named: record.agent) else {
            throw BusError.notFound("the parent's agent \(record.agent) is not in the directory")
        }
        guard !request.prompt.isEmpty, request.prompt.utf8.count <= RunnerService.maxPromptBytes else {
            throw BusError.badRequest("a prompt is 1 byte to 1 MiB of text")
        }
        let role = request.role.isEmpty ? Role.worker : Role(rawValue: request.role)
        guard let role, role != .operator_ else { throw BusError.badRequest("a child's role is manager, architect, tester, reviewer or worker") }
        guard Self.rank(role) <= Self.rank(parentAgent.role) else {
            throw BusError.forbidden("a \(parentAgent.role.rawValue) may not spawn a \(role.rawValue): a child has no more rights than its parent")
        }
        let settings = try? Settings.load(from: home)
        let project = record.project.isEmpty ? nil : (try? Projects.load(from: home))?.first { $0.name == record.project }
        let maxDepth = settings?.integer("runner.team.max_depth", project: project, group: record.group) ?? 2
        let maxChildren = settings?.integer("runner.team.max_children", project: project, group: record.group) ?? 4
        guard Int64(record.depth) + 1 <= maxDepth else {
            throw BusError.forbidden("a team is at most \(maxDepth) deep here (runner.team.max_depth); this session is at depth \(record.depth)")
        }
        let children = live.withLock { $0.values.filter { $0.record.withLock { $0.parent } == record.id }.count }
        guard children < maxChildren else {
            throw BusError.conflict("session \(record.id) has \(children) running children, the most it may (runner.team.max_children)")
        }
        // The child's limits: what the parent has left, narrowed by what the spawn asks.
        var budget = try parent.remainingForChild()
        if request.hasBudget { budget = LiveSession.Limits().narrowed(to: budget).narrowed(to: request.budget).budget }
        let name = request.name.isEmpty ? try freeChildName(for: record.agent) : request.name
        guard Principal.isValidName(name), runtime.directory.principal(named: name) == nil else {
            throw BusError.conflict("\(name.prefix(64)) is not a free agent name")
        }
        // The child's key: only in its session's folder (it has none in keys/).
        let pair = CurveKeyPair.generate()
        let secret = Data(pair.secretFileText(name: name).utf8)
        try runtime.directory.writeSpawned(Principal(name: name, kind: .agent, publicKey: pair.publicKey, groups: [record.group],
                                                     role: role, rights: [], team: parentAgent.team.isEmpty ? parentAgent.name : parentAgent.team))
        var start = Agor_Runner_V1_StartRequest()
        start.agent = name
        start.provider = record.provider
        start.command = record.command
        start.args = record.args
        start.project = record.project
        start.model = record.model
        start.prompt = request.prompt
        start.sandbox = record.tightening
        let starter = Principal(name: record.agent, kind: .agent, publicKey: [], groups: [record.group], role: .manager, rights: [])
        do {
            let child = try await self.start(start, by: starter, team: (secret, record.id, record.depth + 1, budget))
            logger.info("child spawned", metadata: ["runner.session": "\(child.id)", "runner.parent": "\(parent.id)", "runner.agent": "\(name)"])
            return child
        } catch {
            runtime.directory.removeSpawned(name)
            throw error
        }
    }

    private func freeChildName(for agent: String) throws -> String {
        for n in 1...10_000 {
            let name = "\(agent)-\(n)"
            if runtime.directory.principal(named: name) == nil, Principal.isValidName(name) { return name }
        }
        throw BusError.conflict("no free child name for \(agent)")
    }

    /// Stops the live children of a session (and theirs): a team ends with its parent.
    func stopTeam(of id: String) {
        let children = live.withLock { $0.values.filter { $0.record.withLock { $0.parent } == id } }
        for child in children {
            stopTeam(of: child.id)
            child.health.withLock { $0.stopRequested = true }
            if let process = child.process.withLock({ $0 }) {
                process.closeInput()
                process.stop(grace: .seconds(5))
            }
        }
    }

    /// A team member ended: its certificate goes (its key is refused from now on) and its parent's
    /// agent hears of it as a turn.
    func teamMemberEnded(_ session: LiveSession) {
        let record = session.record.withLock { $0 }
        guard !record.parent.isEmpty else { return }
        runtime.directory.removeSpawned(record.agent)
        Task {
            guard let parent = try? await self.record(record.parent) else { return }
            let line = "team: \(record.agent) \(RunnerService.stateName(record.state))"
                + (record.stateReason.isEmpty ? "" : " (\(record.stateReason))") + " [session \(record.id.prefix(8))]"
            wake.pending.withLock { $0[parent.agent, default: []].append(.init(messageId: "", line: line, stream: "", seq: 0)) }
            wake.feed.yield(.attention(parent.agent))
        }
    }
}
