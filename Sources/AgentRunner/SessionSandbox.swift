import Bus
import Foundation
import Glibc
import HomeConfig
import RunnerAPI

/// The sandbox of a session's program, from its limits (the project's settings, tightened by
/// start): the policy the exec helper enforces, the layers the runner holds itself (cgroups, the
/// proxy, the user's folders) or reports as off or unavailable, and what the environment needs.
extension RunnerService {
    struct SessionSandbox {
        var policy: SandboxPolicy
        var layers: [String: String]
        var environment: [String: String]
    }

    /// Throws, starting nothing, when a layer the project requires cannot be held here.
    func sandbox(for session: LiveSession, record: Agor_Runner_V1_Session, folder: SessionFolder, program: String,
                 extraArguments: [String]) throws -> SessionSandbox {
        var policy = SandboxPolicy.standard(workingDirectory: record.cwd, temporaryDirectory: folder.temporary,
                                           program: URL(fileURLWithPath: program).deletingLastPathComponent().path)
        policy.readOnly += [home.configFile.path, home.directoryFolder.path, folder.key]
        if record.provider == "claude" { policy.readOnly.append(folder.mcpConfig) }
        // `agor mcp`, which the agent starts from its MCP configuration, is this executable.
        policy.readExecute += [RunnerService.ownExecutable()] + AgentMCPConfig.libraryFolders
        if record.provider == "codex" { policy.readWrite.append(folder.codexHome) }
        let sandbox = session.limits.sandbox
        let id = record.id
        var layers: [String: String] = [:]
        // An Ollama agent reaches its model server (through egress rules, or the strict tier's proxy).
        let ollamaServer = record.provider == "ollama" ? try? HTTPLineStream(url: ProviderLaunch.ollamaURL(home: home)) : nil
        switch sandbox.landlock {
        case .off: policy.landlock = false
        case .required: policy.landlockRequired = true
        case .on: break
        }
        if sandbox.denyEgress {
            policy.denyEgress = true
            policy.allowedPorts = sandbox.ports + SandboxSettings.servicePorts(runtime.config)
            if let ollamaServer { policy.allowedPorts.append(UInt16(ollamaServer.port)) }
        }
        if sandbox.cpuSeconds > 0 { policy.cpuSeconds = Int(sandbox.cpuSeconds) }
        var transport: [String: String] = [:]
        if sandbox.strict == .off {
            layers["strict"] = "off"
        } else if let bubblewrap = StrictTier.available {
            // Its own folders are writable inside; agor is reached through run/'s ipc endpoints.
            policy.strict = StrictTier(bubblewrap: bubblewrap, alsoWritable: [folder.root.path])
            transport["AGOR_TRANSPORT"] = "ipc"
            // The model API through the allow-listed proxy (the session's folder is bound in).
            var hosts = sandbox.proxyHosts.isEmpty ? ModelProxy.defaultHosts(provider: record.provider) : sandbox.proxyHosts
            if let ollamaServer { hosts.append(ollamaServer.host) }
            let owner = sandbox.user != .off && geteuid() == 0 ? AgentAccount.lookup() : nil
            do {
                let proxy = try ModelProxy(path: folder.root.appendingPathComponent("proxy.sock").path, allowed: Set(hosts), owner: owner) { [self] target in
                    Task { try? await store(session, [.error("proxy_refused", "the model proxy refused a tunnel to \(target.prefix(200)) (not in runner.sandbox.proxy_hosts)")]) }
                }
                session.proxy.withLock { $0 = proxy }
                policy.forward = (ModelProxy.agentPort, proxy.path)
                policy.readWrite.append(proxy.path)
                let address = "http://127.0.0.1:\(ModelProxy.agentPort)"
                for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] { transport[name] = address }
            } catch {
                if sandbox.strict == .required { throw error }
                layers["proxy"] = "unavailable"
            }
        } else if sandbox.strict == .required {
            throw BusError.unavailable("the strict tier is required and bubblewrap cannot make its namespaces here")
        } else {
            layers["strict"] = "unavailable"
        }
        if sandbox.user == .off {
            layers["user"] = "off"
        } else if geteuid() == 0, let user = AgentAccount.lookup() {
            // Its own folders (home, work, temp, key copy) and worktree become the agent's.
            policy.user = user
            AgentAccount.give(folder.root.path, to: user)
            if !record.worktree.isEmpty { AgentAccount.give(record.worktree, to: user) }
        } else if sandbox.user == .required {
            throw BusError.unavailable(geteuid() == 0 ? "the project requires agents to run as \(AgentAccount.name), which does not exist here (agor init creates it)"
                                                      : "the project requires agents to run as \(AgentAccount.name), and only a runner that is root can switch users")
        } else {
            layers["user"] = "unavailable"
        }
        if sandbox.memoryMB > 0 || sandbox.maxProcesses > 0 {
            var why = ""
            let caps = sandbox.caps == .off ? nil
                : CgroupCaps.create(session: id, memoryBytes: sandbox.memoryMB > 0 ? sandbox.memoryMB << 20 : nil,
                                    processes: sandbox.maxProcesses > 0 ? sandbox.maxProcesses : nil, why: &why)
            if caps == nil && sandbox.caps == .required {
                throw BusError.unavailable("the project requires cgroup caps and they cannot be set here: \(why)")
            }
            if let caps {
                policy.cgroups = caps.directories
                policy.cgroupsRequired = sandbox.caps == .required
            } else if sandbox.maxProcesses > 0 {
                policy.processes = Int(sandbox.maxProcesses)   // binds only for a user that is not root
            }
            session.caps.withLock { $0 = caps }
            layers["memory_cap"] = sandbox.memoryMB == 0 ? "off" : caps?.memoryDirectory != nil ? "held" : "watchdog"
            layers["process_cap"] = sandbox.maxProcesses == 0 ? "off" : caps?.pidsDirectory != nil ? "held" : "rlimit"
        } else {
            layers["memory_cap"] = "off"
            layers["process_cap"] = "off"
        }
        // In a worktree the agent commits: the project's shared git directory is writable for it.
        if !record.worktree.isEmpty, let project = (try? Projects.load(from: home))?.first(where: { $0.name == record.project }),
           let common = Worktree.commonDirectory(project: project.root) {
            policy.readWrite.append(common)
        }
        // Files the command names by absolute path (a script for an interpreter) are the program too.
        policy.readExecute += extraArguments.filter { $0.hasPrefix("/") && FileManager.default.fileExists(atPath: $0) }
        return SessionSandbox(policy: policy, layers: layers, environment: transport)
    }
}
