import Foundation
import Glibc

/// The unprivileged user agents run as when the runner is root (`agor init` creates it): a system
/// account with no home, no login shell and no capabilities, so rlimits bind and the home's keys
/// (owner-only) stay unreadable to agents whatever the other layers do.
public enum AgentAccount {
    public static let name = "agor-agent"

    /// The account, when it exists here.
    public static func lookup() -> AgentUser? {
        guard let entry = getpwnam(name) else { return nil }
        return AgentUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// Creates the account when this process is root and it does not exist; a line for `agor init`
    /// (nil when there is nothing to say).
    public static func ensure() -> String? {
        guard geteuid() == 0 else { return nil }
        if lookup() != nil { return nil }
        let useradd = ["/usr/sbin/useradd", "/sbin/useradd"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let useradd else { return "agents will run as root: no useradd here to create \(name)" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: useradd)
        process.arguments = ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                             "--shell", "/usr/sbin/nologin", "--comment", "agor agents", name]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "agents will run as root: \(useradd) failed: \(error)" }
        process.waitUntilExit()
        return process.terminationStatus == 0 && lookup() != nil
            ? "created the system user \(name): agents run as it when the runner is root"
            : "agents will run as root: \(useradd) \(name) exited with \(process.terminationStatus)"
    }

    /// Gives `path` and everything beneath it to `user` (the session's own folders).
    static func give(_ path: String, to user: AgentUser) {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return }
        chown(path, user.uid, user.gid)
        while let relative = walker.nextObject() as? String {
            lchown(path + "/" + relative, user.uid, user.gid)
        }
    }
}
