import Foundation

/// The strict tier: the agent runs in bubblewrap (Debian's `bwrap`) with namespaces of its own,
/// its network included, so it has no network at all but loopback. It reaches agor through the
/// services' ipc:// endpoints in the home's run/ folder (`AGOR_TRANSPORT=ipc`), with its own key
/// and CURVE as everywhere. The exec helper runs twice: outside (process group, parent-death
/// signal, cgroups, user, rlimits) and inside (no_new_privs, Landlock), one report between them.
public struct StrictTier: Sendable, Equatable {
    public var bubblewrap: String
    /// Folders bound read-write inside besides the policy's read-write ones (the rest of / is read-only).
    public var alsoWritable: [String]

    /// bubblewrap's arguments, up to the inner command: `writable` bound read-write at the same path.
    func arguments(workingDirectory: String, writable: [String]) -> [String] {
        var arguments = ["--die-with-parent", "--unshare-all", "--cap-drop", "ALL",
                         "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for path in writable where !path.hasPrefix("/dev/") && FileManager.default.fileExists(atPath: path) {
            arguments += ["--bind", path, path]
        }
        return arguments + ["--chdir", workingDirectory, "--"]
    }

    /// bubblewrap, when it is installed and can make its namespaces here (checked once, by running it).
    public static let available: String? = {
        guard let path = ["/usr/bin/bwrap", "/bin/bwrap"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: path)
        probe.arguments = ["--die-with-parent", "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", "/bin/true"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? path : nil
    }()
}

extension SandboxPolicy {
    /// The whole command line: the helper and the program, or, in the strict tier, the helper's
    /// outer half, bubblewrap, the helper's inner half and the program.
    public func commandLine(helper: String, reportFD: Int32, workingDirectory: String, program: String, arguments: [String]) -> [String] {
        guard let strict else {
            return [helper] + helperArguments(reportFD: reportFD) + ["--chdir", workingDirectory, "--", program] + arguments
        }
        var outer = self
        outer.landlock = false
        outer.forward = nil
        var inner = SandboxPolicy()
        inner.landlock = landlock
        inner.landlockRequired = landlockRequired
        inner.readWrite = readWrite
        inner.readOnly = readOnly
        inner.readExecute = readExecute + [helper]
        inner.denyEgress = denyEgress
        inner.allowedPorts = allowedPorts
        inner.forward = forward
        return [helper] + outer.helperArguments(reportFD: reportFD) + ["--report-open", "--chdir", workingDirectory, "--", strict.bubblewrap]
            + strict.arguments(workingDirectory: workingDirectory, writable: readWrite + strict.alsoWritable)
            + [helper] + inner.helperArguments(reportFD: reportFD) + ["--report-continue", "--chdir", workingDirectory, "--", program] + arguments
    }
}
