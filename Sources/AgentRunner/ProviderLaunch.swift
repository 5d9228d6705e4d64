import Bus
import ConfigText
import Foundation

/// How each provider's program is found and started (../shared/provider-formats.md).
enum ProviderLaunch {
    /// The program: the request's `command`, else `[runner.providers.NAME] command` in config.toml,
    /// else the provider's own name on PATH. An absolute path, or a `BusError.badRequest`.
    static func program(provider: String, requested: String, home: Home, path: String) throws -> String {
        var name = requested
        if name.isEmpty, let data = FileManager.default.contents(atPath: home.configFile.path),
           let config = try? TOML.parse(String(decoding: data, as: UTF8.self)),
           let command = config["runner"]?.table?["providers"]?.table?[provider]?.table?["command"]?.string {
            name = command
        }
        if name.isEmpty {
            guard provider != "ndjson" else { throw BusError.badRequest("the ndjson provider needs a command") }
            // Ollama's client is the runner's own program (`agor ollama-chat`).
            if provider == "ollama" { return RunnerService.ownExecutable() }
            name = provider
        }
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name), name.hasPrefix("/") else {
                throw BusError.badRequest("\(name) is not an executable file (give an absolute path)")
            }
            return name
        }
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        throw BusError.badRequest("\(name) is not on the runner's PATH; set [runner.providers.\(provider)] command in config.toml")
    }

    /// The program's arguments, and whether it takes its turns on stdin (Claude's stream-json).
    /// `extra` (the arguments given with the command) come first: they belong to the program (a
    /// script for an interpreter, a wrapper's own flags); the provider's flags follow.
    /// Claude asks agor before it uses a tool (`--permission-prompt-tool stdio`: an approval a
    /// person answers), unless the project lets its agents act without asking.
    static func permissions(ask: Bool) -> [String] {
        ask ? ["--permission-prompt-tool", "stdio"] : ["--permission-mode", "bypassPermissions"]
    }

    static func arguments(provider: String, sessionId: String, model: String, extra: [String], prompt: String,
                          ollamaURL: String = "", askApprovals: Bool = true) -> (arguments: [String], turnsOnStdin: Bool) {
        switch provider {
        case "claude":
            var arguments = ["-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
                             "--session-id", sessionId] + permissions(ask: askApprovals)
            if !model.isEmpty { arguments += ["--model", model] }
            return (extra + arguments, true)
        case "codex":
            var arguments = ["exec", "--json", "--skip-git-repo-check"]
            if !model.isEmpty { arguments += ["-m", model] }
            return (extra + arguments + [prompt], false)
        case "ollama":
            return (extra + ["--url", ollamaURL, "--model", model], true)
        default:
            var arguments = extra
            if !model.isEmpty { arguments += ["--model", model] }
            return (arguments + [prompt], false)
        }
    }

    /// Ollama's address: `[runner.providers.ollama] url` in config.toml, else the runner's
    /// `OLLAMA_HOST`, else http://127.0.0.1:11434.
    static func ollamaURL(home: Home) -> String {
        if let data = FileManager.default.contents(atPath: home.configFile.path),
           let config = try? TOML.parse(String(decoding: data, as: UTF8.self)),
           let url = config["runner"]?.table?["providers"]?.table?["ollama"]?.table?["url"]?.string, !url.isEmpty {
            return url
        }
        if let host = ProcessInfo.processInfo.environment["OLLAMA_HOST"], !host.isEmpty {
            return host.hasPrefix("http://") || host.hasPrefix("https://") ? host : "http://" + host
        }
        return "http://127.0.0.1:11434"
    }

    /// Arguments that resume a session where the provider can; nil where it cannot.
    /// `prompt`: Codex's turn on resuming (Claude takes its turns on stdin).
    static func resumeArguments(provider: String, sessionId: String, providerSessionId: String, model: String, extra: [String],
                                askApprovals: Bool = true, prompt: String = "Continue where you left off.") -> [String]? {
        switch provider {
        case "claude":
            var arguments = ["-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
                             "--resume", providerSessionId.isEmpty ? sessionId : providerSessionId] + permissions(ask: askApprovals)
            if !model.isEmpty { arguments += ["--model", model] }
            return extra + arguments
        case "codex":
            guard !providerSessionId.isEmpty else { return nil }
            return extra + ["exec", "--json", "--skip-git-repo-check", "resume", providerSessionId, prompt]
        default:
            return nil
        }
    }
}
