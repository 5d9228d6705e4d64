// revoke-bench: how fast a revocation ends what a principal already has open, under load.
//
//   revoke-bench HOME AGOR BTTASK ROUNDS
//
// HOME is an initialised agor home whose bttask service runs, with a manager `boss` and a worker
// `keeper` in group `bench`; AGOR and BTTASK are the programs. While `boss` creates tasks without
// pause, each round adds an agent, subscribes a plain SUB with its key to `bttask/bench/`, waits
// until events arrive, then runs `agor revoke` and measures: the time until the service logged the
// change as applied, the time until the last event reached the revoked subscriber, how many events
// numbered after the applied change reached it (must be 0), and how long the revoked agent's
// `bttask list` takes to be refused. `keeper` follows the stream throughout with a sequenced
// subscriber; at the end its events must be every number once, in order. Prints one JSON line.
import AgorKit
import BttaskAPI
import Bus
import Foundation
import GRDB
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count == 5, let rounds = Int(arguments[4]), rounds > 0 else {
    FileHandle.standardError.write(Data("usage: revoke-bench HOME AGOR BTTASK ROUNDS\n".utf8))
    exit(2)
}
let home = Home(root: URL(fileURLWithPath: arguments[1]))
let agorProgram = URL(fileURLWithPath: arguments[2])
let bttaskProgram = URL(fileURLWithPath: arguments[3])
let stream = "bttask/bench/"
let context = Context()
let clock = ContinuousClock()

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

/// Runs a program to completion; returns its status.
func run(_ program: URL, _ args: [String], environment: [String: String] = [:]) throws -> Int32 {
    let process = Process()
    process.executableURL = program
    process.arguments = args
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

func streamHead() throws -> UInt64 {
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: home.database("bttask").path, configuration: configuration)
    return try queue.read { db in
        UInt64(try Int64.fetchOne(db, sql: "SELECT head FROM bus_streams WHERE stream = ?", arguments: [stream]) ?? 0)
    }
}

/// Lines of the service's log that say a change naming `name` was applied.
func appliedLogged(_ name: String) -> Bool {
    let log = (try? String(contentsOf: home.root.appendingPathComponent("logs/bttask.log"), encoding: .utf8)) ?? ""
    return log.split(separator: "\n").contains { $0.contains("directory change applied") && $0.contains("=\(name)") }
}

let boss = try ServiceClient(home: home, keyFile: home.secretKeyFile("boss"), context: context)
let bossRPC = try boss.rpc("bttask")
var answered = false
for _ in 0..<100 where !answered {
    answered = (try? await bossRPC.call(BttaskMethods.list, Agor_Bttask_V1_ListRequest(),
                                        options: .init(timeout: .seconds(1)))) != nil
}
guard answered else { FileHandle.standardError.write(Data("revoke-bench: bttask does not answer\n".utf8)); exit(1) }

// The legitimate subscriber, throughout.
let keeper = try ServiceClient(home: home, keyFile: home.secretKeyFile("keeper"), context: context)
    .subscriber("bttask", prefixes: [stream], start: .now)
let keeperSeqs = Mutex<[UInt64]>([])
let keeperTask = Task { for await event in keeper.events where event.stream == stream { keeperSeqs.withLock { $0.append(event.seq) } } }

// The load: 4 creators without pause.
let created = Atomic<Int>(0)
let loadStart = clock.now
let load = Task {
    await withTaskGroup(of: Void.self) { group in
        for creator in 0..<4 {
            group.addTask {
                var i = 0
                while !Task.isCancelled {
                    var request = Agor_Bttask_V1_CreateRequest()
                    request.group = "bench"
                    request.title = "load \(creator).\(i)"
                    if (try? await bossRPC.call(BttaskMethods.create, request)) != nil {
                        created.add(1, ordering: .relaxed)
                    }
                    i += 1
                }
            }
        }
    }
}

struct Round {
    var command: Double
    var toApplied: Double
    var toLastEvent: Double
    var afterApplied: Int
    var afterRevokeStarted: Int
    var refusedCLI: Double
    var refusedStatus: Int32
}
var results: [Round] = []
for round in 1...rounds {
    let name = "spy\(round)"
    let keyFile = try HomeSetup(home: home).addAgent(name: name, group: "bench", role: .worker)
    let key = try CurveKeyPair.read(from: keyFile)
    guard let config = try? BusConfig.load(from: home.configFile), let endpoint = config.service("bttask")?.pub,
          let serverKey = Directory(folder: home.directoryFolder).principal(named: "bttask")?.publicKey else { exit(1) }
    let tap = try EventTap(context: context, endpoint: endpoint, serverKey: serverKey, key: key, prefix: stream)
    for _ in 0..<400 where tap.eventSeqs.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
    guard !tap.eventSeqs.isEmpty else { FileHandle.standardError.write(Data("revoke-bench: \(name) never received\n".utf8)); exit(1) }

    let start = clock.now
    guard try run(agorProgram, ["revoke", name, "--home", home.root.path]) == 0 else { exit(1) }
    let revoked = clock.now
    while !appliedLogged(name) && clock.now - start < .seconds(10) { try await Task.sleep(for: .milliseconds(1)) }
    let applied = clock.now
    let headAtApplied = try streamHead()
    try await Task.sleep(for: .milliseconds(500))   // the load goes on; anything late would arrive now

    let events = tap.items.withLock { $0.filter { $0.kind == .event } }
    let last = events.last?.received ?? start
    let cliStart = clock.now
    let status = try run(bttaskProgram, ["list"], environment: ["AGOR_HOME": home.root.path, "AGOR_KEY": keyFile.path])
    let cliTime = clock.now - cliStart
    results.append(Round(command: milliseconds(revoked - start), toApplied: milliseconds(applied - start), toLastEvent: max(0, milliseconds(last - start)),
                         afterApplied: events.filter { $0.seq > headAtApplied }.count,
                         afterRevokeStarted: events.filter { $0.received > start }.count,
                         refusedCLI: milliseconds(cliTime), refusedStatus: status))
    await tap.close()
}
load.cancel()
await load.value
let loadSeconds = milliseconds(clock.now - loadStart) / 1000
// Let the keeper take in the last events.
let finalHead = try streamHead()
for _ in 0..<500 where (keeperSeqs.withLock { $0.last } ?? 0) < finalHead { try await Task.sleep(for: .milliseconds(10)) }
let seqs = keeperSeqs.withLock { $0 }
let first = seqs.first ?? 1
let expected = seqs.isEmpty ? [] : Array(first...finalHead)
let statistics = keeper.statistics
keeperTask.cancel()
await keeper.close()

func summary(_ values: [Double]) -> [String: Double] {
    let sorted = values.sorted()
    return ["p50": (sorted[sorted.count / 2] * 10).rounded() / 10, "max": ((sorted.last ?? 0) * 10).rounded() / 10]
}
let figures: [String: Any] = [
    "bench": "revoke",
    "rounds": rounds,
    "load_creates_per_s": Int(Double(created.load(ordering: .relaxed)) / loadSeconds),
    "revoke_command_ms": summary(results.map(\.command)),
    "revoke_to_applied_ms": summary(results.map(\.toApplied)),
    "revoke_to_last_event_ms": summary(results.map(\.toLastEvent)),
    "events_after_applied": results.map(\.afterApplied).reduce(0, +),
    "events_after_revoke_started": results.map(\.afterRevokeStarted).reduce(0, +),
    "refused_cli_ms": summary(results.map(\.refusedCLI)),
    "refused_cli_statuses": Array(Set(results.map(\.refusedStatus))).sorted(),
    "keeper_events": seqs.count,
    "keeper_in_order_once": seqs == expected,
    "keeper_recovered_by_replay": statistics.eventsRecovered,
]
let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
print(String(decoding: data, as: UTF8.self))
