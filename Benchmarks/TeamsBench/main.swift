// teams-bench: how fast a btmsg message wakes an agent, against polling, and what both cost idle.
//
//   teams-bench HOME SCRIPT GROUPS AGENTS_PER_GROUP MESSAGES
//
// HOME is an initialised agor home whose btmsg and runner run, with groups g1..gN, agents
// gI-aJ (workers) and a manager gI-boss in each group. SCRIPT is Benchmarks/teams/stdin_agent.py.
// The bench starts a Claude session per agent running SCRIPT (it logs the wall clock when each
// user turn arrives on its stdin), then:
//   - wake: MESSAGES direct messages, one every 20 ms, each from the agent's manager to one agent
//     in turn, its send time (wall clock, µs) in its body; latency = arrival on the agent's stdin
//     minus the send time;
//   - idle: 30 s with nothing sent; CPU of the runner and btmsg (/proc/PID/stat);
//   - poll (the predecessor's way): a poller per agent reads the agent's inbox every 5 s (random
//     phase) and marks what it finds read; 2 messages per agent, latency = seen minus sent; then
//     30 s of polling with nothing sent, CPU of btmsg and the pollers (this process).
// Prints one JSON line per part, then the summary line.
import AgentRunner
import BtmsgAPI
import Bus
import Foundation
import RunnerAPI

let arguments = CommandLine.arguments
guard arguments.count == 6, let groups = Int(arguments[3]), let perGroup = Int(arguments[4]), let messages = Int(arguments[5]) else {
    FileHandle.standardError.write(Data("usage: teams-bench HOME SCRIPT GROUPS AGENTS_PER_GROUP MESSAGES\n".utf8))
    exit(2)
}
let home = Home(root: URL(fileURLWithPath: arguments[1]))
let script = arguments[2]
let context = Context()

func emit(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("teams-bench: \(message)\n".utf8))
    exit(1)
}
func wallMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}
func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
/// utime + stime of a process, in seconds.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func client(_ name: String, _ service: String) throws -> RPCClient {
    try ServiceClient(home: home, keyFile: home.secretKeyFile(name), context: context).rpc(service)
}
func pid(of service: String) async -> Int32 {
    guard let client = try? ServiceClient(home: home, keyFile: home.secretKeyFile("operator"), context: context) else { return 0 }
    for _ in 0..<100 {
        if let reply = await client.ping(service, timeout: .seconds(1)) { return reply.pid }
    }
    return 0
}

let runnerPid = await pid(of: "runner"), btmsgPid = await pid(of: "btmsg")
guard runnerPid > 0, btmsgPid > 0 else { fail("btmsg and the runner must answer") }

let agents = (1...groups).flatMap { g in (1...perGroup).map { a in (group: "g\(g)", name: "g\(g)-a\(a)", boss: "g\(g)-boss") } }
// Each group's manager starts and manages its group's sessions.
var runners: [String: RPCClient] = [:]
for g in 1...groups { runners["g\(g)-boss"] = try client("g\(g)-boss", RunnerAPI.service) }

// Sessions.
var sessions: [String: String] = [:]   // agent -> session id
for agent in agents {
    var start = Agor_Runner_V1_StartRequest()
    start.agent = agent.name
    start.provider = "claude"
    start.command = "/usr/bin/python3"
    start.args = [script]
    start.prompt = "ready"
    let session = try await runners[agent.boss]!.call(RunnerAPI.start, start, options: .init(timeout: .seconds(30)))
    sessions[agent.name] = session.id
}
for agent in agents {
    let id = sessions[agent.name]!
    var ref = Agor_Runner_V1_SessionRef()
    ref.id = id
    var state = Agor_Runner_V1_SessionState.starting
    for _ in 0..<600 {
        state = try await runners[agent.boss]!.call(RunnerAPI.show, ref, options: .init(timeout: .seconds(10))).state
        if state == .idle { break }
        try await Task.sleep(for: .milliseconds(50))
    }
    guard state == .idle else { fail("the session of \(agent.name) is \(state), not idle") }
}
emit(["part": "sessions", "agents": agents.count, "groups": groups])

// Wake.
var bosses: [String: RPCClient] = [:]
for g in 1...groups { bosses["g\(g)-boss"] = try client("g\(g)-boss", BtmsgMethods.service) }
var sent: [String: Int64] = [:]   // body -> send time
for i in 0..<messages {
    let agent = agents[i % agents.count]
    let t0 = wallMicros()
    let body = "wake \(i) \(t0)"
    var request = Agor_Btmsg_V1_SendRequest()
    request.to = agent.name
    request.body = body
    _ = try await bosses[agent.boss]!.call(BtmsgMethods.send, request, options: .init(timeout: .seconds(10), idempotent: true))
    sent[body] = t0
    try await Task.sleep(for: .milliseconds(20))
}
func arrivals(_ ids: [String]) -> [String: Int64] {
    var seen: [String: Int64] = [:]
    for id in ids {
        let log = home.dataFolder.appendingPathComponent("runner/sessions/\(id)/tmp/teams.log").path
        for line in ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), let at = Int64(line[..<space]) else { continue }
            // "new message from BOSS: wake I T0" (one message per turn here: the agent is idle at each send)
            guard let range = line.range(of: "wake ") else { continue }
            seen[String(line[range.lowerBound...])] = at
        }
    }
    return seen
}
var seen: [String: Int64] = [:]
for _ in 0..<600 {
    seen = arrivals(Array(sessions.values))
    if sent.keys.allSatisfy({ seen[$0] != nil }) { break }
    try await Task.sleep(for: .milliseconds(50))
}
let wake = sent.compactMap { body, t0 in seen[body].map { Double($0 - t0) / 1000 } }.sorted()
let lost = sent.count - wake.count
emit(["part": "wake", "messages": sent.count, "delivered": wake.count, "p50_ms": round2(percentile(wake, 0.5)),
      "p99_ms": round2(percentile(wake, 0.99)), "max_ms": round2(wake.last ?? 0)])

// Idle, with the agents woken by push: nothing happens.
let idleWindow = 30.0   // /proc counts 10 ms ticks: over 30 s one tick is 0.03 %
let runnerBefore = cpuSeconds(runnerPid), btmsgBefore = cpuSeconds(btmsgPid)
try await Task.sleep(for: .seconds(idleWindow))
let runnerIdle = (cpuSeconds(runnerPid) - runnerBefore) / idleWindow * 100, btmsgIdle = (cpuSeconds(btmsgPid) - btmsgBefore) / idleWindow * 100
let idleCPU = runnerIdle + btmsgIdle
emit(["part": "idle", "seconds": idleWindow, "runner_and_btmsg_cpu_pct": round2(idleCPU), "runner_cpu_pct": round2(runnerIdle),
      "btmsg_cpu_pct": round2(btmsgIdle)])

// Poll: each agent's inbox read every 5 s by a poller of its own (as the agent).
let pollMessages = agents.count * 2
let polled = Locked<[String: Int64]>([:])
let pollInterval = Duration.seconds(5)
var pollers: [Task<Void, Never>] = []
for agent in agents {
    let rpc = try client(agent.name, BtmsgMethods.service)
    pollers.append(Task {
        try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<5000)))
        while !Task.isCancelled {
            var ask = Agor_Btmsg_V1_InboxRequest()
            ask.limit = 100
            if let list = try? await rpc.call(BtmsgMethods.inbox, ask, options: .init(timeout: .seconds(10))) {
                let now = wallMicros()
                for message in list.messages where message.body.hasPrefix("poll ") {
                    polled.withLock { if $0[message.body] == nil { $0[message.body] = now } }
                    var ref = Agor_Btmsg_V1_MessageRef()
                    ref.id = message.id
                    _ = try? await rpc.call(BtmsgMethods.read, ref, options: .init(timeout: .seconds(10)))
                }
            }
            try? await Task.sleep(for: pollInterval)
        }
    })
}
// The woken sessions would answer these too: their agents ignore them for the poll run.
var policy = Agor_Runner_V1_PolicyRequest()
for agent in agents {
    policy.agent = agent.name
    policy.policy = "ignore"
    _ = try await runners[agent.boss]!.call(RunnerAPI.policy, policy, options: .init(timeout: .seconds(10)))
}
var pollSent: [String: Int64] = [:]
for i in 0..<pollMessages {
    let agent = agents[i % agents.count]
    let t0 = wallMicros()
    let body = "poll \(i) \(t0)"
    var request = Agor_Btmsg_V1_SendRequest()
    request.to = agent.name
    request.body = body
    _ = try await bosses[agent.boss]!.call(BtmsgMethods.send, request, options: .init(timeout: .seconds(10), idempotent: true))
    pollSent[body] = t0
    try await Task.sleep(for: .milliseconds(20))
}
for _ in 0..<300 {
    if polled.withLock({ found in pollSent.keys.allSatisfy { found[$0] != nil } }) { break }
    try await Task.sleep(for: .milliseconds(100))
}
let found = polled.withLock { $0 }
let poll = pollSent.compactMap { body, t0 in found[body].map { Double($0 - t0) / 1000 } }.sorted()
emit(["part": "poll", "messages": pollSent.count, "seen": poll.count, "p50_ms": round2(percentile(poll, 0.5)),
      "p99_ms": round2(percentile(poll, 0.99))])
let pollBefore = cpuSeconds(btmsgPid) + cpuSeconds(getpid())
try await Task.sleep(for: .seconds(idleWindow))
let pollIdleCPU = (cpuSeconds(btmsgPid) + cpuSeconds(getpid()) - pollBefore) / idleWindow * 100
for poller in pollers { poller.cancel() }
emit(["part": "poll idle", "seconds": idleWindow, "btmsg_and_pollers_cpu_pct": round2(pollIdleCPU)])

emit(["bench": "teams", "agents": agents.count, "groups": groups, "messages": sent.count, "lost": lost,
      "wake_p50_ms": round2(percentile(wake, 0.5)), "wake_p99_ms": round2(percentile(wake, 0.99)),
      "poll_p50_ms": round2(percentile(poll, 0.5)), "poll_p99_ms": round2(percentile(poll, 0.99)),
      "idle_cpu_pct": round2(idleCPU), "poll_idle_cpu_pct": round2(pollIdleCPU)])
exit(0)
