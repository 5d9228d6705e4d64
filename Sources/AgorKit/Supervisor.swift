import Bus
import Dispatch
import Foundation
import Subprocess
import SystemPackage

/// `agor up`: runs each service as its own process (`agor serve NAME`), restarts one that exited
/// by the `RestartRule` (a run of 60 s or more was healthy and restarts after 1 s; quick exits
/// back off 1 s doubling to 30 s, and 5 of them within 5 minutes leave it down), and on SIGTERM or
/// SIGINT stops them all in reverse order within 10 seconds, with no restarts once stopping.
public actor Supervisor {
    public struct Policy: Sendable {
        public var firstBackoff: Duration = .seconds(1)
        public var maxBackoff: Duration = .seconds(30)
        public var failureLimit = 5
        public var failureWindow: TimeInterval = 300
        /// A run at least this long was healthy: its exit is not part of a crash loop.
        public var healthyRun: TimeInterval = 60
        public var stopTimeout: Duration = .seconds(10)
        public var answerTimeout: Duration = .seconds(20)
        /// Stop on SIGTERM/SIGINT (off for supervisors embedded in tests).
        public var handleSignals = true
        public init() {}

        var restartRule: RestartRule {
            RestartRule(firstBackoff: firstBackoff, maxBackoff: maxBackoff, healthyRun: healthyRun,
                        failureLimit: failureLimit, failureWindow: failureWindow)
        }
    }

    private final class Child {
        let name: String
        let endpoints: BusConfig.ServiceEndpoints
        /// The loop that runs, waits for and restarts this service; cancelling it stops the service
        /// (the teardown sequence) and ends the loop.
        var loop: Task<Void, Never>?
        var pid: pid_t?
        var startedAt: Date?
        var restarts = 0
        var history = RestartRule.History()
        var state = "starting"
        init(name: String, endpoints: BusConfig.ServiceEndpoints) {
            self.name = name
            self.endpoints = endpoints
        }
    }

    private let home: Home
    private let executable: URL
    private let policy: Policy
    private let client: ServiceClient
    private var children: [Child] = []
    private var stopping = false
    private var stopped: [CheckedContinuation<Void, Never>] = []
    private var signalSources: [DispatchSourceSignal] = []

    public init(home: Home, executable: URL, policy: Policy = Policy()) throws {
        self.home = home
        self.executable = executable
        self.policy = policy
        client = try ServiceClient(home: home, keyFile: home.secretKeyFile("operator"))
        children = ServiceCatalog.supervised(in: client.config).map { Child(name: $0.name, endpoints: $0) }
    }

    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Starts everything, reports what answers, and returns after a signal has stopped it all.
    /// Returns false when a service never answered at start.
    @discardableResult
    public func run() async -> Bool {
        if policy.handleSignals { installSignalHandlers() }
        if let previous = UpState.read(home), kill(previous.supervisorPid, 0) == 0, previous.supervisorPid != getpid() {
            say("agor up: another agor up (pid \(previous.supervisorPid)) runs on \(home.root.path); stop it first")
            return false
        }
        let others = client.config.services.map(\.name).filter { !ServiceCatalog.names.contains($0) }
        if !others.isEmpty {
            say("agor up: config.toml also names \(others.joined(separator: ", ")), which this build does not run (run it yourself, or remove its entry)")
        }
        for child in children { child.loop = Task { await self.supervise(child) } }
        var allAnswer = true
        for child in children {
            let answered = await waitUntilAnswers(child)
            if !answered { allAnswer = false }
        }
        let rows = children.map { child in
            [child.name, "\(child.pid ?? 0)", child.endpoints.rpc, child.endpoints.pub,
             child.endpoints.http.map { "http://\($0)/" } ?? "-", child.state]
        }
        for line in alignedRows([["SERVICE", "PID", "RPC", "EVENTS", "HTTP", "STATE"]] + rows) { say(line) }
        if stopping {
            // A signal came during start-up.
        } else if allAnswer {
            say("agor up: \(children.count) service(s) answer on \(home.root.path); Ctrl-C or SIGTERM stops them")
            for line in UpGreeting.lines(home: home, config: client.config) { say(line) }
        } else {
            say("agor up: some services did not answer (see \(home.logsFolder.path)); still supervising")
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if stoppedDone { c.resume() } else { stopped.append(c) }
        }
        return allAnswer
    }

    private var stoppedDone = false

    private func installSignalHandlers() {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                Task { await self.stop() }
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Runs the service until the supervisor stops: spawn (swift-subprocess), wait for its exit
    /// (the library waits on a pidfd; no polling), decide by the `RestartRule`, sleep, spawn again.
    private func supervise(_ child: Child) async {
        while !stopping && !Task.isCancelled {
            let status = await runOnce(child)
            child.pid = nil
            if stopping || Task.isCancelled {
                if case .signaled(SIGKILL)? = status { say("agor up: \(child.name) did not stop in time; killed it") }
                child.state = "stopped"
                writeState()
                return
            }
            let now = Date()
            let ranFor = child.startedAt.map { now.timeIntervalSince($0) } ?? 0
            let statusText: String
            switch status {
            case .exited(let code)?: statusText = "exited (status \(code))"
            case .signaled(let signal)?: statusText = "ended by signal \(signal)"
            case nil: statusText = "did not start"
            }
            switch policy.restartRule.decide(ranFor: ranFor, now: now, history: &child.history) {
            case .stayDown(let quickExits):
                child.state = "failed"
                say("agor up: \(child.name) \(statusText) \(quickExits) times within \(Int(policy.failureWindow)) s, each within \(Int(policy.healthyRun)) s of its start; it stays down")
                writeState()
                return
            case .restart(let delay):
                child.state = "restarting"
                say("agor up: \(child.name) \(statusText) after \(String(format: "%.1f", ranFor)) s; restarting in \(delay)")
                writeState()
                do { try await Task.sleep(for: delay) } catch { continue }   // cancelled: the loop ends above
                child.restarts += 1
                Task { if await self.waitUntilAnswers(child) { self.say("agor up: \(child.name) answers again (pid \(child.pid ?? 0))") } }
            }
        }
    }

    /// One run of `agor serve NAME`, its output appended to logs/NAME.out. Returns how it ended, or
    /// nil when it could not start. Cancelled (the supervisor stops): SIGTERM, SIGKILL once the
    /// stop budget is spent.
    private func runOnce(_ child: Child) async -> TerminationStatus? {
        let outPath = FilePath(home.logsFolder.appendingPathComponent("\(child.name).out").path)
        do {
            try FileManager.default.createDirectory(at: home.logsFolder, withIntermediateDirectories: true)
            let out = try FileDescriptor.open(outPath, .writeOnly, options: [.append, .create], permissions: [.ownerReadWrite, .groupRead, .otherRead])
            let err = try out.duplicate()
            var options = PlatformOptions()
            // On cancel: SIGTERM and wait; `stop()` kills what outlives the shared budget.
            options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: policy.stopTimeout)]
            let result = try await Subprocess.run(
                .path(FilePath(executable.path)), arguments: ["serve", child.name, "--home", home.root.path],
                platformOptions: options, input: .none,
                output: .fileDescriptor(out, closeAfterSpawningProcess: true),
                error: .fileDescriptor(err, closeAfterSpawningProcess: true)
            ) { execution in
                child.pid = execution.processIdentifier.value
                child.startedAt = Date()
                child.state = "running"
                writeState()
            }
            return result.terminationStatus
        } catch {
            child.state = "failed to start: \(error)"
            say("agor up: cannot start \(child.name): \(error)")
            writeState()
            return nil
        }
    }

    private var stopDeadline: ContinuousClock.Instant?

    private func waitUntilAnswers(_ child: Child) async -> Bool {
        let deadline = ContinuousClock.now + policy.answerTimeout
        while ContinuousClock.now < deadline && !stopping {
            guard child.pid != nil else {
                if child.state == "failed" { return false }
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            if await client.ping(child.name, timeout: .milliseconds(500)) != nil { return true }
        }
        return false
    }

    /// Stops every service in reverse order: each loop is cancelled, which runs the teardown
    /// sequence (SIGTERM, then SIGKILL when the 10 s budget is spent) and waits for the exit.
    public func stop() async {
        guard !stopping else { return }
        stopping = true
        stopDeadline = ContinuousClock.now + policy.stopTimeout
        say("agor up: stopping")
        let deadline = stopDeadline ?? .now
        for child in children.reversed() {
            guard let loop = child.loop else { continue }
            loop.cancel()   // the teardown sequence: SIGTERM, the process waited for
            // One budget for all: a service still running at its end is killed now (its pid is
            // not reaped, so not reused, until its loop has seen the exit).
            let pid = child.pid
            let killer = Task {
                try await Task.sleep(until: deadline)
                if let pid, pid > 0 { kill(pid, SIGKILL) }
            }
            await loop.value
            killer.cancel()
            child.state = "stopped"
        }
        try? FileManager.default.removeItem(at: home.upStateFile)
        stoppedDone = true
        say("agor up: all services stopped")
        let waiters = stopped
        stopped = []
        for waiter in waiters { waiter.resume() }
    }

    private func writeState() {
        guard !stoppedDone else { return }
        UpState(supervisorPid: getpid(), home: home.root.path, services: children.map {
            UpState.Service(name: $0.name, pid: $0.pid ?? 0, state: $0.state, startedAt: $0.startedAt,
                            restarts: $0.restarts, rpc: $0.endpoints.rpc, pub: $0.endpoints.pub)
        }).write(home)
    }
}
