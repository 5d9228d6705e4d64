// agor-chaos: the whole system under steady load while a monkey kills its services; then the
// checks of what agor promises (`make chaos`, scripts/chaos.sh prepares the home and runs `agor up`).
//
//   agor-chaos HOME SECONDS AGENT_SCRIPT TOKENS_FILE
//
// HOME runs under `agor up` (scripts/chaos-home.sh makes it), with group `chaos` (and `chaos2`):
// agents s1..sN (senders), w1..wN (workers), a1..a5 (agents with sessions), per group a manager
// (`boss`, `boss2`) and an operator (`chief`, `chief2`); each agent's group is read from the
// directory; session i runs in project ((i-1) mod P)+1 of projects.toml when there are P. TOKENS_FILE
// has "GROUP TOKEN" lines: people who manage that group. The load: each sender sends direct
// messages to the next sender of its group, each worker claims its group's tasks and moves them to
// done while its group's manager keeps the board stocked, the managers keep each session busy with
// turns (AGENT_SCRIPT, a fake Claude writing output), WebSocket clients follow their group's streams
// on the Gateway and Bus subscribers follow every service's streams of every group.
// Meanwhile the monkey SIGKILLs services. Afterwards, against the databases: every answered write
// is stored exactly once, no task claimed twice, every stream stored gapless, and every consumer
// received every event of its streams once and in order.
//
// Environment: SENDERS (20), WORKERS (10), SESSIONS (5), WS_CLIENTS (100), SEND_RATE (messages/s per
// sender, 2), CLAIM_RATE (claims/s per worker, 2), KILL_EVERY (seconds, "2-5"), MIN_RUN_S (5).
// MODE=soak (`make soak`, scripts/soak.sh): the same load without the monkey, and a sampler of every
// service's memory, files, threads, WAL and queues every SAMPLE_S (5) seconds; the report (soak.json,
// soak.html) goes to SOAK_REPORT, the fits leave out the first WARM_UP_S (a fifth of the run).
// MODE=partition (scripts/partition.sh, services on two hosts): no kills; the link between the hosts
// is cut and healed, or made to drop packets, by the shell commands in PARTITION_CUT, PARTITION_HEAL,
// PARTITION_LOSSY and PARTITION_CLEAN; PARTITION_FAR names the services across the link.
// Prints one JSON line per part, then the summary line.
import AgentRunner
import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import HomeConfig
import RunnerAPI

let arguments = CommandLine.arguments
guard arguments.count == 5, let seconds = Double(arguments[2]), seconds > 0 else {
    FileHandle.standardError.write(Data("usage: agor-chaos HOME SECONDS AGENT_SCRIPT TOKENS_FILE\n".utf8))
    exit(2)
}
let home = Home(root: URL(fileURLWithPath: arguments[1]))
let agentScript = arguments[3]
let environment = ProcessInfo.processInfo.environment
func setting(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap(Int.init) ?? fallback }
func rate(_ name: String, _ fallback: Double) -> Double { environment[name].flatMap(Double.init) ?? fallback }
let senders = setting("SENDERS", 20), workers = setting("WORKERS", 10), sessionCount = setting("SESSIONS", 5)
let webClients = setting("WS_CLIENTS", 100), minimumRun = TimeInterval(setting("MIN_RUN_S", 5))
let killEvery = (environment["KILL_EVERY"] ?? "2-5").split(separator: "-").compactMap { Double($0) }
let directory = Directory(folder: home.directoryFolder)
let groups = directory.groups.filter { $0.hasPrefix("chaos") }.sorted()
guard !groups.isEmpty else { fail("no chaos group in \(home.root.path)") }
/// An agent's group, as the directory has it.
func groupOf(_ agent: String) -> String { directory.principal(named: agent)?.groups.first ?? groups[0] }
/// A group's manager or operator: `boss` and `chief` for the first group, `boss2`, `chief2` for the second.
func member(_ base: String, of group: String) -> String {
    let index = groups.firstIndex(of: group) ?? 0
    return index == 0 ? base : "\(base)\(index + 1)"
}
let projects = (try? Projects.load(from: home))?.sorted { $0.name < $1.name } ?? []
let soak = environment["MODE"] == "soak"
let partition = environment["MODE"] == "partition"

func emit(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("agor-chaos: \(message)\n".utf8))
    exit(1)
}
func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
func progress(_ message: String) { FileHandle.standardError.write(Data("agor-chaos: \(message)\n".utf8)) }

/// Waits for `tasks` at most `seconds`; the ones still running then are cancelled and counted.
func waitBounded(_ tasks: [Task<Void, Never>], seconds: Double) async -> Int {
    let deadline = ContinuousClock.now + .seconds(seconds)
    var left = 0
    for task in tasks {
        let finished = await withTaskGroup(of: Bool.self) { race in
            race.addTask { await task.value; return true }
            race.addTask { try? await Task.sleep(until: deadline); return false }
            let first = await race.next() ?? false
            race.cancelAll()
            return first
        }
        if !finished {
            task.cancel()
            left += 1
        }
    }
    return left
}

let context = Context()
func client(as name: String) throws -> ServiceClient {
    try ServiceClient(home: home, keyFile: home.secretKeyFile(name), context: context)
}
let operatorClient = try client(as: "operator")
for service in operatorClient.config.services.map(\.name) {
    var answered = false
    for _ in 0..<240 where !answered {
        answered = await operatorClient.ping(service, timeout: .milliseconds(500)) != nil
        if !answered { try await Task.sleep(for: .milliseconds(250)) }
    }
    guard answered else { fail("\(service) does not answer") }
}
guard let gatewayAddress = operatorClient.config.service("gateway")?.http else { fail("no gateway http address in config.toml") }
guard let tokenText = try? String(contentsOfFile: arguments[4], encoding: .utf8) else { fail("cannot read \(arguments[4])") }
let tokens = tokenText.split(separator: "\n").compactMap { line -> (group: String, token: String)? in
    let parts = line.split(separator: " ")
    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
}
guard !tokens.isEmpty else { fail("no \"GROUP TOKEN\" lines in \(arguments[4])") }

// --- The sessions, started before anything follows the streams, so every client knows them.
var bosses: [String: ServiceClient] = [:]
var bossRunners: [String: RPCClient] = [:]
for group in groups {
    bosses[group] = try client(as: member("boss", of: group))
    bossRunners[group] = try bosses[group]!.rpc(RunnerAPI.service)
}
var sessions: [(id: String, group: String)] = []
for index in 1...sessionCount {
    let agent = "a\(index)", group = groupOf(agent)
    var start = Agor_Runner_V1_StartRequest()
    start.agent = agent
    start.provider = "claude"
    start.command = "/usr/bin/python3"
    start.args = [agentScript]
    start.prompt = "turn 0"
    if !projects.isEmpty { start.project = projects[(index - 1) % projects.count].name }
    sessions.append((try await bossRunners[group]!.call(RunnerAPI.start, start, options: .init(timeout: .seconds(30))).id, group))
}

// --- Consumers: a Bus subscriber per service and group (as the group's manager) from the beginning
// of every stream, and the WebSocket clients from the start of their group's streams.
let stopConsumers = StopSignal()
var subscriberLedgers: [(service: String, group: String, ledger: StreamLedger)] = []
var consumers: [Task<Void, Never>] = []
for service in ["btmsg", "bttask", "runner"] {
    for group in groups {
        let ledger = StreamLedger(name: "subscriber of \(service) in \(group)")
        subscriberLedgers.append((service, group, ledger))
        let subscriber = try bosses[group]!.subscriber(service, prefixes: ["\(service)/\(group)/"], start: .beginning)
        consumers.append(Task {
            for await event in subscriber.events { ledger.note(stream: event.stream, seq: event.seq) }
        })
        consumers.append(Task {
            while !stopConsumers.isSet { try? await Task.sleep(for: .milliseconds(200)) }
            await subscriber.close()
        })
    }
}
let fleet = WebSocketFleet(clients: webClients)
/// The group each WebSocket client follows (its person's).
let webGroups = (0..<webClients).map { tokens[$0 % tokens.count].group }
for index in 0..<webClients {
    let (group, token) = tokens[index % tokens.count]
    var initialCursors = ["btmsg/\(group)/": UInt64(0), "bttask/\(group)/": 0]
    for session in sessions where session.group == group { initialCursors[RunnerRules.stream(group: group, session: session.id)] = 0 }
    consumers.append(Task { [initialCursors] in
        await fleet.run(index: index, host: gatewayAddress.host, port: gatewayAddress.port, token: token, initial: initialCursors, stop: stopConsumers)
    })
}

// --- The load, and the monkey. Each sender may message the next of its group (a contact the
// group's operator allows).
let sendersByGroup = Dictionary(grouping: (1...senders).map { "s\($0)" }, by: groupOf)
/// The sender after `sender` in its group, round.
func recipient(of sender: String) -> String {
    let ring = sendersByGroup[groupOf(sender)]!
    return ring[(ring.firstIndex(of: sender)! + 1) % ring.count]
}
for group in groups where sendersByGroup[group] != nil {
    let operatorMessages = try client(as: member("chief", of: group)).rpc(BtmsgMethods.service)
    for sender in sendersByGroup[group]! {
        var allow = Agor_Btmsg_V1_AllowRequest()
        allow.from = sender
        allow.to = recipient(of: sender)
        allow.group = group
        _ = try await operatorMessages.call(BtmsgMethods.allow, allow, options: .init(timeout: .seconds(10)))
    }
}
let stopLoad = StopSignal()
let facts = Acknowledged()
let counts = OperationCounts()
var load: [Task<Void, Never>] = []
for index in 1...senders {
    let rpc = try client(as: "s\(index)").rpc(BtmsgMethods.service)
    load.append(Task {
        await sendMessages(from: "s\(index)", to: recipient(of: "s\(index)"), client: rpc, rate: rate("SEND_RATE", 2),
                           facts: facts, counts: counts, stop: stopLoad)
    })
}
for group in groups {
    let groupWorkers = (1...workers).filter { groupOf("w\($0)") == group }.count
    guard groupWorkers > 0 else { continue }
    let bossTasks = try bosses[group]!.rpc(BttaskMethods.service)
    load.append(Task { await createTasks(group: group, client: bossTasks, ready: 2 * groupWorkers, facts: facts, counts: counts, stop: stopLoad) })
}
for index in 1...workers {
    let rpc = try client(as: "w\(index)").rpc(BttaskMethods.service)
    load.append(Task {
        await claimTasks(worker: "w\(index)", group: groupOf("w\(index)"), client: rpc, rate: rate("CLAIM_RATE", 2),
                         facts: facts, counts: counts, stop: stopLoad)
    })
}
for session in sessions {
    load.append(Task { await driveSession(session.id, client: bossRunners[session.group]!, facts: facts, counts: counts, stop: stopLoad) })
}
let monkey = Monkey(home: home, client: operatorClient, minimumRun: minimumRun,
                    interval: (killEvery.first ?? 2)...(killEvery.last ?? 5))
let monkeyTask = Task { if !soak && !partition { await monkey.run(stop: stopLoad) } }
let partitioner = Partitioner(
    commands: .init(cut: environment["PARTITION_CUT"] ?? "", heal: environment["PARTITION_HEAL"] ?? "",
                    lossy: environment["PARTITION_LOSSY"] ?? "", clean: environment["PARTITION_CLEAN"] ?? ""),
    client: operatorClient, services: (environment["PARTITION_FAR"] ?? "").split(separator: ",").map(String.init))
let partitionTask = Task { if partition { await partitioner.run(stop: stopLoad) } }
let sampler = Sampler(home: home, client: operatorClient)
let samplerTask = Task { if soak { await sampler.run(every: rate("SAMPLE_S", 5), stop: stopLoad) } }

let started = ContinuousClock.now
try await Task.sleep(for: .seconds(seconds))
stopLoad.set()
for task in load { await task.value }
await monkeyTask.value
await partitionTask.value
await samplerTask.value
let loadSeconds = (ContinuousClock.now - started).components.seconds
emit(["part": "load", "seconds": loadSeconds, "operations": counts.operations, "retries": counts.retries,
      "messages": facts.state.withLock { $0.messages.count }, "tasks_created": facts.state.withLock { $0.created.count },
      "claims": facts.state.withLock { $0.claims.count }, "turns": facts.state.withLock { $0.turns.values.reduce(0, +) },
      "refusals": facts.state.withLock { $0.refusals }])

// --- Settle: every service answers again and every consumer reaches the heads in the databases.
progress("load stopped after \(loadSeconds) s; settling")
for service in operatorClient.config.services.map(\.name) {
    for _ in 0..<240 where await operatorClient.ping(service, timeout: .milliseconds(500)) == nil {
        try await Task.sleep(for: .milliseconds(250))
    }
}
func databaseHeads() throws -> [String: (heads: [String: UInt64], gaps: [String])] {
    var result: [String: (heads: [String: UInt64], gaps: [String])] = [:]
    for service in ["btmsg", "bttask", "runner"] { result[service] = try Verdict.heads(try Verdict.open(home, service)) }
    return result
}
/// The heads of `group`'s streams of `services`: what its subscribers and clients must receive whole.
func groupHeads(_ all: [String: (heads: [String: UInt64], gaps: [String])], _ services: [String], _ group: String) -> [String: UInt64] {
    var heads: [String: UInt64] = [:]
    for service in services {
        for (stream, head) in all[service]?.heads ?? [:] where stream.hasPrefix("\(service)/\(group)/") { heads[stream] = head }
    }
    return heads
}
let allServices = ["btmsg", "bttask", "runner"]
var stored = try databaseHeads()
let settleStarted = ContinuousClock.now
while ContinuousClock.now - settleStarted < .seconds(180) {
    stored = try databaseHeads()
    let subscribersDone = subscriberLedgers.allSatisfy { $0.ledger.caughtUp(to: groupHeads(stored, [$0.service], $0.group)) }
    let webDone = fleet.ledgers.indices.allSatisfy { fleet.ledgers[$0].caughtUp(to: groupHeads(stored, allServices, webGroups[$0])) }
    if subscribersDone && webDone { break }
    try await Task.sleep(for: .milliseconds(500))
}
let settleSeconds = round2(Double((ContinuousClock.now - settleStarted).components.attoseconds) / 1e18
                           + Double((ContinuousClock.now - settleStarted).components.seconds))
progress("settled in \(settleSeconds) s; closing the consumers")
stopConsumers.set()
let stuckConsumers = await waitBounded(consumers, seconds: 30)
progress("checking (\(stuckConsumers) consumers did not close within 30 s)")

// --- The verdict.
var verdict = Verdict()
let snapshot = facts.state.withLock { $0 }
try verdict.checkMessages(try Verdict.open(home, "btmsg"), acknowledged: snapshot.messages)
try verdict.checkTasks(try Verdict.open(home, "bttask"), facts: snapshot)
for (service, found) in stored {
    verdict.lost += found.gaps.count
    for gap in found.gaps { verdict.problem("\(service) stores a stream with a gap: \(gap)") }
}
for (service, group, ledger) in subscriberLedgers { verdict.checkConsumer(ledger, heads: groupHeads(stored, [service], group)) }
for (index, ledger) in fleet.ledgers.enumerated() { verdict.checkConsumer(ledger, heads: groupHeads(stored, allServices, webGroups[index])) }
let kills = monkey.record
let recoveries = kills.compactMap(\.recoverySeconds)
let unrecovered = kills.filter { $0.recoverySeconds == nil }.map(\.service)
emit(["part": "streams", "settle_s": settleSeconds, "stuck_consumers": stuckConsumers, "ws_clients": webClients, "ws_reconnects": fleet.reconnectCount,
      "ws_close_codes": Dictionary(uniqueKeysWithValues: fleet.closes.map { ("\($0.key)", $0.value) }),
      "ws_events": fleet.ledgers.reduce(0) { $0 + $1.counts.received },
      "subscriber_events": subscriberLedgers.reduce(0) { $0 + $1.ledger.counts.received }, "groups": groups.count,
      "projects": projects.count,
      "streams": stored.values.reduce(0) { $0 + $1.heads.count },
      "stored_events": stored.values.reduce(0) { $0 + $1.heads.values.reduce(0) { $0 + Int($1) } }])
emit(["part": "kills", "kills": kills.count, "unrecovered": unrecovered,
      "by_service": Dictionary(kills.map { ($0.service, 1) }, uniquingKeysWith: +),
      "recovery_p50_s": round2(recoveries.sorted().dropFirst(recoveries.count / 2).first ?? 0)])
for problem in verdict.problems { FileHandle.standardError.write(Data("agor-chaos: \(problem)\n".utf8)) }
let failures = verdict.lost + verdict.duplicated + verdict.outOfOrder + verdict.doubleClaims + unrecovered.count + stuckConsumers
if soak {
    let report = SoakReport(samples: sampler.all, warmUp: rate("WARM_UP_S", Double(loadSeconds) / 5))
    let verdicts = report.verdicts
    let summary: [String: Any] = [
        "soak": loadSeconds, "operations": counts.operations, "samples": report.samples.count,
        "restarts": verdicts.reduce(0) { $0 + $1.restarts },
        "max_rss_mib": verdicts.map(\.rssMiB.max).max() ?? 0,
        "max_rss_slope_mib_h": verdicts.map(\.rssMiB.slopePerHour).max() ?? 0,
        "max_wal_mib": verdicts.map(\.walMiB.max).max() ?? 0,
        "max_open_files": verdicts.map(\.openFiles.max).max() ?? 0,
        "lost": verdict.lost, "duplicated": verdict.duplicated, "out_of_order": verdict.outOfOrder,
        "double_claims": verdict.doubleClaims,
        "pass": failures == 0 && verdicts.allSatisfy(\.problems.isEmpty)]
    let folder = URL(fileURLWithPath: environment["SOAK_REPORT"] ?? "soak-report")
    try report.write(to: folder, summary: summary)
    for v in verdicts {
        emit(["part": "service", "service": v.service, "rss_mean_mib": v.rssMiB.mean, "rss_slope_mib_h": v.rssMiB.slopePerHour,
              "rss_growth_mib": v.rssMiB.growthInWindow, "wal_max_mib": v.walMiB.max, "db_max_mib": v.databaseMiB.max,
              "open_files_max": v.openFiles.max, "threads_max": v.threads.max, "restarts": v.restarts, "problems": v.problems])
    }
    progress("report: \(folder.path)/soak.html")
    emit(summary)
    exit(summary["pass"] as? Bool == true ? 0 : 1)
}
if partition {
    let faults = partitioner.record
    let recoveries = faults.compactMap(\.recoverySeconds)
    let unhealed = faults.filter { $0.recoverySeconds == nil }.count
    emit(["part": "partitions", "cuts": faults.filter { $0.kind == "cut" }.count, "lossy": faults.filter { $0.kind == "lossy" }.count,
          "unhealed": unhealed, "errors_seen_by_writers": counts.retries,
          "recovery_p50_s": round2(recoveries.sorted().dropFirst(recoveries.count / 2).first ?? 0)])
    emit(["chaos": loadSeconds, "operations": counts.operations, "partitions": faults.count, "kills": 0, "lost": verdict.lost,
          "duplicated": verdict.duplicated, "out_of_order": verdict.outOfOrder, "double_claims": verdict.doubleClaims,
          "max_recovery_s": round2(recoveries.max() ?? 0)])
    exit(failures + unhealed == 0 ? 0 : 1)
}
emit(["chaos": loadSeconds, "operations": counts.operations, "kills": kills.count, "lost": verdict.lost,
      "duplicated": verdict.duplicated, "out_of_order": verdict.outOfOrder, "double_claims": verdict.doubleClaims,
      "max_recovery_s": round2(recoveries.max() ?? 0)])
exit(failures == 0 ? 0 : 1)
