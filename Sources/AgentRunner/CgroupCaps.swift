import Foundation
import Glibc

/// A session's memory and process caps as cgroups, where this machine lets the runner write them:
/// v1 (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/pids`, each with an `agor/SESSION` directory) or v2
/// (one `agor/SESSION` directory with `memory.max` and `pids.max`). Checked at run time: without
/// root, or without the controllers, `create` returns nil and the runner falls back to rlimits and
/// its RSS watchdog. The exec helper joins the directories before it drops privileges.
struct CgroupCaps: Sendable {
    /// The directories the agent joins.
    let directories: [String]
    let memoryDirectory: String?
    let pidsDirectory: String?
    let unified: Bool

    static let root = "/sys/fs/cgroup"

    /// Creates the session's cgroups with the caps (bytes; processes), or nil when they cannot be
    /// written here (the reason in `why`).
    static func create(session: String, memoryBytes: Int64?, processes: Int64?, why: inout String) -> CgroupCaps? {
        guard memoryBytes != nil || processes != nil else { return nil }
        let manager = FileManager.default
        if manager.fileExists(atPath: "\(root)/cgroup.controllers") {
            let parent = "\(root)/agor"
            let directory = "\(parent)/\(session)"
            var wanted: [String] = []
            if memoryBytes != nil { wanted.append("+memory") }
            if processes != nil { wanted.append("+pids") }
            guard (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil,
                  write(wanted.joined(separator: " "), to: "\(root)/cgroup.subtree_control"),
                  write(wanted.joined(separator: " "), to: "\(parent)/cgroup.subtree_control"),
                  memoryBytes.map({ write("\($0)", to: "\(directory)/memory.max") && write("0", to: "\(directory)/memory.swap.max") }) ?? true,
                  processes.map({ write("\($0)", to: "\(directory)/pids.max") }) ?? true else {
                why = "cgroup v2 at \(root) is not writable here"
                rmdir(directory)
                return nil
            }
            return CgroupCaps(directories: [directory], memoryDirectory: memoryBytes == nil ? nil : directory,
                              pidsDirectory: processes == nil ? nil : directory, unified: true)
        }
        var directories: [String] = []
        var memory: String?, pids: String?
        if let memoryBytes {
            let directory = "\(root)/memory/agor/\(session)"
            guard manager.fileExists(atPath: "\(root)/memory/memory.limit_in_bytes"),
                  (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil,
                  write("\(memoryBytes)", to: "\(directory)/memory.limit_in_bytes") else {
                why = "the cgroup v1 memory controller is not writable here"
                return nil
            }
            // Without swap accounting this file is absent: the limit still holds for RAM.
            _ = write("\(memoryBytes)", to: "\(directory)/memory.memsw.limit_in_bytes")
            directories.append(directory)
            memory = directory
        }
        if let processes {
            let directory = "\(root)/pids/agor/\(session)"
            guard manager.fileExists(atPath: "\(root)/pids"),
                  (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil,
                  write("\(processes)", to: "\(directory)/pids.max") else {
                why = "the cgroup v1 pids controller is not writable here"
                for made in directories { rmdir(made) }
                return nil
            }
            directories.append(directory)
            pids = directory
        }
        return CgroupCaps(directories: directories, memoryDirectory: memory, pidsDirectory: pids, unified: false)
    }

    /// What the caps stopped so far, as reasons (empty while nothing was refused).
    func violations() -> [String] {
        var reasons: [String] = []
        if let memoryDirectory {
            let file = unified ? "memory.events" : "memory.oom_control"
            if let kills = CgroupCaps.counter("oom_kill", in: "\(memoryDirectory)/\(file)"), kills > 0 {
                reasons.append("memory cap: the kernel killed \(kills) process(es) of the agent at its memory limit")
            }
        }
        if let pidsDirectory, let refused = CgroupCaps.counter("max", in: "\(pidsDirectory)/pids.events"), refused > 0 {
            reasons.append("process cap: \(refused) fork(s) refused at the agent's process limit")
        }
        return reasons
    }

    /// Removes the directories (the agent's processes are gone by then; retried while the kernel
    /// still counts them).
    func remove() {
        for directory in directories {
            for _ in 0..<50 {
                if rmdir(directory) == 0 || errno == ENOENT { break }
                usleep(20_000)
            }
        }
    }

    static func counter(_ name: String, in file: String) -> Int? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Int(parts[1]) }
        }
        return nil
    }

    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}

/// The fallback when cgroups cannot be written: the resident memory of the agent's process group,
/// summed from /proc once a second by the runner's watch.
enum ResidentMemory {
    static func ofGroup(_ group: pid_t) -> Int64 {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        var total: Int64 = 0
        for entry in entries where entry.first?.isNumber == true {
            // stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 22, Int32(fields[2]) == group else { continue }
            total += (Int64(fields[21]) ?? 0) * page
        }
        return total
    }
}
