// bttask-bench: a load generator for the real bttask service over CURVE.
//
//   bttask-bench HOME WORKERS TASKS WATCHERS UPDATES
//
// HOME is an initialised agor home whose bttask service runs, with a manager `boss` and workers
// `w1`...`wWORKERS` in group `bench`. It creates TASKS ready tasks, then WORKERS clients claim them,
// each asking for the best ready task until none is left; a claim counts when the service says it
// won. Then UPDATES title updates measure latency while WATCHERS subscribers stream
// the board. Prints one JSON line; the script checks the database afterwards.
import AgorKit
import BttaskAPI
import Bus
import Foundation
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count == 6, let workers = Int(arguments[2]), let taskCount = Int(arguments[3]),
      let watcherCount = Int(arguments[4]), let updates = Int(arguments[5]), workers > 0, taskCount > 0 else {
    FileHandle.standardError.write(Data("usage: bttask-bench HOME WORKERS TASKS WATCHERS UPDATES\n".utf8))
    exit(2)
}
let home = Home(root: URL(fileURLWithPath: arguments[1]))
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
let context = Context()
let boss = try ServiceClient(home: home, keyFile: home.secretKeyFile("boss"), context: context)

// Wait until the service answers.
let bossRPC = try boss.rpc("bttask")
var answered = false
for _ in 0..<100 {
    if (try? await bossRPC.call(BttaskMethods.list, Agor_Bttask_V1_ListRequest(),
                                options: .init(timeout: .seconds(1)))) != nil { answered = true; break }
}
guard answered else { FileHandle.standardError.write(Data("bttask-bench: bttask does not answer\n".utf8)); exit(1) }

// Create the tasks, 64 at a time.
let ids = Mutex<[String]>([])
let next = Atomic<Int>(0)
await withTaskGroup(of: Void.self) { group in
    for _ in 0..<64 {
        group.addTask {
            while next.add(1, ordering: .relaxed).newValue <= taskCount {
                var r = Agor_Bttask_V1_CreateRequest()
                r.title = "task"
                if let reply = try? await bossRPC.call(BttaskMethods.create, r, options: .init(timeout: .seconds(30))) {
                    ids.withLock { $0.append(reply.task.id) }
                }
            }
        }
    }
}
let taskIds = ids.withLock { $0 }

// Watchers stream the board during the claims and the updates.
let watched = Atomic<Int>(0)
var watchers: [SequencedSubscriber] = []
var watching: [Task<Void, Never>] = []
for _ in 0..<watcherCount {
    let subscriber = try boss.subscriber("bttask", prefixes: [BttaskRules.stream(of: "bench")], start: .now)
    watchers.append(subscriber)
    watching.append(Task { [events = subscriber.events] in for await _ in events { watched.add(1, ordering: .relaxed) } })
}

// Claims: each worker asks for the best ready task until nothing is ready (the service picks
// inside the claim, as SKIP LOCKED does for PostgreSQL).
let attempts = taskIds
let won = Mutex<[String: Int]>([:])
let conflicts = Atomic<Int>(0)
let failures = Atomic<Int>(0)
let workerRPCs = try (1...workers).map { try ServiceClient(home: home, keyFile: home.secretKeyFile("w\($0)"), context: context).rpc("bttask") }
let claimStart = now()
await withTaskGroup(of: Void.self) { group in
    for rpc in workerRPCs {
        group.addTask {
            while true {
                do {
                    let reply = try await rpc.call(BttaskMethods.claim, Agor_Bttask_V1_ClaimRequest(),
                                                   options: .init(timeout: .seconds(30)))
                    won.withLock { $0[reply.task.id, default: 0] += 1 }
                } catch let error as BusError where error.errorCode == .notFound {
                    return   // nothing ready any more
                } catch let error as BusError where error.errorCode == .conflict {
                    conflicts.add(1, ordering: .relaxed)
                } catch {
                    failures.add(1, ordering: .relaxed)
                    if failures.load(ordering: .relaxed) > 1000 { return }
                }
            }
        }
    }
}
let claimSeconds = Double(now() - claimStart) / 1e9
let wins = won.withLock { $0 }

// Update latency while the watchers stream: 10 clients update titles of claimed tasks.
let latencies = Mutex<[Double]>([])
let updateCursor = Atomic<Int>(0)
let updaters = try (0..<10).map { _ in try boss.rpc("bttask") }
await withTaskGroup(of: Void.self) { group in
    for rpc in updaters {
        group.addTask {
            while true {
                let index = updateCursor.add(1, ordering: .relaxed).newValue - 1
                guard index < updates, !taskIds.isEmpty else { return }
                let id = taskIds[index % taskIds.count]
                var ref = Agor_Bttask_V1_TaskRef(); ref.id = id
                guard let current = try? await rpc.call(BttaskMethods.show, ref) else { continue }
                var r = Agor_Bttask_V1_UpdateRequest()
                r.id = id; r.expectedVersion = current.task.version; r.title = "task \(index)"
                let t0 = now()
                if (try? await rpc.call(BttaskMethods.update, r)) != nil {
                    let ms = Double(now() - t0) / 1e6
                    latencies.withLock { $0.append(ms) }
                }
            }
        }
    }
}
let sorted = latencies.withLock { $0 }.sorted()
func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

let result: [String: Any] = [
    "bench": "bttask-load", "workers": workers, "tasks": taskIds.count, "claim_attempts": attempts.count,
    "claims_won": wins.values.reduce(0, +), "double_claims": wins.values.filter { $0 > 1 }.count,
    "unclaimed": taskIds.count - wins.count, "conflicts": conflicts.load(ordering: .relaxed),
    "failures": failures.load(ordering: .relaxed),
    "claims_per_s": (Double(wins.values.reduce(0, +)) / claimSeconds).rounded(),
    "update_p50_ms": (percentile(0.5) * 1000).rounded() / 1000, "update_p99_ms": (percentile(0.99) * 1000).rounded() / 1000,
    "updates": sorted.count, "watchers": watcherCount, "events_seen_by_watchers": watched.load(ordering: .relaxed),
]
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
for w in watchers { await w.close() }
for t in watching { t.cancel() }
for rpc in workerRPCs + updaters + [bossRPC] { await rpc.close() }
