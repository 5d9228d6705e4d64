/// The one error of the runner's own work (what it says to clients is a `BusError`): a code for
/// what failed and a message for people and the session's record.
struct RunnerError: Error, Equatable, CustomStringConvertible, Sendable {
    enum Code: String, Sendable {
        /// Starting the agent program (pipes, the exec helper).
        case spawn
        /// git, for a session's worktree.
        case git
        /// Talking to a model over HTTP (Ollama, the model proxy's upstream).
        case http
    }

    let code: Code
    let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
