import Bus

/// The runner's wire API, written once: the runner registers its handlers with these, and `agor
/// session`, `agor project` and the Gateway call through them. docs/RUNNER.md describes each.
public enum RunnerAPI {
    public static let service = "runner"

    public static let start = Method<Agor_Runner_V1_StartRequest, Agor_Runner_V1_Session>(
        service, "runner.start", .change, summary: "start an agent session")
    public static let stop = Method<Agor_Runner_V1_SessionRef, Agor_Runner_V1_Session>(
        service, "runner.stop", .change, summary: "stop a session (its input closes, then its process group ends)")
    public static let input = Method<Agor_Runner_V1_InputRequest, Agor_Runner_V1_Session>(
        service, "runner.input", .change, summary: "a new user turn for a running session")
    public static let answer = Method<Agor_Runner_V1_AnswerRequest, Agor_Runner_V1_Session>(
        service, "runner.answer", .change, summary: "answer a pending approval, or lift or end a pause")
    public static let show = Method<Agor_Runner_V1_SessionRef, Agor_Runner_V1_Session>(
        service, "runner.show", .read, summary: "one session's record")
    public static let untrack = Method<Agor_Runner_V1_UntrackRequest, Agor_Runner_V1_UntrackReply>(
        service, "runner.untrack", .change, roles: [.operator_], summary: "forget a project's ended sessions")
    public static let list = Method<Agor_Runner_V1_ListRequest, Agor_Runner_V1_SessionList>(
        service, "runner.list", .read, summary: "the sessions the caller may read, newest first")
    public static let spawn = Method<Agor_Runner_V1_SpawnRequest, Agor_Runner_V1_Session>(
        service, "runner.spawn", .change, summary: "a child of a running session: a new agent of its group (agent teams)")
    public static let policy = Method<Agor_Runner_V1_PolicyRequest, Agor_Runner_V1_PolicyReply>(
        service, "runner.policy", .change, summary: "what a message to an agent does: ignore, wake or start (empty: show it)")

    /// Every method above, for docs and tests.
    public static let all: [any MethodDescription] = [
        start, stop, input, answer, show, untrack, list, policy, spawn,
    ]
}
