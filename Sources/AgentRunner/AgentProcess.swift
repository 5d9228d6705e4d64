import Bus
import Foundation
import Glibc
import RunnerAPI
import Synchronization

/// One agent program, started through the exec helper and read with bounds.
///
/// - Spawned by `Spawner` from one long-lived thread (the helper's parent-death signal fires when
///   the spawning thread ends, not the process), with a cleared environment (only what the caller
///   passes), its own process group, and the sandbox the policy says.
/// - Its stdout is read on a thread of its own in reads of up to 256 KiB, split on 0x0A by a `LineSplitter`
///   (a line over `lineLimit` is dropped and reported), turned into events by the provider's
///   adapter, and handed to `onEvents` synchronously: while the consumer holds the thread (the
///   runner returns once the previous read's events are stored), nothing more is read, the pipe
///   fills and the child waits. That is the bound on pending bytes.
/// - stderr is drained (its last 4 KiB kept for the finish event's reason), so it never blocks.
/// - When the program exits, what is left of its process group is killed (a grandchild holding the
///   pipe open cannot keep the session alive), the last output is read, and `session.finished`
///   (exit code, signal) is the last event.
public final class AgentProcess: Sendable {
    public struct Launch: Sendable {
        public var helper: String
        public var program: String
        public var arguments: [String]
        public var environment: [String: String]
        public var workingDirectory: String
        public var policy: SandboxPolicy
        public var lineLimit: Int

        public init(helper: String, program: String, arguments: [String], environment: [String: String],
                    workingDirectory: String, policy: SandboxPolicy, lineLimit: Int = 10 << 20) {
            self.helper = helper
            self.program = program
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.policy = policy
            self.lineLimit = lineLimit
        }
    }

    public let pid: pid_t
    /// What the exec helper said held.
    public let sandbox: SandboxReport
    private let input: Mutex<Int32>
    private let finished = Mutex<(readerDone: Bool, exit: Agor_Runner_V1_SessionFinished?)>((false, nil))
    private let stderrTail = Locked<[UInt8]>([])
    private let onEvents: @Sendable ([AgentEvent]) -> Void

    /// Largest write to the agent's stdin at once.
    public static let inputChunk = 64 * 1024

    /// Starts the program. `onEvents` is called on the reader thread, in order, and last with
    /// `session.finished`. Throws when the helper cannot be spawned or refuses to run the agent.
    public init(_ launch: Launch, adapter: any ProviderAdapter, onEvents: @escaping @Sendable ([AgentEvent]) -> Void) throws {
        self.onEvents = onEvents
        let spawned = try Spawner.shared.spawn(launch)
        pid = spawned.pid
        input = Mutex(spawned.stdin)
        // The helper closes the report at exec (or writes why it could not).
        sandbox = SandboxReport(line: AgentProcess.readAll(spawned.report, limit: 64 * 1024))
        close(spawned.report)
        let stdout = spawned.stdout, stderr = spawned.stderr, lineLimit = launch.lineLimit
        Thread { [self] in
            var splitter = LineSplitter(limit: lineLimit)
            var adapter = adapter
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(stdout, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                var events: [AgentEvent] = []
                buffer.withUnsafeBytes { raw in
                    splitter.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { piece in
                        events += AgentProcess.events(for: piece, adapter: &adapter, limit: lineLimit)
                    }
                }
                if !events.isEmpty { self.onEvents(events) }
            }
            if let last = splitter.finish() { self.onEvents(AgentProcess.events(for: last, adapter: &adapter, limit: lineLimit)) }
            close(stdout)
            self.readerFinished()
        }.start()
        Thread { [stderrTail] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(stderr, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                stderrTail.withLock { tail in
                    tail.append(contentsOf: buffer[0..<n])
                    if tail.count > 4096 { tail.removeFirst(tail.count - 4096) }
                }
            }
            close(stderr)
        }.start()
        Thread { [self, pid] in
            // Wait for the exit without reaping, so the group's id cannot be reused while
            // whatever is left of the group (a grandchild holding the pipe) is killed with it.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            var end = Agor_Runner_V1_SessionFinished()
            if status & 0x7f == 0 { end.exitCode = (status >> 8) & 0xff } else { end.signal = status & 0x7f }
            self.exited(end)
        }.start()
    }

    private static func events(for piece: LineSplitter.Piece, adapter: inout any ProviderAdapter, limit: Int) -> [AgentEvent] {
        switch piece {
        case .line(let line): line.isEmpty ? [] : adapter.events(for: line)
        case .tooLong(let bytes): [.error("line_too_long", "a line of \(bytes) bytes was dropped (the limit is \(limit))")]
        }
    }

    private func readerFinished() {
        let exit = finished.withLock { state -> Agor_Runner_V1_SessionFinished? in
            state.readerDone = true
            return state.exit
        }
        if let exit { finish(exit) }
    }

    private func exited(_ end: Agor_Runner_V1_SessionFinished) {
        let readerDone = finished.withLock { state -> Bool in
            state.exit = end
            return state.readerDone
        }
        if readerDone { finish(end) }
    }

    private func finish(_ end: Agor_Runner_V1_SessionFinished) {
        input.withLock { fd in
            if fd >= 0 { close(fd); fd = -1 }
        }
        var event = AgentEvent()
        event.sessionFinished = end
        var events: [AgentEvent] = []
        let tail = stderrTail.withLock { $0 }
        if (end.exitCode != 0 || end.signal != 0) && !tail.isEmpty {
            events.append(.error("stderr", String(decoding: tail, as: UTF8.self)))
        }
        events.append(event)
        onEvents(events)
    }

    /// Writes to the agent's stdin in chunks of at most 64 KiB (blocking while the pipe is full).
    /// False when its input is closed.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        input.withLock { fd in
            guard fd >= 0 else { return false }
            var offset = 0
            while offset < bytes.count {
                let count = min(AgentProcess.inputChunk, bytes.count - offset)
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Closes the agent's stdin (a stream-json program ends when its input ends).
    public func closeInput() {
        input.withLock { fd in
            if fd >= 0 { close(fd); fd = -1 }
        }
    }

    /// SIGTERM to the whole process group, then SIGKILL after `grace` if anything is left.
    public func stop(grace: Duration = .seconds(5)) {
        kill(-pid, SIGTERM)
        Task { [pid] in
            try? await Task.sleep(for: grace)
            kill(-pid, SIGKILL)
        }
    }

    /// SIGKILL to the whole process group at once (a sandbox violation).
    public func killGroup() {
        Glibc.kill(-pid, SIGKILL)
    }

    static func readAll(_ fd: Int32, limit: Int) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            result += buffer[0..<n]
        }
        return result
    }
}
