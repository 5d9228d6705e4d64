import AgorKit
import ArgumentParser
import Bus
import Foundation

/// `agor down`: stops a running `agor up` (from another shell) the way Ctrl-C does, and waits.
struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a running `agor up` (SIGTERM to its supervisor) and wait until every service has stopped.")
    @OptionGroup var homeOption: HomeOption
    @Option(help: "Seconds to wait before giving up.") var timeout: Int = 40

    func run() async throws {
        let home = homeOption.resolved
        guard let state = UpState.read(home), state.supervisorPid > 0, Down.isAgorUp(state.supervisorPid) else {
            throw fail("agor up is not running for \(home.root.path)", code: 4)
        }
        let pid = state.supervisorPid
        guard kill(pid, SIGTERM) == 0 else { throw fail("cannot signal agor up (pid \(pid)): \(String(cString: strerror(errno)))", code: 3) }
        let deadline = Date().addingTimeInterval(TimeInterval(max(timeout, 1)))
        while Date() < deadline {
            if !Down.isAgorUp(pid) {
                print("agor up (pid \(pid)) stopped")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw fail("agor up (pid \(pid)) is still stopping after \(timeout) s", code: 6)
    }

    /// Whether `pid` is alive and is an `agor up` (not a process that reused the number).
    static func isAgorUp(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM,
              let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        // A zombie has an empty command line: it has exited.
        return arguments.contains("up") && arguments.first.map { $0.hasSuffix("agor") } == true
    }
}
