import Foundation

/// What an agent may touch, as the exec helper (`agor-exec`) enforces it: Landlock file rules
/// (read-write for the session's own folders, read and execute for the system, nothing else, so
/// nothing under the home's keys, vault or databases), optionally TCP connect only to some ports,
/// and rlimits. The helper reports each layer as held or not available (`SandboxReport`).
public struct SandboxPolicy: Sendable, Equatable {
    public var landlock = true
    /// Refuse to start the agent when Landlock cannot be enforced here.
    public var landlockRequired = false
    public var readWrite: [String] = []
    public var readOnly: [String] = []
    public var readExecute: [String] = []
    /// TCP connect refused except to `allowedPorts` (Landlock ABI 4 and later).
    public var denyEgress = false
    public var allowedPorts: [UInt16] = []
    public var cpuSeconds: Int?
    public var addressSpaceBytes: Int?
    public var openFiles: Int?
    public var processes: Int?
    /// cgroup directories the agent joins before anything else (its memory and process caps).
    public var cgroups: [String] = []
    public var cgroupsRequired = false
    /// Run the agent as this user and group (when the runner is root).
    public var user: AgentUser?
    /// The strict tier (bubblewrap), or nil.
    public var strict: StrictTier?
    /// Inside the strict tier: relay 127.0.0.1:PORT to this unix socket (the model proxy).
    public var forward: (port: Int, path: String)? {
        get { forwardPort.map { ($0, forwardPath) } }
        set { forwardPort = newValue?.port; forwardPath = newValue?.path ?? "" }
    }
    var forwardPort: Int?
    var forwardPath = ""

    public init() {}

    /// The default: Landlock on (the session's folders read-write, the system read and execute),
    /// egress allowed, rlimits on open files and core dumps.
    public static func standard(workingDirectory: String, temporaryDirectory: String, extraReadWrite: [String] = [],
                                program: String? = nil) -> SandboxPolicy {
        var policy = SandboxPolicy()
        policy.readWrite = [workingDirectory, temporaryDirectory, "/dev/null", "/dev/tty", "/dev/urandom"] + extraReadWrite
        policy.readExecute = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/opt"] + (program.map { [$0] } ?? [])
        policy.readOnly = ["/etc", "/proc", "/sys/devices/system/cpu", "/dev/random"]
        policy.openFiles = 4096
        return policy
    }

    /// The helper's options for this policy (before `--`).
    public func helperArguments(reportFD: Int32?) -> [String] {
        var arguments: [String] = []
        if let reportFD { arguments += ["--report-fd", "\(reportFD)"] }
        if let cpuSeconds { arguments += ["--rlimit-cpu", "\(cpuSeconds)"] }
        if let addressSpaceBytes { arguments += ["--rlimit-as", "\(addressSpaceBytes)"] }
        if let openFiles { arguments += ["--rlimit-nofile", "\(openFiles)"] }
        if let processes { arguments += ["--rlimit-nproc", "\(processes)"] }
        for cgroup in cgroups { arguments += ["--cgroup", cgroup] }
        if cgroupsRequired && !cgroups.isEmpty { arguments.append("--require-cgroups") }
        if let user { arguments += ["--user", "\(user.uid):\(user.gid)"] }
        if let forward { arguments += ["--forward", "\(forward.port):\(forward.path)"] }
        if landlock {
            for path in readWrite { arguments += ["--rw", path] }
            for path in readExecute { arguments += ["--rx", path] }
            for path in readOnly { arguments += ["--ro", path] }
            if denyEgress {
                arguments.append("--deny-tcp")
                for port in allowedPorts { arguments += ["--connect", "\(port)"] }
            }
            if landlockRequired { arguments.append("--require-landlock") }
        }
        return arguments
    }
}

/// What the helper said held, from its report line: each layer "held", "unavailable" or "off".
public struct SandboxReport: Sendable, Equatable {
    public var layers: [String: String] = [:]
    public var landlockABI: Int?
    public var error: String?

    public init(line: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            error = "no report from the exec helper"
            return
        }
        for key in ["process_group", "parent_death_signal", "no_new_privs", "rlimits", "landlock", "landlock_tcp", "cgroups", "user", "strict", "proxy"] {
            if let value = object[key] as? String { layers[key] = value }
        }
        landlockABI = (object["landlock_abi"] as? NSNumber)?.intValue
        error = object["error"] as? String
    }

    public func holds(_ layer: String) -> Bool { layers[layer] == "held" }
}

/// The unprivileged user agents run as when the runner is root (`agor init` creates it).
public struct AgentUser: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
}
