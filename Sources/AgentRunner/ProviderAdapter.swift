/// Turns one provider's output lines into agor's event model. An adapter keeps what it needs across
/// lines (message ids seen, cumulative counts) and never fails: garbage and unknown line types are
/// reported as `error` events, and reading goes on.
public protocol ProviderAdapter: Sendable {
    /// The provider's name in session records: claude, codex, ollama, ndjson.
    var provider: String { get }
    /// The events one line of output stands for (often one, sometimes none or several).
    mutating func events(for line: [UInt8]) -> [AgentEvent]
}

/// Each provider's adapter by name.
public enum Providers {
    public static let names = ["claude", "codex", "ollama", "ndjson"]

    public static func adapter(for name: String) -> (any ProviderAdapter)? {
        switch name {
        case "claude": ClaudeAdapter()
        case "codex": CodexAdapter()
        case "ollama": OllamaAdapter()
        case "ndjson": NDJSONAdapter()
        default: nil
        }
    }
}
