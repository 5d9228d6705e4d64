import Foundation
import Testing
@testable import AgentRunner

/// The real exec helper (`.build/debug/agor-exec`) around real programs: each layer it reports as
/// held is shown to hold; what this machine cannot enforce is shown reported as unavailable.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ExecHelperTests {
    static let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/agor-exec")

    struct Run {
        var status: Int32
        var out: String
        var err: String
        var report: SandboxReport
    }

    /// Runs `program args` under the helper with `policy`; the report comes through fd 3.
    static func run(_ policy: SandboxPolicy, _ program: String, _ args: [String], in folder: URL) throws -> Run {
        let reportFile = folder.appendingPathComponent("report-\(UUID().uuidString.prefix(6))")
        let quoted = ([helper.path] + policy.helperArguments(reportFD: 3) + ["--", program] + args)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \(quoted) 3>'\(reportFile.path)'"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = readAll(out.fileHandleForReading.fileDescriptor)
        let errData = readAll(err.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        let report = SandboxReport(line: Array((try? Data(contentsOf: reportFile)) ?? Data()))
        return Run(status: process.terminationStatus, out: String(decoding: outData, as: UTF8.self),
                   err: String(decoding: errData, as: UTF8.self), report: report)
    }

    static func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-exec-\(UUID().uuidString.prefix(8))")
        for sub in ["work", "tmp", "secret"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try "the home's keys".write(to: folder.appendingPathComponent("secret/key"), atomically: true, encoding: .utf8)
        return folder
    }

    @Test func filesOutsideThePolicyAreRefusedAndTheOtherLayersHold() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var policy = SandboxPolicy.standard(workingDirectory: folder.appendingPathComponent("work").path,
                                           temporaryDirectory: folder.appendingPathComponent("tmp").path)
        policy.openFiles = 77
        let script = """
            set -- $(cat /proc/$$/stat); echo "pid=$1 pgrp=$5"
            grep NoNewPrivs /proc/self/status
            echo "nofile=$(ulimit -n)"
            echo written > \(folder.path)/work/out && cat \(folder.path)/work/out
            cat \(folder.path)/secret/key || echo "secret refused"
            echo sneaky > \(folder.path)/secret/new || echo "write refused"
            """
        let run = try Self.run(policy, "/bin/sh", ["-c", script], in: folder)
        #expect(run.status == 0, "\(run.err)")
        for layer in ["process_group", "parent_death_signal", "no_new_privs", "rlimits"] { #expect(run.report.holds(layer), "\(layer): \(run.report)") }
        let ids = try #require(run.out.firstMatch(of: /pid=(\d+) pgrp=(\d+)/))
        #expect(ids.output.1 == ids.output.2)                      // its own process group
        #expect(run.out.contains("NoNewPrivs:\t1"))
        #expect(run.out.contains("nofile=77"))
        #expect(run.out.contains("written"))                        // its working directory is writable
        if run.report.holds("landlock") {
            #expect(run.out.contains("secret refused") && run.out.contains("write refused"), "\(run.out)")
            #expect(!run.out.contains("the home's keys"))
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("secret/new").path))
        } else {
            // Not enforceable here: said so, never silently skipped.
            #expect(run.report.layers["landlock"] == "unavailable", "\(run.report)")
        }
    }

    @Test func egressCanBeLimitedToAllowedPorts() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Two listeners on loopback: the agent may connect to the first only.
        func listener() -> (fd: Int32, port: UInt16) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            listen(fd, 8)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return (fd, UInt16(bigEndian: address.sin_port))
        }
        let allowed = listener(), denied = listener()
        defer { close(allowed.fd); close(denied.fd) }
        var policy = SandboxPolicy.standard(workingDirectory: folder.appendingPathComponent("work").path,
                                           temporaryDirectory: folder.appendingPathComponent("tmp").path)
        policy.denyEgress = true
        policy.allowedPorts = [allowed.port]
        let probe = """
            import socket
            for port in (\(allowed.port), \(denied.port)):
                s = socket.socket()
                try:
                    s.connect(("127.0.0.1", port)); print(port, "connected")
                except OSError as e:
                    print(port, "refused", e.errno)
            """
        let run = try Self.run(policy, "/usr/bin/python3", ["-c", probe], in: folder)
        #expect(run.status == 0, "\(run.err)")
        if run.report.layers["landlock_tcp"] == "held" {
            #expect(run.out.contains("\(allowed.port) connected"), "\(run.out)")
            #expect(run.out.contains("\(denied.port) refused 13"), "\(run.out)")   // EACCES
        } else {
            #expect(run.report.layers["landlock_tcp"] == "unavailable", "\(run.report)")
        }
    }

    @Test func aProgramThatCannotRunIsReportedAndBadOptionsAreRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = try Self.run(SandboxPolicy(), "/nonexistent/agent", [], in: folder)
        #expect(missing.status == 127 && missing.err.contains("cannot run /nonexistent/agent"))
        let process = Process()
        process.executableURL = Self.helper
        process.arguments = ["--rlimit-nofile", "many", "--", "/bin/true"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 126)
    }
}

/// The helper's unprivileged-user layer: as root it becomes the given user with no capabilities
/// (and cannot become root again); without root it refuses to run the agent rather than pretend.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ExecHelperUserTests {
    @Test func theAgentRunsAsTheGivenUserWithoutCapabilities() throws {
        let folder = try ExecHelperTests.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var policy = SandboxPolicy()
        policy.user = AgentUser(name: "nobody", uid: 65534, gid: 65534)
        let run = try ExecHelperTests.run(policy, "/bin/sh", ["-c", "id -u; id -g; grep CapEff /proc/self/status"], in: folder)
        if geteuid() == 0 {
            #expect(run.status == 0, "\(run.err)")
            #expect(run.report.layers["user"] == "held")
            let lines = run.out.split(separator: "\n").map(String.init)
            #expect(lines.prefix(2) == ["65534", "65534"], "\(run.out)")
            #expect(lines.last?.hasSuffix("0000000000000000") == true, "\(run.out)")
        } else {
            #expect(run.status == 126 && run.report.layers["user"] == nil)
        }
    }
}

/// Everything until end of file, read again after EINTR (Foundation's readDataToEndOfFile() traps
/// when a signal to the test process interrupts it).
private func readAll(_ fd: Int32) -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return data }
        data.append(contentsOf: buffer[0..<n])
    }
}
