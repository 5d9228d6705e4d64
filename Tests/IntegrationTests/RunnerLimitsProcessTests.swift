import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Glibc
import Testing

/// The runner's limits with real processes: daily budgets per project, retention, the sandbox
/// settings and `start`'s flags, cgroup caps (or the watchdog where cgroups cannot be written).
@Suite("runner limits", .serialized, .timeLimit(.minutes(4)))
struct RunnerLimitsProcessTests {
    static let fixtures = RunnerProcessTests.fixtures

    /// The runner's home with project p1 (group default) in its own folder.
    static func makeHome() async throws -> AgorHome {
        let agor = try await RunnerProcessTests.makeHome()
        let folder = agor.home.root.appendingPathComponent("p1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #expect(try AgorHome.run(["project", "add", "p1", "--group", "default", "--root", folder.path, "--home", agor.home.root.path]).status == 0)
        return agor
    }

    static func set(_ agor: AgorHome, _ key: String, _ value: String, project: String? = "p1") throws {
        let result = try AgorHome.run(["settings", "set", key, value, "--home", agor.home.root.path] + (project.map { ["--project", $0] } ?? []))
        #expect(result.status == 0, "\(result.output)")
    }

    /// `agor session start` of misbehave.py MODE ARGS; the id, or the refusal.
    static func start(_ agor: AgorHome, _ mode: [String], project: String? = "p1", flags: [String] = []) throws -> (id: String?, status: Int32, err: String) {
        let result = try RunnerProcessTests.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/usr/bin/python3",
                                                           "\(fixtures)/misbehave.py"] + mode + ["--prompt", "x", "--json"]
                                                           + (project.map { ["--project", $0] } ?? []) + flags)
        let object = (try? JSONSerialization.jsonObject(with: Data(result.out.utf8))) as? [String: Any]
        return (object?["id"] as? String, result.status, result.err)
    }

    static func logs(_ agor: AgorHome, _ id: String, as who: String = "operator") throws -> [[String: Any]] {
        try RunnerProcessTests.session(agor, ["logs", id, "--json"], as: who).out.split(separator: "\n")
            .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    static func list(_ agor: AgorHome, project: String) throws -> [[String: Any]] {
        try RunnerProcessTests.session(agor, ["list", "--project", project, "--json"]).out.split(separator: "\n")
            .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    @Test("a project's daily budget pauses its session, then refuses new starts in it and changes nothing")
    func dailyBudget() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        try Self.set(agor, "runner.daily.max_turns", "1")
        let started = try RunnerProcessTests.session(agor, ["start", "--agent", "w1", "--provider", "claude", "--command", "/usr/bin/python3",
                                                            "\(Self.fixtures)/fake_claude.py", "--prompt", "go", "--project", "p1", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        let paused = try await RunnerProcessTests.waitFor(agor, id, state: "needs_input")
        #expect(paused["state_reason"] as? String == "daily budget of project p1: 1 turns today (limit 1)")

        let refused = try Self.start(agor, ["turn"])
        #expect(refused.status != 0 && refused.id == nil && refused.err.contains("daily budget of project p1"), "\(refused)")
        #expect(try Self.list(agor, project: "p1").count == 1)
        // Other projects (here: none) have their own budget.
        let elsewhere = try Self.start(agor, ["turn"], project: nil)
        #expect(elsewhere.status == 0, "\(elsewhere.err)")
        #expect(try RunnerProcessTests.session(agor, ["stop", id]).status == 0)
    }

    @Test("a project whose agents may act without asking starts Claude with bypassPermissions: no approval is asked")
    func approvalsAuto() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        try Self.set(agor, "runner.approvals", "auto")
        let started = try RunnerProcessTests.session(agor, ["start", "--agent", "w1", "--provider", "claude", "--command", "/usr/bin/python3",
                                                            "\(Self.fixtures)/fake_claude.py", "--arg=--approval", "--prompt", "go", "--project", "p1", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        _ = try await RunnerProcessTests.waitFor(agor, id, state: "idle")
        let types = try Self.logs(agor, id).compactMap { $0["type"] as? String }
        #expect(!types.contains("approval.requested") && types.contains("turn.finished"), "\(types)")
        #expect(try RunnerProcessTests.session(agor, ["stop", id]).status == 0)
    }

    @Test("retention keeps the last N ended sessions of a project and removes the rest with their events and folders")
    func retention() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        try Self.set(agor, "runner.retention.keep_sessions", "1")
        let first = try #require(try Self.start(agor, ["turn"]).id)
        _ = try await RunnerProcessTests.waitFor(agor, first, state: "finished")
        let folder = agor.home.root.appendingPathComponent("data/runner/sessions/\(first)").path
        #expect(FileManager.default.fileExists(atPath: folder))
        let second = try #require(try Self.start(agor, ["turn"]).id)
        _ = try await RunnerProcessTests.waitFor(agor, second, state: "finished")
        let gone = try await eventually(100) { try RunnerProcessTests.session(agor, ["show", first, "--json"]).status != 0 }
        #expect(gone, "the older session is still there")
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(try Self.logs(agor, first).isEmpty)
        #expect(try Self.list(agor, project: "p1").map { $0["id"] as? String } == [second])
        #expect(try Self.logs(agor, second).count >= 3)
    }

    @Test("the sandbox from settings and start's flags: Landlock off, egress denied but for agor and allowed ports, strict required")
    func sandboxSettings() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let allowed = try Listener(), denied = try Listener()
        try Self.set(agor, "runner.sandbox.ports", "\(allowed.port)")
        let id = try #require(try Self.start(agor, ["connect", "\(allowed.port)", "\(denied.port)"], flags: ["--deny-egress"]).id)
        let ended = try await RunnerProcessTests.waitFor(agor, id, state: "finished")
        let sandbox = ended["sandbox"] as? [String: String] ?? [:]
        let texts = try Self.logs(agor, id).compactMap { $0["text"] as? String }
        #expect(texts.contains("\(allowed.port) connected"), "\(texts)")
        if sandbox["landlock_tcp"] == "held" {
            #expect(texts.contains("\(denied.port) refused: PermissionError"), "\(texts)")
        } else {
            #expect(sandbox["landlock_tcp"] == "unavailable", "\(sandbox)")   // a kernel before Landlock ABI 4
        }

        try Self.set(agor, "runner.sandbox.landlock", "off")
        let open = try #require(try Self.start(agor, ["turn"]).id)
        let shown = try await RunnerProcessTests.waitFor(agor, open, state: "finished")
        #expect((shown["sandbox"] as? [String: String])?["landlock"] == "off")

        // --strict requires the strict tier: it holds where bubblewrap works, else the start is refused and nothing is recorded.
        let strict = try Self.start(agor, ["turn"], flags: ["--strict"])
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") {
            let id = try #require(strict.id, "\(strict.err)")
            let held = try await RunnerProcessTests.waitFor(agor, id, state: "finished")
            #expect((held["sandbox"] as? [String: String])?["strict"] == "held", "\(held)")
            #expect(try Self.list(agor, project: "p1").count == 3)
        } else {
            #expect(strict.status != 0 && strict.err.contains("strict tier"), "\(strict)")
            #expect(try Self.list(agor, project: "p1").count == 2)
        }
    }

    @Test("as root, agents run as agor-agent: its own folders are its, the home's keys are not (Landlock off, to show this layer alone)")
    func agentUser() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        try Self.set(agor, "runner.sandbox.user", "on", project: nil)
        try Self.set(agor, "runner.sandbox.landlock", "off", project: nil)
        let script = #"""
            say() { printf '{"type":"text","text":"%s"}\n' "$1"; }
            say "uid $(id -u)"
            if cat "$AGOR_HOME/keys/w1.key" >/dev/null 2>&1; then say "home key read"; else say "home key refused"; fi
            if cat "$AGOR_KEY" >/dev/null 2>&1; then say "own key read"; else say "own key refused"; fi
            if echo x > "$HOME/note" 2>/dev/null; then say "home written"; else say "home refused"; fi
            """#
        let started = try RunnerProcessTests.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/bin/sh",
                                                            "--arg=-c", "--arg=\(script)", "--prompt", "x", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        let ended = try await RunnerProcessTests.waitFor(agor, id, state: "finished")
        let texts = try Self.logs(agor, id).compactMap { $0["text"] as? String }
        let layer = (ended["sandbox"] as? [String: String])?["user"]
        if geteuid() == 0 && ["/usr/sbin/useradd", "/sbin/useradd"].contains(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let account = try #require(getpwnam("agor-agent"), "agor init as root creates agor-agent")
            #expect(layer == "held", "\(ended)")
            #expect(texts == ["uid \(account.pointee.pw_uid)", "home key refused", "own key read", "home written"], "\(texts)")
        } else {
            #expect(layer == "unavailable" && texts.first == "uid \(geteuid())", "\(ended)")
        }
    }

    @Test("the strict tier: bubblewrap with no network but loopback; agor through ipc with the agent's own key; the API through the allow-listed proxy")
    func strictTier() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        try Self.set(agor, "runner.sandbox.strict", "on", project: nil)
        let api = try Listener()
        try Self.set(agor, "runner.sandbox.proxy_hosts", "127.0.0.1", project: nil)
        let script = #"""
            say() { printf '{"type":"text","text":"%s"}\n' "$1"; }
            tunnel() { python3 -c 'import socket, sys
            s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
            s.sendall(b"CONNECT " + sys.argv[1].encode() + b" HTTP/1.1\r\n\r\n")
            print(s.recv(200).decode().split("\r\n")[0])' "$1"; }
            say "net $(awk -F: 'NR > 2 { gsub(/ /, "", $1); printf "%s ", $1 }' /proc/net/dev)"
            if n=$("$0" session list --json 2>/dev/null | wc -l) && [ "$n" -ge 1 ]; then say "agor over ipc"; else say "agor unreachable over ipc"; fi
            if AGOR_TRANSPORT=tcp "$0" session list --timeout 1 >/dev/null 2>&1; then say "tcp reached"; else say "tcp unreachable"; fi
            if echo x > note 2>/dev/null; then say "work written"; else say "work refused"; fi
            say "$HTTPS_PROXY"
            say "allowed: $(tunnel 127.0.0.1:API_PORT)"
            say "not allowed: $(tunnel example.com:443)"
            """#.replacingOccurrences(of: "API_PORT", with: "\(api.port)")
        let started = try RunnerProcessTests.session(agor, ["start", "--agent", "w1", "--provider", "ndjson", "--command", "/bin/sh",
                                                            "--arg=-c", "--arg=\(script)", "--arg=\(AgorHome.agor.path)", "--prompt", "x", "--json"])
        let id = try #require(((try? JSONSerialization.jsonObject(with: Data(started.out.utf8))) as? [String: Any])?["id"] as? String, "\(started.err)")
        let ended = try await RunnerProcessTests.waitFor(agor, id, state: "finished")
        let sandbox = ended["sandbox"] as? [String: String] ?? [:]
        let texts = try Self.logs(agor, id).compactMap { $0["text"] as? String }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") {
            #expect(sandbox["strict"] == "held" && sandbox["process_group"] == "held" && sandbox["no_new_privs"] == "held", "\(sandbox)")
            #expect(["held", "unavailable"].contains(sandbox["landlock"] ?? ""), "\(sandbox)")
            #expect(texts == ["net lo ", "agor over ipc", "tcp unreachable", "work written", "http://127.0.0.1:3128",
                              "allowed: HTTP/1.1 200 Connection established", "not allowed: HTTP/1.1 403 Forbidden"], "\(texts)")
            #expect(sandbox["proxy"] == "held", "\(sandbox)")
            let refusals = try Self.logs(agor, id).filter { $0["kind"] as? String == "proxy_refused" }.compactMap { $0["message"] as? String }
            #expect(refusals.count == 1 && refusals[0].contains("example.com:443"), "\(refusals)")
        } else {
            #expect(sandbox["strict"] == "unavailable", "\(sandbox)")
        }
    }

    @Test("a memory cap ends an agent that goes over it, as a sandbox violation (cgroup where writable, else the watchdog)")
    func memoryCap() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let id = try #require(try Self.start(agor, ["eat", "400"], flags: ["--memory-mb", "64"]).id)
        let ended = try await RunnerProcessTests.waitFor(agor, id, state: "failed")
        let layer = (ended["sandbox"] as? [String: String])?["memory_cap"]
        #expect(layer == "held" || layer == "watchdog", "\(ended)")
        let violations = try Self.logs(agor, id).filter { $0["kind"] as? String == "sandbox_violation" }
        #expect(violations.count == 1, "\(violations)")
        let reason = violations.first?["message"] as? String ?? ""
        let expected = layer == "held" ? "memory cap: the kernel killed" : "memory cap (watchdog)"
        #expect(reason.hasPrefix(expected), "\(reason)")
        if layer == "held" { #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/agor/\(id)")) }

        // Without cgroups (caps off), the runner's watchdog holds the cap.
        try Self.set(agor, "runner.sandbox.caps", "off")
        let watched = try #require(try Self.start(agor, ["eat", "400"], flags: ["--memory-mb", "64"]).id)
        let killed = try await RunnerProcessTests.waitFor(agor, watched, state: "failed")
        #expect((killed["sandbox"] as? [String: String])?["memory_cap"] == "watchdog", "\(killed)")
        let reasons = try Self.logs(agor, watched).filter { $0["kind"] as? String == "sandbox_violation" }.compactMap { $0["message"] as? String }
        #expect(reasons.count == 1 && reasons[0].hasPrefix("memory cap (watchdog)"), "\(reasons)")
    }

    @Test("a process cap refuses forks past it and ends the agent (where the pids cgroup is writable)")
    func processCap() async throws {
        let agor = try await Self.makeHome()
        defer { agor.cleanUp() }
        let id = try #require(try Self.start(agor, ["spawn", "20"], flags: ["--max-processes", "5"]).id)
        var shown = try await RunnerProcessTests.waitFor(agor, id, state: "running")
        _ = try await eventually(100, every: .milliseconds(100)) {
            guard !["failed", "finished"].contains(shown["state"] as? String ?? "") else { return true }
            shown = try RunnerProcessTests.show(agor, id)
            return false
        }
        let layer = (shown["sandbox"] as? [String: String])?["process_cap"]
        if layer == "held" {
            #expect(shown["state"] as? String == "failed", "\(shown)")
            let violations = try Self.logs(agor, id).filter { $0["kind"] as? String == "sandbox_violation" }
            let reason = violations.first?["message"] as? String ?? ""
            #expect(reason.hasPrefix("process cap:"), "\(violations)")
        } else {
            #expect(layer == "rlimit", "\(shown)")
            _ = try RunnerProcessTests.session(agor, ["stop", id])
        }
    }
}

/// A TCP listener on 127.0.0.1 (for the egress test); closed when released.
final class Listener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw CocoaError(.featureUnsupported)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
