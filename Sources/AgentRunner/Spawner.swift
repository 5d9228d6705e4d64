import Bus
import Foundation
import Glibc
import Synchronization

/// Spawns agent programs through the exec helper, always from one long-lived thread: the helper
/// sets the parent-death signal, which Linux fires when the thread that spawned it ends, so a
/// spawn from a short-lived thread would kill the agent with that thread.
final class Spawner: Sendable {
    static let shared = Spawner()

    struct Spawned: Sendable {
        var pid: pid_t
        var stdin: Int32
        var stdout: Int32
        var stderr: Int32
        var report: Int32
    }

    private struct Request: @unchecked Sendable {
        let launch: AgentProcess.Launch
        let done: DispatchSemaphore
        let result: Locked<Result<Spawned, Error>?>
    }

    private let queue = Mutex<[Request]>([])
    private let wake = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                wake.wait()
                for request in queue.withLock({ q -> [Request] in defer { q = [] }; return q }) {
                    request.result.withLock { $0 = Result { try Spawner.spawnNow(request.launch) } }
                    request.done.signal()
                }
            }
        }
        thread.name = "agor.runner.spawner"
        thread.start()
    }

    func spawn(_ launch: AgentProcess.Launch) throws -> Spawned {
        let request = Request(launch: launch, done: DispatchSemaphore(value: 0), result: Locked(nil))
        queue.withLock { $0.append(request) }
        wake.signal()
        request.done.wait()
        return try request.result.withLock { $0! }.get()
    }

    private static func spawnNow(_ launch: AgentProcess.Launch) throws -> Spawned {
        func pipePair() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            // pipe2(O_CLOEXEC) is not visible to Swift here; a spawn elsewhere in the process between
            // these two calls could inherit the descriptors, which only delays that child's EOF.
            guard pipe(&fds) == 0 else { throw RunnerError(.spawn, "pipe: \(String(cString: strerror(errno)))") }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return (fds[0], fds[1])
        }
        let stdin = try pipePair(), stdout = try pipePair(), stderr = try pipePair(), report = try pipePair()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr.write, 2)
        posix_spawn_file_actions_adddup2(&actions, report.write, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling and an empty mask in the child, whatever this process ignores.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let arguments = launch.policy.commandLine(helper: launch.helper, reportFD: 3, workingDirectory: launch.workingDirectory,
                                                  program: launch.program, arguments: launch.arguments)
        let environment = launch.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, launch.helper, &actions, &attributes, argv, envp)
        for fd in [stdin.read, stdout.write, stderr.write, report.write] { close(fd) }
        guard rc == 0 else {
            for fd in [stdin.write, stdout.read, stderr.read, report.read] { close(fd) }
            throw RunnerError(.spawn, "cannot start \(launch.helper): \(String(cString: strerror(rc)))")
        }
        return Spawned(pid: pid, stdin: stdin.write, stdout: stdout.read, stderr: stderr.read, report: report.read)
    }
}
