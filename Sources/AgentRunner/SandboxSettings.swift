import Bus
import Foundation
import HomeConfig
import RunnerAPI

/// A project's sandbox, from the settings cascade (project, group, global, built-in), tightened by
/// what `start` asks. Each layer is off, on (used where this machine has it, reported otherwise)
/// or required (the agent is not started without it).
struct SandboxSettings: Sendable, Equatable {
    enum Need: String, Sendable { case off, on, required }

    var landlock: Need = .on
    var denyEgress = false
    /// TCP ports the agent may connect to when egress is denied (agor's own services are added).
    var ports: [UInt16] = []
    var memoryMB: Int64 = 0
    var maxProcesses: Int64 = 0
    var cpuSeconds: Int64 = 0
    /// Memory and process caps by cgroups (else rlimits and the RSS watchdog).
    var caps: Need = .on
    var strict: Need = .off
    /// Agents as the unprivileged user `agor-agent` (when the runner is root).
    var user: Need = .on
    /// Hosts the strict tier's model proxy opens tunnels to (empty: the provider's own API).
    var proxyHosts: [String] = []

    init() {}

    init(settings: Settings, project: Project?, group: String) {
        func need(_ key: String) -> Need? { settings.string(key, project: project, group: group).flatMap(Need.init(rawValue:)) }
        func integer(_ key: String) -> Int64? { settings.integer(key, project: project, group: group) }
        landlock = need("runner.sandbox.landlock") ?? .on
        caps = need("runner.sandbox.caps") ?? .on
        strict = need("runner.sandbox.strict") ?? .off
        user = need("runner.sandbox.user") ?? .on
        proxyHosts = (settings.list("runner.sandbox.proxy_hosts", project: project, group: group) ?? []).map { $0.lowercased() }
        denyEgress = settings.string("runner.sandbox.egress", project: project, group: group) == "deny"
        ports = (settings.list("runner.sandbox.ports", project: project, group: group) ?? []).compactMap { UInt16($0) }
        memoryMB = integer("runner.sandbox.memory_mb") ?? 0
        maxProcesses = integer("runner.sandbox.max_processes") ?? 0
        cpuSeconds = integer("runner.sandbox.cpu_seconds") ?? 0
    }

    /// The project's sandbox with `start`'s flags: each can only add a restriction.
    func tightened(by asked: Agor_Runner_V1_Tightening) -> SandboxSettings {
        var result = self
        if asked.denyEgress { result.denyEgress = true }
        if asked.memoryMb > 0 { result.memoryMB = memoryMB == 0 ? asked.memoryMb : min(memoryMB, asked.memoryMb) }
        if asked.maxProcesses > 0 { result.maxProcesses = maxProcesses == 0 ? asked.maxProcesses : min(maxProcesses, asked.maxProcesses) }
        if asked.strict { result.strict = .required }
        return result
    }

    /// The ports of agor's own services (from config.toml), which an agent reaches with its key
    /// whatever its egress.
    static func servicePorts(_ config: BusConfig) -> [UInt16] {
        config.services.flatMap { [$0.rpc, $0.pub] }.compactMap { endpoint in
            guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
            return UInt16(endpoint[endpoint.index(after: colon)...])
        }
    }
}
