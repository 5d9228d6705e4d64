import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Testing

@Suite(.serialized) struct SupervisorTests {
    /// A service that cannot start (its key is gone) is restarted with back-off, then left down
    /// after the failure limit, and says so in run/up.json.
    @Test func crashingServiceStaysDownAfterTheFailureLimit() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        try FileManager.default.removeItem(at: it.home.secretKeyFile("btmsg"))
        var policy = Supervisor.Policy()
        policy.firstBackoff = .milliseconds(20)
        policy.maxBackoff = .milliseconds(100)
        policy.answerTimeout = .milliseconds(300)
        policy.handleSignals = false
        let supervisor = try Supervisor(home: it.home, executable: AgorHome.agor, policy: policy)
        let running = Task { await supervisor.run() }
        var state: UpState?
        _ = await eventually(400) {
            state = UpState.read(it.home)
            return state?.services.first?.state == "failed"
        }
        #expect(state?.services.first?.state == "failed")
        #expect(state?.services.first?.restarts == policy.failureLimit - 1)
        await supervisor.stop()
        #expect(await running.value == false)
        #expect(!FileManager.default.fileExists(atPath: it.home.upStateFile.path))
    }

    /// A service killed again and again after healthy runs is restarted every time, past the
    /// failure limit: only quick exits (a crash loop) count toward it.
    @Test func healthyRunsResetTheBackoffAndDoNotCountTowardTheLimit() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        var policy = Supervisor.Policy()
        policy.firstBackoff = .milliseconds(20)
        policy.failureLimit = 2
        policy.healthyRun = 1
        policy.answerTimeout = .seconds(20)
        policy.handleSignals = false
        let supervisor = try Supervisor(home: it.home, executable: AgorHome.agor, policy: policy)
        let running = Task { await supervisor.run() }
        func btmsg() -> UpState.Service? { UpState.read(it.home)?.services.first { $0.name == "btmsg" } }
        for round in 1...3 {
            // Running, answering, and up for longer than a healthy run (run/up.json keeps whole seconds): then killed.
            let up = try await eventually(400) {
                guard let service = btmsg(), service.state == "running", service.restarts == round - 1, let started = service.startedAt,
                      Date().timeIntervalSince(started) > 2.2 else { return false }
                return try await it.waitUntilAnswers("btmsg")
            }
            #expect(up, "round \(round): \(String(describing: btmsg()))")
            let pid = try #require(btmsg()?.pid)
            try #require(pid > 0)   // kill(0, …) would signal this whole process group
            kill(pid, SIGKILL)
        }
        let restarted = await eventually(400) { btmsg()?.restarts == 3 && btmsg()?.state == "running" }
        #expect(restarted, "\(String(describing: btmsg()))")
        await supervisor.stop()
        _ = await running.value
    }

    /// Stopping is the subprocess library's teardown sequence: SIGTERM, and SIGKILL for a service
    /// that ignores it once the stop budget is spent; stop() returns with every service gone.
    @Test func aServiceThatIgnoresSIGTERMIsKilledWhenTheBudgetIsSpent() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        // Stands in for `agor serve NAME --home H`: notes its pid, ignores SIGTERM, never answers.
        let stubborn = it.home.root.appendingPathComponent("stubborn.sh")
        try "#!/bin/sh\ntrap '' TERM\necho $$ > \"$4/$2.pid\"\nwhile :; do sleep 0.1; done\n".write(to: stubborn, atomically: true, encoding: .utf8)
        chmod(stubborn.path, 0o755)
        var policy = Supervisor.Policy()
        policy.answerTimeout = .milliseconds(200)
        policy.stopTimeout = .seconds(1)
        policy.handleSignals = false
        let supervisor = try Supervisor(home: it.home, executable: stubborn, policy: policy)
        let running = Task { await supervisor.run() }
        var pids: [pid_t] = []
        _ = await eventually {
            pids = ServiceCatalog.names.compactMap { name in
                (try? String(contentsOf: it.home.root.appendingPathComponent("\(name).pid"), encoding: .utf8))
                    .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            return pids.count == ServiceCatalog.names.count
        }
        #expect(pids.count == ServiceCatalog.names.count)
        for pid in pids { #expect(kill(pid, 0) == 0) }
        for pid in pids { kill(pid, SIGTERM) }   // ignored: they go on
        try await Task.sleep(for: .milliseconds(200))
        for pid in pids { #expect(kill(pid, 0) == 0) }
        await supervisor.stop()
        for pid in pids { #expect(kill(pid, 0) != 0, "pid \(pid) outlived stop()") }
        #expect(await running.value == false)   // none of them ever answered
        #expect(!FileManager.default.fileExists(atPath: it.home.upStateFile.path))
    }
}

/// The restart rule alone: healthy runs restart after the first back-off and clear the count;
/// quick exits double the back-off up to its maximum and, at the limit within the window, stay down.
@Suite struct RestartRuleTests {
    let rule = RestartRule(firstBackoff: .seconds(1), maxBackoff: .seconds(4), healthyRun: 60, failureLimit: 5, failureWindow: 300)

    @Test func quickExitsBackOffThenStayDown() {
        var history = RestartRule.History()
        let start = Date()
        let decisions = (0..<5).map { rule.decide(ranFor: 2, now: start.addingTimeInterval(Double($0) * 10), history: &history) }
        #expect(decisions == [.restart(after: .seconds(1)), .restart(after: .seconds(2)), .restart(after: .seconds(4)),
                              .restart(after: .seconds(4)), .stayDown(quickExits: 5)])
    }

    @Test func aHealthyRunResetsTheBackoffAndTheCount() {
        var history = RestartRule.History()
        let start = Date()
        for n in 0..<4 { _ = rule.decide(ranFor: 1, now: start.addingTimeInterval(Double(n)), history: &history) }
        #expect(rule.decide(ranFor: 70, now: start.addingTimeInterval(100), history: &history) == .restart(after: .seconds(1)))
        #expect(history.quickExits.isEmpty)
        // A service killed once every 70 s (each run healthy) never backs off and never stays down.
        for n in 0..<20 {
            #expect(rule.decide(ranFor: 70, now: start.addingTimeInterval(200 + Double(n) * 70), history: &history) == .restart(after: .seconds(1)))
        }
    }

    @Test func quickExitsOutsideTheWindowAreForgotten() {
        var history = RestartRule.History()
        let start = Date()
        for n in 0..<4 { _ = rule.decide(ranFor: 1, now: start.addingTimeInterval(Double(n) * 100), history: &history) }
        // The first three are older than 300 s by now: this one is the second in the window.
        #expect(rule.decide(ranFor: 1, now: start.addingTimeInterval(550), history: &history) == .restart(after: .seconds(2)))
    }
}
