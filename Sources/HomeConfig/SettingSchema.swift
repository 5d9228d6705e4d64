import Bus
import Foundation

/// The settings agor knows, their types, limits and built-in defaults. Families of keys carry a
/// name after a dot: `env.NAME`, `model.PROVIDER`, `keybinding.CONTEXT.ACTION`.
public enum SettingSchema {
    public static let themes = ["system", "dark", "light"]

    /// Built-in defaults (the last level of every lookup).
    public static let defaults: [String: SettingValue] = [
        "theme": .string("system"),
        "shell": .string("/bin/bash"),
        "plugins": .list([]),
        "stall_threshold_s": .integer(300),
        "runner.tool_timeout_s": .integer(1800),
        "runner.line_limit_mb": .integer(10),
        "runner.budget.max_cost_cents": .integer(0),
        "runner.budget.max_tokens": .integer(0),
        "runner.budget.max_turns": .integer(0),
        "runner.loop_guard": .integer(5),
        "runner.idle_timeout_s": .integer(3600),
        "runner.worktree": .string("off"),
        "runner.approvals": .string("ask"),
        "runner.on_message": .string("wake"),
        "runner.on_message.provider": .string("claude"),
        "runner.team.max_depth": .integer(2),
        "runner.team.max_children": .integer(4),
        "runner.daily.max_cost_cents": .integer(0),
        "runner.daily.max_tokens": .integer(0),
        "runner.daily.max_turns": .integer(0),
        "runner.retention.keep_sessions": .integer(0),
        "runner.retention.keep_days": .integer(0),
        "runner.sandbox.landlock": .string("on"),
        "runner.sandbox.egress": .string("allow"),
        "runner.sandbox.ports": .list([]),
        "runner.sandbox.memory_mb": .integer(0),
        "runner.sandbox.max_processes": .integer(0),
        "runner.sandbox.cpu_seconds": .integer(0),
        "runner.sandbox.caps": .string("on"),
        "runner.sandbox.strict": .string("off"),
        "runner.sandbox.user": .string("on"),
        "runner.sandbox.proxy_hosts": .list([]),
        "retention.keep_days": .integer(0),
        "retention.keep_messages": .integer(0),
        "supervisor.healthy_run_s": .integer(60),
        "supervisor.failure_limit": .integer(5),
    ]

    /// One line per key family, for help texts and errors.
    public static let summary = """
        theme (system|dark|light), shell (absolute path), env.NAME (text), model.PROVIDER (model name),
        plugins (comma-separated names), stall_threshold_s (10-86400), runner.tool_timeout_s (10-86400: silence while a
        tool runs before a session is stalled), runner.line_limit_mb (1-1024), runner.budget.max_cost_cents,
        runner.budget.max_tokens, runner.budget.max_turns (per session, 0 = none), runner.loop_guard (the same tool
        call this many times in a row pauses the session; 0 = off), runner.idle_timeout_s (an idle session's input is
        closed after this long, so it finishes; 0 = never), runner.worktree (off|on: a git worktree per session of a
        project), runner.approvals (ask|auto: Claude asks agor before it uses a tool, or acts without asking), runner.on_message (ignore|wake|start: what a btmsg message to an agent does), runner.on_message.provider (what `start` starts), runner.team.max_depth, runner.team.max_children (agent teams: how deep, how many children a session runs), runner.daily.max_cost_cents, runner.daily.max_tokens, runner.daily.max_turns (per project per UTC day,
        0 = none), runner.retention.keep_sessions (ended sessions kept per project, 0 = all), runner.retention.keep_days
        (0 = forever), runner.sandbox.landlock (off|on|required), runner.sandbox.egress (allow|deny),
        runner.sandbox.ports (TCP ports an agent may connect to when egress is denied), runner.sandbox.memory_mb,
        runner.sandbox.max_processes, runner.sandbox.cpu_seconds (0 = none), runner.sandbox.caps (off|on|required:
        memory and process caps by cgroups), runner.sandbox.strict (off|on|required: bubblewrap),
        runner.sandbox.user (off|on|required: agents run as the user agor-agent when the runner is root),
        runner.sandbox.proxy_hosts (hosts the strict tier's proxy opens tunnels to; empty = the provider's API),
        retention.keep_days (days, 0 = forever),
        retention.keep_messages (count, 0 = no limit), supervisor.healthy_run_s (1-86400: a run this long was
        healthy, its exit restarts at once), supervisor.failure_limit (1-1000: quick exits in 5 minutes before
        `agor up` leaves a service down; both read when `agor up` starts), keybinding.CONTEXT.ACTION (chord like "Ctrl+K Ctrl+S";
        contexts: \(Keybinding.contexts.joined(separator: ", ")))
        """

    public static func isKnown(_ key: String) -> Bool { (try? kind(of: key)) != nil }

    /// Parses a value given as text (the CLI's and the API's form) for `key`.
    public static func parse(_ key: String, _ text: String) throws -> SettingValue {
        switch try kind(of: key) {
        case .integer(let range):
            guard let number = Int64(text.trimmingCharacters(in: .whitespaces)) else {
                throw HomeConfigError(.badValue, "\(key) is a whole number in \(range.lowerBound)...\(range.upperBound), not \(text.prefix(40))")
            }
            return try check(key, .integer(number))
        case .list, .ports:
            let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return try check(key, .list(items))
        case .text, .choice, .path, .chord:
            return try check(key, .string(text))
        }
    }

    /// Checks a typed value (from a file or a profile) for `key`; a chord comes back normalised.
    public static func check(_ key: String, _ value: SettingValue) throws -> SettingValue {
        let kind = try kind(of: key)
        switch (kind, value) {
        case (.integer(let range), .integer(let number)):
            guard range.contains(number) else { throw HomeConfigError(.badValue, "\(key) must be in \(range.lowerBound)...\(range.upperBound), not \(number)") }
            return value
        case (.list, .list(let items)):
            for item in items where !Principal.isValidName(item) {
                throw HomeConfigError(.badValue, "\(key): \(item.prefix(40)) is not a name (letters, digits, '-', '_', '.')")
            }
            return value
        case (.ports, .list(let items)):
            for item in items where UInt16(item).map({ $0 == 0 }) ?? true {
                throw HomeConfigError(.badValue, "\(key): \(item.prefix(40)) is not a TCP port (1-65535)")
            }
            return value
        case (.choice(let choices), .string(let text)):
            guard choices.contains(text) else { throw HomeConfigError(.badValue, "\(key) is one of \(choices.joined(separator: ", ")), not \(text.prefix(40))") }
            return value
        case (.path, .string(let text)):
            guard text.hasPrefix("/"), text.utf8.count <= 1024, !text.contains("\0") else { throw HomeConfigError(.badValue, "\(key) is an absolute path") }
            return value
        case (.text, .string(let text)):
            guard text.utf8.count <= 4096, !text.contains("\0") else { throw HomeConfigError(.badValue, "\(key) is text of at most 4096 bytes") }
            return value
        case (.chord, .string(let text)):
            return .string(try Keybinding.normalize(text))
        default:
            throw HomeConfigError(.badValue, "\(key) has the wrong type of value")
        }
    }

    enum Kind {
        case integer(ClosedRange<Int64>), list, ports, choice([String]), path, text, chord
    }

    static func kind(of key: String) throws -> Kind {
        switch key {
        case "theme": return .choice(themes)
        case "shell": return .path
        case "plugins": return .list
        case "stall_threshold_s": return .integer(10...86_400)
        case "runner.tool_timeout_s": return .integer(10...86_400)
        case "runner.line_limit_mb": return .integer(1...1024)
        case "runner.budget.max_cost_cents", "runner.budget.max_tokens", "runner.budget.max_turns": return .integer(0...1_000_000_000_000)
        case "runner.loop_guard": return .integer(0...1000)
        case "runner.idle_timeout_s": return .integer(0...604_800)
        case "runner.worktree": return .choice(["off", "on"])
        case "runner.approvals": return .choice(["ask", "auto"])
        case "runner.on_message": return .choice(["ignore", "wake", "start"])
        case "runner.on_message.provider": return .choice(["claude", "codex", "ollama", "ndjson"])
        case "runner.team.max_depth": return .integer(0...10)
        case "runner.team.max_children": return .integer(0...100)
        case "runner.daily.max_cost_cents", "runner.daily.max_tokens", "runner.daily.max_turns": return .integer(0...1_000_000_000_000)
        case "runner.retention.keep_sessions": return .integer(0...1_000_000)
        case "runner.retention.keep_days": return .integer(0...36_500)
        case "runner.sandbox.landlock", "runner.sandbox.caps", "runner.sandbox.strict", "runner.sandbox.user": return .choice(["off", "on", "required"])
        case "runner.sandbox.egress": return .choice(["allow", "deny"])
        case "runner.sandbox.ports": return .ports
        case "runner.sandbox.proxy_hosts": return .list
        case "runner.sandbox.memory_mb": return .integer(0...1_048_576)
        case "runner.sandbox.max_processes": return .integer(0...1_000_000)
        case "runner.sandbox.cpu_seconds": return .integer(0...31_536_000)
        case "retention.keep_days": return .integer(0...36_500)
        case "retention.keep_messages": return .integer(0...1_000_000_000)
        case "supervisor.healthy_run_s": return .integer(1...86_400)
        case "supervisor.failure_limit": return .integer(1...1000)
        default: break
        }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, parts[0] == "env", isEnvironmentName(parts[1]) { return .text }
        if parts.count == 2, parts[0] == "model", Principal.isValidName(parts[1]) { return .text }
        if Keybinding(key: key) != nil { return .chord }
        throw HomeConfigError(.unknownKey, "unknown setting \(key.prefix(80)); known: \(summary)")
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first), name.utf8.count <= 128 else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
