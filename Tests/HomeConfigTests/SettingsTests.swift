import Bus
import Foundation
import HomeConfig
import Testing

@Suite("settings cascade")
struct SettingsTests {
    func tempHome() -> Home {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return Home(root: root)
    }

    @Test("the most specific level wins per key, down to the built-in default")
    func mostSpecificWins() throws {
        var settings = Settings()
        let site = Project(name: "site", group: "web", root: "/srv/site")
        try settings.set("theme", text: "dark", at: .global)
        try settings.set("theme", text: "light", at: .group("web"))
        try settings.set("shell", text: "/bin/zsh", at: .project("site"))
        try settings.set("env.EDITOR", text: "vim", at: .group("web"))
        #expect(settings.effective("theme", project: site)! == (.string("light"), .group("web")))
        #expect(settings.effective("theme", group: "ops")! == (.string("dark"), .global))
        #expect(settings.effective("theme")! == (.string("dark"), .global))
        #expect(settings.effective("shell", project: site)! == (.string("/bin/zsh"), .project("site")))
        #expect(settings.effective("shell", group: "web")! == (.string("/bin/bash"), .builtIn))
        #expect(settings.effective("env.EDITOR", project: site)!.level == .group("web"))
        #expect(settings.effective("env.EDITOR") == nil)
        // Unsetting falls back to the next level.
        let removed = settings.unset("theme", at: .group("web"))
        #expect(removed)
        #expect(settings.effective("theme", project: site)! == (.string("dark"), .global))
        let removedAgain = settings.unset("theme", at: .group("web"))
        #expect(!removedAgain)
        let all = settings.effectiveAll(project: site)
        #expect(all.map(\.key) == all.map(\.key).sorted() && all.contains { $0.key == "stall_threshold_s" && $0.level == .builtIn })
    }

    @Test("values are checked against the schema; chords are normalised; a conflicting chord is refused with both named")
    func valuesAndKeybindings() throws {
        var settings = Settings()
        for (key, value) in [("theme", "purple"), ("stall_threshold_s", "5"), ("stall_threshold_s", "soon"), ("shell", "zsh"),
                             ("plugins", "ok,not ok"), ("env.lower", "x"), ("keybinding.desk.save", "Ctrl+S"),
                             ("keybinding.terminal.copy", "Hyper+C"), ("keybinding.terminal.copy", "Ctrl+Ctrl+C"),
                             ("keybinding.terminal.copy", "A B C D"), ("nonsense", "1")] {
            #expect(throws: HomeConfigError.self, "\(key) = \(value)") { try settings.set(key, text: value, at: .global) }
        }
        #expect(settings.global.isEmpty)
        try settings.set("keybinding.terminal.copy", text: "shift+ctrl+c", at: .global)
        #expect(settings.global["keybinding.terminal.copy"] == .string("Ctrl+Shift+C"))
        try settings.set("keybinding.palette.save", text: "ctrl+k ctrl+s", at: .global)
        #expect(settings.global["keybinding.palette.save"] == .string("Ctrl+K Ctrl+S"))
        // The same chord in another context, or at another level, is fine; in the same context it is not.
        try settings.set("keybinding.terminal.save", text: "Ctrl+K Ctrl+S", at: .global)
        try settings.set("keybinding.terminal.paste", text: "Ctrl+Shift+C", at: .group("web"))
        do {
            try settings.set("keybinding.terminal.paste", text: "Control+Shift+c", at: .global)
            Issue.record("a conflicting chord was accepted")
        } catch let error as HomeConfigError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("copy") && error.message.contains("paste") && error.message.contains("Ctrl+Shift+C"))
        }
        #expect(settings.global["keybinding.terminal.paste"] == nil)
        try settings.set("plugins", text: "lint, fmt", at: .global)
        #expect(settings.global["plugins"] == .list(["lint", "fmt"]))
    }

    @Test("the supervisor's restart settings: defaults 60 s and 5, ranges enforced")
    func supervisorSettings() throws {
        var settings = Settings()
        #expect(settings.integer("supervisor.healthy_run_s") == 60)
        #expect(settings.integer("supervisor.failure_limit") == 5)
        for (key, value) in [("supervisor.healthy_run_s", "0"), ("supervisor.healthy_run_s", "86401"), ("supervisor.failure_limit", "0"),
                             ("supervisor.failure_limit", "lots")] {
            #expect(throws: HomeConfigError.self, "\(key) = \(value)") { try settings.set(key, text: value, at: .global) }
        }
        try settings.set("supervisor.healthy_run_s", text: "5", at: .global)
        #expect(settings.integer("supervisor.healthy_run_s") == 5)
    }

    @Test("the runner's sandbox, budget and retention settings refuse what is not theirs")
    func runnerSettings() throws {
        var settings = Settings()
        for (key, value) in [("runner.sandbox.ports", "443,99999"), ("runner.sandbox.ports", "0"), ("runner.sandbox.ports", "https"),
                             ("runner.sandbox.strict", "maybe"), ("runner.sandbox.user", "root"), ("runner.sandbox.egress", "some"),
                             ("runner.sandbox.memory_mb", "-1"), ("runner.daily.max_turns", "many"), ("runner.retention.keep_days", "40000"),
                             ("runner.sandbox.proxy_hosts", "api.anthropic.com,evil host")] {
            #expect(throws: HomeConfigError.self, "\(key) = \(value)") { try settings.set(key, text: value, at: .global) }
        }
        #expect(settings.global.isEmpty)
        try settings.set("runner.sandbox.ports", text: "443, 8080", at: .global)
        #expect(settings.global["runner.sandbox.ports"] == .list(["443", "8080"]))
        try settings.set("runner.sandbox.strict", text: "required", at: .group("web"))
        try settings.set("runner.daily.max_cost_cents", text: "500", at: .global)
        #expect(settings.effective("runner.sandbox.strict", group: "web")?.value == .string("required"))
    }

    @Test("the file round-trips, and a damaged or hand-broken file is refused with where")
    func fileRoundTrip() throws {
        let home = tempHome()
        defer { try? FileManager.default.removeItem(at: home.root) }
        #expect(try Settings.load(from: home) == Settings())
        var settings = Settings()
        try settings.set("theme", text: "dark", at: .global)
        try settings.set("retention.keep_days", text: "30", at: .group("web"))
        try settings.set("keybinding.agent.stop", text: "Ctrl+.", at: .project("site"))
        try settings.save(to: home)
        #expect(try Settings.load(from: home) == settings)
        for broken in ["[global]\ntheme = \"purple\"\n", "[global]\nnope = 1\n", "[other]\n", "[groups]\nweb = 3\n", "[global\n"] {
            try broken.write(to: Settings.file(in: home), atomically: true, encoding: .utf8)
            #expect(throws: HomeConfigError.self, "\(broken)") { try Settings.load(from: home) }
        }
    }
}
