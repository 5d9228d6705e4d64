/// Runs agent programs (Claude Code, Codex, Ollama, NDJSON) with backpressure, health, sandbox and sessions. Built in a later issue on the Bus.
///
/// This target exists so the package has the design card's folders from the start;
/// it holds no behaviour yet and no service is registered for it.
public enum AgentRunnerPart {
    public static let serviceName = "agentrunner"
}
