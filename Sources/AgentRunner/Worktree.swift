import Bus
import Foundation

/// A git worktree per session, for projects whose settings ask for one (`runner.worktree = on`):
/// created before the agent starts, on a branch named after the session (`agor/<id>`), locked
/// while the session runs, unlocked when it ends, and removed with its branch when the project is
/// untracked.
enum Worktree {
    /// Runs git in `folder`; its output, or a `RunnerError` with what git said.
    @discardableResult
    static func git(_ arguments: [String], in folder: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", folder] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.environment = ["PATH": "/usr/bin:/bin", "LANG": "C", "GIT_TERMINAL_PROMPT": "0"]
        do { try process.run() } catch { throw RunnerError(.git, "git cannot run: \(error)") }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RunnerError(.git, "git \(arguments.first ?? ""): \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func branch(_ session: String) -> String { "agor/\(session)" }

    /// Creates and locks the session's worktree at `path` from the project's HEAD.
    static func create(project root: String, session: String, at path: String) throws {
        try git(["worktree", "add", "-b", branch(session), path, "HEAD"], in: root)
        try git(["worktree", "lock", "--reason", "agor session \(session) runs here", path], in: root)
    }

    static func unlock(project root: String, at path: String) {
        _ = try? git(["worktree", "unlock", path], in: root)
    }

    /// Removes the worktree and its branch (the session's commits go with the branch).
    static func remove(project root: String, session: String, at path: String) {
        _ = try? git(["worktree", "remove", "--force", "--force", path], in: root)
        _ = try? git(["branch", "-D", branch(session)], in: root)
    }

    /// The git directory shared by the project's worktrees (the agent writes objects there).
    static func commonDirectory(project root: String) -> String? {
        guard let text = try? git(["rev-parse", "--path-format=absolute", "--git-common-dir"], in: root) else { return nil }
        let path = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }
}
