import RunnerAPI
/// A session's health as a state machine over its events (the predecessor kept one boolean
/// `toolInFlight`, so parallel calls ended "in flight" at the first result).
///
/// Tools in flight are a set of call ids: a call adds its id, its result removes it, in any order;
/// a result for an id that is not in flight is marked `unknown_call` on the event and changes
/// nothing. A pending approval is `needs_input` until it is answered. After a turn a program that
/// keeps its input open (Claude with stream-json input) is `idle`; the end of the process is
/// `finished`, `failed` or `stopped`. Every change of state comes back as a `state` event.
///
/// Not thread-safe: the session's reader owns it.
public struct SessionHealth: Sendable {
    public private(set) var state: SessionState = .starting
    /// Call ids in the order they started.
    public private(set) var toolsInFlight: [String] = []
    public private(set) var pendingApprovals: [String] = []
    /// Totals of the session's usage reports; `costUSD` is the last cost the provider said.
    public private(set) var usage = Agor_Runner_V1_Usage()
    public private(set) var costUSD: Double = 0
    /// The program stays open for more turns after one ends.
    public let keepsInputOpen: Bool
    /// A person asked to stop: the end of the process is `stopped`, whatever its status.
    public var stopRequested = false
    /// Why the runner paused the session (a budget, the loop guard); empty when it is not paused.
    /// While paused it stays `needs_input` whatever the program says, until a person lifts it.
    public private(set) var pauseReason = ""
    /// Resumed: once the program says it started, it waits for a turn (`idle`), it runs none.
    private var resumed = false

    public init(keepsInputOpen: Bool) {
        self.keepsInputOpen = keepsInputOpen
    }

    /// Applies `event` (marking a result for an unknown call); returns the state event when the
    /// state changed.
    public mutating func apply(_ event: inout AgentEvent) -> AgentEvent? {
        let before = state
        var reason = ""
        switch event.kind {
        case .sessionStarted where resumed && keepsInputOpen:
            resumed = false
            if !isEnded { state = .idle; reason = "resumed: waiting for a turn" }
        case .sessionStarted, .assistantText, .thinking:
            if pendingApprovals.isEmpty && pauseReason.isEmpty && !isEnded { state = .running }
        case .toolCall(let call):
            if !toolsInFlight.contains(call.id) { toolsInFlight.append(call.id) }
            if pendingApprovals.isEmpty && pauseReason.isEmpty && !isEnded { state = .running }
        case .toolResult(let result):
            if let index = toolsInFlight.firstIndex(of: result.id) {
                toolsInFlight.remove(at: index)
            } else {
                event.toolResult.unknownCall = true
            }
        case .approvalRequested(let asked):
            pendingApprovals.append(asked.requestID)
            if !isEnded { state = .needsInput; reason = "approval \(asked.toolName)" }
        case .approvalAnswered(let answer):
            pendingApprovals.removeAll { $0 == answer.requestID }
            if pendingApprovals.isEmpty && pauseReason.isEmpty && !isEnded { state = .running }
        case .usage(let report):
            usage.inputTokens += report.usage.inputTokens
            usage.outputTokens += report.usage.outputTokens
            usage.cacheReadTokens += report.usage.cacheReadTokens
            usage.cacheWriteTokens += report.usage.cacheWriteTokens
            if report.costUsd > 0 { costUSD = report.costUsd }
        case .turnFinished(let turn):
            if keepsInputOpen && pendingApprovals.isEmpty && pauseReason.isEmpty && !isEnded {
                state = .idle
                reason = turn.isError ? "turn failed: \(turn.subtype)" : ""
            }
        case .sessionFinished(let end):
            toolsInFlight = []
            pendingApprovals = []
            if stopRequested {
                state = .stopped
            } else if end.exitCode == 0 && end.signal == 0 {
                state = .finished
            } else {
                state = .failed
                reason = end.signal != 0 ? "signal \(end.signal)" : "exit \(end.exitCode)"
            }
        case .error(let error):
            if error.fatal && !isEnded { reason = error.message }
        case .rateLimit, .stateChanged, .messageDelivered, nil:
            break
        }
        guard state != before else { return nil }
        return stateEvent(reason: reason)
    }

    /// Called by the runner's clock: silence longer than `threshold` with no tool running is a
    /// stall; while tools run, only silence longer than `toolTimeout` is. Returns the state event
    /// when the state changed.
    public mutating func checkSilence(_ silence: Duration, threshold: Duration, toolTimeout: Duration) -> AgentEvent? {
        guard state == .running else { return nil }
        let limit = toolsInFlight.isEmpty ? threshold : toolTimeout
        guard silence > limit else { return nil }
        state = .stalled
        return stateEvent(reason: toolsInFlight.isEmpty ? "silent for \(silence)" : "tools running past their timeout: \(toolsInFlight.joined(separator: ","))")
    }

    /// Puts the session in `needs_input` for a reason of the runner's own (a budget, a loop guard).
    public mutating func pause(_ reason: String) -> AgentEvent? {
        guard !isEnded, pauseReason.isEmpty else { return nil }
        pauseReason = reason
        state = .needsInput
        return stateEvent(reason: reason)
    }

    /// A person lets a paused session go on; returns the state event, or nil when it was not paused.
    public mutating func lift() -> AgentEvent? {
        guard !pauseReason.isEmpty else { return nil }
        pauseReason = ""
        guard !isEnded, pendingApprovals.isEmpty else { return nil }
        state = .running
        return stateEvent(reason: "let go on by a person")
    }

    /// A resumed session starts again from `starting` (its record said `interrupted`).
    public mutating func resumeStarting() -> AgentEvent? {
        state = .starting
        toolsInFlight = []
        pendingApprovals = []
        resumed = true
        return nil
    }

    public var isEnded: Bool { state == .finished || state == .failed || state == .stopped }

    private func stateEvent(reason: String) -> AgentEvent {
        var change = Agor_Runner_V1_StateChanged()
        change.state = state
        change.reason = reason
        change.toolsInFlight = toolsInFlight
        var event = AgentEvent()
        event.stateChanged = change
        return event
    }
}
