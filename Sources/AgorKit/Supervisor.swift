import Bus
import Dispatch
import Foundation

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
        var process: Process?
        var generation = 0
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
        for child in children { start(child) }
        var allAnswer = true
        for child in children {
            let answered = await waitUntilAnswers(child)
            if !answered { allAnswer = false }
        }
        let rows = children.map { child in
            [child.name, "\(child.process?.processIdentifier ?? 0)", child.endpoints.rpc, child.endpoints.pub,
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

    private func start(_ child: Child) {
        guard !stopping else { return }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", child.name, "--home", home.root.path]
        try? FileManager.default.createDirectory(at: home.logsFolder, withIntermediateDirectories: true)
        let outPath = home.logsFolder.appendingPathComponent("\(child.name).out").path
        if !FileManager.default.fileExists(atPath: outPath) { _ = FileManager.default.createFile(atPath: outPath, contents: nil) }
        if let out = FileHandle(forWritingAtPath: outPath) {
            out.seekToEndOfFile()
            process.standardOutput = out
            process.standardError = out
        }
        process.standardInput = FileHandle.nullDevice
        child.generation += 1
        let generation = child.generation
        let name = child.name
        process.terminationHandler = { [weak self] proc in
            let status = proc.terminationStatus
            Task { await self?.exited(name: name, generation: generation, status: status) }
        }
        do {
            try process.run()
            child.process = process
            child.startedAt = Date()
            child.state = "running"
        } catch {
            child.state = "failed to start: \(error)"
            say("agor up: cannot start \(child.name): \(error)")
        }
        writeState()
    }

    private func exited(name: String, generation: Int, status: Int32) async {
        guard let child = children.first(where: { $0.name == name }), child.generation == generation else { return }
        child.process = nil
        if stopping {
            child.state = "stopped"
            writeState()
            return
        }
        let now = Date()
        let ranFor = child.startedAt.map { now.timeIntervalSince($0) } ?? 0
        let delay: Duration
        switch policy.restartRule.decide(ranFor: ranFor, now: now, history: &child.history) {
        case .stayDown(let quickExits):
            child.state = "failed"
            say("agor up: \(name) exited (status \(status)) \(quickExits) times within \(Int(policy.failureWindow)) s, each within \(Int(policy.healthyRun)) s of its start; it stays down")
            writeState()
            return
        case .restart(let after):
            delay = after
        }
        child.state = "restarting"
        say("agor up: \(name) exited (status \(status)) after \(String(format: "%.1f", ranFor)) s; restarting in \(delay)")
        writeState()
        try? await Task.sleep(for: delay)
        guard !stopping, child.generation == generation else { return }
        child.restarts += 1
        start(child)
        if await waitUntilAnswers(child) { say("agor up: \(name) answers again (pid \(child.process?.processIdentifier ?? 0))") }
    }

    private func waitUntilAnswers(_ child: Child) async -> Bool {
        let deadline = ContinuousClock.now + policy.answerTimeout
        while ContinuousClock.now < deadline && !stopping {
            guard child.process?.isRunning == true else {
                if child.state == "failed" { return false }
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            if await client.ping(child.name, timeout: .milliseconds(500)) != nil { return true }
        }
        return false
    }

    /// Stops every service in reverse order: SIGTERM, then SIGKILL when the 10 s budget is spent.
    public func stop() async {
        guard !stopping else { return }
        stopping = true
        say("agor up: stopping")
        let deadline = ContinuousClock.now + policy.stopTimeout
        for child in children.reversed() {
            guard let process = child.process, process.isRunning else { continue }
            kill(process.processIdentifier, SIGTERM)
            while process.isRunning && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning {
                say("agor up: \(child.name) did not stop in time; killing it")
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
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
            UpState.Service(name: $0.name, pid: $0.process?.processIdentifier ?? 0, state: $0.state, startedAt: $0.startedAt,
                            restarts: $0.restarts, rpc: $0.endpoints.rpc, pub: $0.endpoints.pub)
        }).write(home)
    }
}
