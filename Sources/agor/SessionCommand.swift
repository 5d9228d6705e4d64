import AgentRunner
import AgorCLI
import AgorKit
import ArgumentParser
import Bus
import Foundation
import RunnerAPI
import SwiftProtobuf

/// `agor session ...`: agent sessions of the runner, for people and scripts (docs/RUNNER.md).
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Run agents (Claude Code, Codex, Ollama, any NDJSON program) and follow their sessions.",
        subcommands: [Start.self, List.self, Show.self, Logs.self, Send.self, Answer.self, Stop.self, Policy.self])

    static let program = "agor session"

    static func withRunner(_ options: ClientOptions, _ body: (ServiceSession) async throws -> Void) async throws {
        try await options.withSession(service: RunnerService.name, program: program, body)
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start an agent of the directory as a session of its group; prints its id.")
        @OptionGroup var options: ClientOptions
        @Option(help: "The agent principal the session runs as (agor agent add).") var agent: String?
        @Option(help: "claude, codex, ollama or ndjson.") var provider: String?
        @Option(help: "Spawn a child of this running session (a team): a new agent of its group, with its program, project and what is left of its budget.") var parent: String?
        @Option(help: "With --parent: the child's role (worker, tester, reviewer, architect, manager; at most the parent agent's).") var role: String?
        @Option(help: "With --parent: the child's agent name (default PARENT-AGENT-N).") var name: String?
        @Option(name: .customLong("max-turns"), help: "With --parent: at most this many turns (never above what the parent has left).") var maxTurns: Int64?
        @Option(name: .customLong("max-tokens"), help: "With --parent: at most this many tokens.") var maxTokens: Int64?
        @Option(name: .customLong("max-cost-cents"), help: "With --parent: at most this many cents.") var maxCostCents: Int64?
        @Option(parsing: .upToNextOption, help: "The program and its arguments (else [runner.providers.NAME] command, else PATH).") var command: [String] = []
        @Option(name: .customLong("arg"), parsing: .unconditionalSingleValue,
                help: "One more argument for the program, after those of --command (for arguments that start with '-').") var extraArguments: [String] = []
        @Option(help: "A project of projects.toml: its root is the working directory.") var project: String?
        @Option(help: "The model.") var model: String?
        @Option(help: "The first turn.") var prompt: String?
        @Option(name: .customLong("prompt-file"), help: "The first turn, from a file.") var promptFile: String?
        @Flag(name: .customLong("deny-egress"), help: "TCP connect only to agor's services and the project's allowed ports.") var denyEgress = false
        @Option(name: .customLong("memory-mb"), help: "A lower memory cap than the project's.") var memoryMB: Int64?
        @Option(name: .customLong("max-processes"), help: "A lower process cap than the project's.") var maxProcesses: Int64?
        @Flag(help: "Require the strict tier (bubblewrap).") var strict = false

        /// The first turn, from --prompt or --prompt-file.
        func firstTurn() throws -> String {
            switch (prompt, promptFile) {
            case (let text?, nil): return text
            case (nil, let file?):
                guard let data = FileManager.default.contents(atPath: file) else { throw Failure(.badInput, "cannot read \(file)") }
                return String(decoding: data, as: UTF8.self)
            default: throw Failure(.badInput, "give --prompt TEXT or --prompt-file FILE")
            }
        }

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                var request = Agor_Runner_V1_StartRequest()
                guard (memoryMB ?? 1) > 0, (maxProcesses ?? 1) > 0 else { throw Failure(.badInput, "--memory-mb and --max-processes are positive") }
                request.sandbox.denyEgress = denyEgress
                request.sandbox.memoryMb = memoryMB ?? 0
                request.sandbox.maxProcesses = maxProcesses ?? 0
                request.sandbox.strict = strict
                let prompt = try firstTurn()
                if let parent {
                    guard agent == nil, provider == nil, command.isEmpty, extraArguments.isEmpty, project == nil, model == nil else {
                        throw Failure(.badInput, "a child takes its parent's agent group, program, project and model: give --parent with --prompt, --role, --name and budgets only")
                    }
                    guard [maxTurns, maxTokens, maxCostCents].allSatisfy({ ($0 ?? 1) > 0 }) else { throw Failure(.badInput, "budgets are positive") }
                    var spawn = Agor_Runner_V1_SpawnRequest()
                    spawn.parent = parent
                    spawn.prompt = prompt
                    spawn.role = role ?? ""
                    spawn.name = name ?? ""
                    if maxTurns != nil || maxTokens != nil || maxCostCents != nil {
                        spawn.budget.maxTurns = maxTurns ?? 0
                        spawn.budget.maxTokens = maxTokens ?? 0
                        spawn.budget.maxCostCents = maxCostCents ?? 0
                    }
                    let child = try await session.call(RunnerAPI.spawn, spawn)
                    if session.json { SessionCommand.printJSON(SessionCommand.object(child)) } else { print(child.id) }
                    return
                }
                guard role == nil, name == nil, maxTurns == nil, maxTokens == nil, maxCostCents == nil else {
                    throw Failure(.badInput, "--role, --name and the budgets are for a child: give --parent ID")
                }
                guard let agent, let provider else { throw Failure(.badInput, "give --agent NAME and --provider P (or --parent ID for a child)") }
                request.agent = agent
                request.provider = provider
                request.command = command.first ?? ""
                request.args = Array(command.dropFirst()) + extraArguments
                request.project = project ?? ""
                request.model = model ?? ""
                request.prompt = prompt
                let started = try await session.call(RunnerAPI.start, request)
                if session.json { SessionCommand.printJSON(SessionCommand.object(started)) } else { print(started.id) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions you may read, newest first.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Only this project.") var project: String?
        @Option(help: "Only this state (starting, running, idle, needs_input, stalled, interrupted, finished, failed, stopped).") var state: String?

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                var request = Agor_Runner_V1_ListRequest()
                request.project = project ?? ""
                if let state {
                    guard let parsed = SessionCommand.state(named: state) else { throw Failure(.badInput, "unknown state \(state)") }
                    request.state = parsed
                }
                let list = try await session.call(RunnerAPI.list, request)
                for item in list.sessions {
                    if session.json { SessionCommand.printJSON(SessionCommand.object(item)) } else {
                        print("\(item.id.prefix(8))  \(RunnerService.stateName(item.state).padding(toLength: 11, withPad: " ", startingAt: 0)) \(item.agent) (\(item.provider)) \(item.project)")
                    }
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session: state, tools in flight, usage, cost, sandbox.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                let ref = SessionCommand.ref(id)
                let record = try await session.call(RunnerAPI.show, ref)
                if session.json { SessionCommand.printJSON(SessionCommand.object(record)); return }
                print("""
                    session   \(record.id)
                    agent     \(record.agent) (\(record.provider)) in \(record.group)\(record.project.isEmpty ? "" : ", project \(record.project)")
                    state     \(RunnerService.stateName(record.state))\(record.stateReason.isEmpty ? "" : ": \(record.stateReason)")
                    tools     \(record.toolsInFlight.isEmpty ? "none running" : record.toolsInFlight.joined(separator: ", "))
                    usage     \(record.usage.inputTokens) in, \(record.usage.outputTokens) out, $\(record.costUsd)
                    sandbox   \(record.sandbox.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                    events    \(record.lastSeq) on \(record.stream)
                    """)
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A session's events from a sequence number; -f follows until it ends.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "The first event's number (inclusive).") var from: UInt64 = 1
        @Flag(name: .short, help: "Follow live after the stored events.") var follow = false

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                let ref = SessionCommand.ref(id)
                let record = try await session.call(RunnerAPI.show, ref)
                var cursor = from > 0 ? from - 1 : 0
                var ended = false
                while true {
                    var ask = Agor_Bus_V1_ReplayRequest()
                    ask.stream = record.stream
                    ask.afterSeq = cursor
                    let reply = try await session.call(BusMethods.replay, ask)
                    for packed in reply.events {
                        guard let event = BusEvent(packed: packed), event.seq == cursor + 1 else { continue }
                        ended = SessionCommand.show(event, json: session.json) || ended
                        cursor = event.seq
                    }
                    if reply.events.isEmpty || cursor >= reply.headSeq { break }
                }
                guard follow, !ended else { return }
                let subscriber = try session.client.subscriber(RunnerService.name, prefixes: [record.stream], start: .cursors([record.stream: cursor]),
                                                               replay: session.rpc, endsWhenRefused: true)
                for await event in subscriber.events where event.stream == record.stream {
                    if SessionCommand.show(event, json: session.json) { break }
                }
                if subscriber.wasRefused { throw BusError.keyRefused }
            }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A new user turn for a running session.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument var text: String

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                var request = Agor_Runner_V1_InputRequest()
                request.id = id
                request.text = text
                _ = try await session.call(RunnerAPI.input, request)
            }
        }
    }

    struct Answer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow or deny a pending approval (the oldest, or --request R).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument(help: "allow or deny") var decision: String
        @Option(help: "The approval's request id.") var request: String?

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                guard decision == "allow" || decision == "deny" else { throw Failure(.badInput, "answer allow or deny") }
                var ask = Agor_Runner_V1_AnswerRequest()
                ask.id = id
                ask.allow = decision == "allow"
                ask.requestID = request ?? ""
                _ = try await session.call(RunnerAPI.answer, ask)
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a session (its whole process group).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                let ref = SessionCommand.ref(id)
                _ = try await session.call(RunnerAPI.stop, ref)
            }
        }
    }

    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a message to an agent does: ignore, wake (its session, running or ended), start (also a new one), or default (the setting runner.on_message).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The agent.") var agent: String
        @Argument(help: "ignore, wake, start or default; omitted: show it.") var policy: String?

        func run() async throws {
            try await SessionCommand.withRunner(options) { session in
                var request = Agor_Runner_V1_PolicyRequest()
                request.agent = agent
                request.policy = policy ?? ""
                let reply = try await session.call(RunnerAPI.policy, request)
                if session.json { Terminal.printJSON(reply) } else { print("\(reply.agent): \(reply.policy) (\(reply.source == "agent" ? "set for it" : "setting runner.on_message"))") }
            }
        }
    }

    // MARK: output

    static func ref(_ id: String) -> Agor_Runner_V1_SessionRef {
        var ref = Agor_Runner_V1_SessionRef()
        ref.id = id
        return ref
    }

    static func state(named name: String) -> SessionState? {
        [SessionState.starting, .running, .idle, .needsInput, .stalled, .interrupted, .finished, .failed, .stopped]
            .first { RunnerService.stateName($0) == name }
    }

    /// A session as `show --json` prints it.
    static func object(_ s: Agor_Runner_V1_Session) -> [String: Any] {
        ["id": s.id, "group": s.group, "agent": s.agent, "provider": s.provider, "project": s.project, "model": s.model,
         "state": RunnerService.stateName(s.state), "state_reason": s.stateReason, "tools_in_flight": s.toolsInFlight,
         "pending_approvals": s.pendingApprovals,
         "usage": ["input_tokens": s.usage.inputTokens, "output_tokens": s.usage.outputTokens,
                   "cache_read_tokens": s.usage.cacheReadTokens, "cache_write_tokens": s.usage.cacheWriteTokens],
         "cost_usd": s.costUsd, "sandbox": s.sandbox, "worktree": s.worktree, "cwd": s.cwd, "started_by": s.startedBy,
         "created_us": s.createdUs, "updated_us": s.updatedUs, "exit_code": s.exitCode, "signal": s.signal,
         "provider_session_id": s.providerSessionID, "last_seq": s.lastSeq, "stream": s.stream,
         "parent": s.parent, "depth": s.depth, "turns": s.turns,
         "in_process": s.inProcess.map { ["tool_use_id": $0.toolUseID, "kind": $0.kind, "description": $0.description_p, "state": $0.state, "events": $0.events] },
         "budget": ["max_turns": s.budget.maxTurns, "max_tokens": s.budget.maxTokens, "max_cost_cents": s.budget.maxCostCents]]
    }

    static func printJSON(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        print(String(decoding: data, as: UTF8.self))
        fflush(nil)
    }

    /// Prints one event (a JSON object with `seq`, `type` and the event's fields, or a line of
    /// text); true when it ends the session.
    static func show(_ event: BusEvent, json: Bool) -> Bool {
        let body = (try? AgentEvent(serializedBytes: event.body)) ?? AgentEvent()
        if json {
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            options.alwaysPrintInt64sAsNumbers = true
            var object: [String: Any] = [:]
            if let text = try? body.jsonString(options: options),
               let decoded = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
               let fields = decoded.values.first as? [String: Any] {
                object = fields
            }
            if case .stateChanged(let change) = body.kind { object["state"] = RunnerService.stateName(change.state) }
            object["seq"] = event.seq
            object["type"] = event.type
            object["time_us"] = event.timestampUs
            printJSON(object)
        } else {
            print("\(event.seq) \(event.type) \(summary(body))")
            fflush(nil)
        }
        return event.type == "session.finished"
    }

    static func summary(_ event: AgentEvent) -> String {
        switch event.kind {
        case .assistantText(let text), .thinking(let text): text.text
        case .toolCall(let call): "\(call.name) \(call.id) \(call.inputJson.prefix(200))"
        case .toolResult(let result): "\(result.id)\(result.isError ? " error" : "") \(result.content.prefix(200))"
        case .approvalRequested(let asked): "\(asked.requestID) \(asked.toolName) \(asked.inputJson.prefix(200))"
        case .approvalAnswered(let answer): "\(answer.requestID) \(answer.allowed ? "allowed" : "denied") by \(answer.by)"
        case .stateChanged(let change): RunnerService.stateName(change.state) + (change.reason.isEmpty ? "" : ": \(change.reason)")
        case .turnFinished(let turn): turn.finalText
        case .sessionFinished(let end): end.signal != 0 ? "signal \(end.signal)" : "exit \(end.exitCode)"
        case .error(let error): "\(error.kind): \(error.message)"
        case .usage(let usage): "\(usage.usage.inputTokens) in, \(usage.usage.outputTokens) out, $\(usage.costUsd)"
        case .sessionStarted(let started): "\(started.provider) \(started.providerSessionID) \(started.model)"
        case .rateLimit(let limit): "\(limit.status) \(limit.utilization)"
        case .messageDelivered(let delivered): "\(delivered.messageIds.count) message(s): \(delivered.text.prefix(200))"
        case nil: ""
        }
    }
}
