// btmsg-bench: a load generator for the real btmsg service. It sends durable 64-byte direct
// messages over CURVE (each one ACL-checked, committed, FTS-indexed and published by the service)
// and measures, with a subscriber on the group's stream, when each one is delivered.
//
//   btmsg-bench HOME CLIENTS DEPTH COUNT
//
// HOME is an initialised agor home whose btmsg service is running, with agents `load` (manager) and
// `sink` (worker) in group `bench`. CLIENTS connections each keep DEPTH sends in flight until COUNT
// messages in all are acknowledged and delivered. Prints one JSON line.
import AgorKit
import BtmsgAPI
import Bus
import Foundation
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count == 5, let clients = Int(arguments[2]), let depth = Int(arguments[3]), let count = Int(arguments[4]),
      clients > 0, depth > 0, count > 0 else {
    FileHandle.standardError.write(Data("usage: btmsg-bench HOME CLIENTS DEPTH COUNT\n".utf8))
    exit(2)
}
let home = Home(root: URL(fileURLWithPath: arguments[1]))

/// Nanoseconds on a monotonic clock.
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

let context = Context()
let sender = try ServiceClient(home: home, keyFile: home.secretKeyFile("load"), context: context)
let watcher = try ServiceClient(home: home, keyFile: home.secretKeyFile("sink"), context: context)

// Send times by message id (written when the reply arrives) and delivery times (when the event does).
let sentAt = Mutex<[String: UInt64]>([:])
let deliveredAt = Mutex<[String: UInt64]>([:])
let delivered = Atomic<Int>(0)

let subscriber = try watcher.subscriber("btmsg", prefixes: [BtmsgRules.stream(of: "bench")], start: .now)
let receiving = Task { [events = subscriber.events] in
    for await event in events where event.type == "message.created" {
        let t = now()
        guard let change = try? Agor_Btmsg_V1_Event(serializedBytes: event.body) else { continue }
        deliveredAt.withLock { $0[change.messageCreated.id] = t }
        if delivered.add(1, ordering: .relaxed).newValue >= count { return }
    }
}
// Wait until the service answers and the subscription is live: a probe message must come through.
let probe = try sender.rpc("btmsg")
var probeRequest = Agor_Btmsg_V1_SendRequest()
probeRequest.to = "sink"; probeRequest.body = "probe"
var live = false
for _ in 0..<200 {
    let before = delivered.load(ordering: .relaxed)
    // The service may still be starting: a probe that times out is simply sent again.
    _ = try? await probe.call(BtmsgMethods.send, probeRequest, options: .init(timeout: .seconds(1)))
    try await Task.sleep(for: .milliseconds(50))
    if delivered.load(ordering: .relaxed) > before { live = true; break }
}
guard live else {
    FileHandle.standardError.write(Data("btmsg-bench: the btmsg service at \(home.root.path) did not answer\n".utf8))
    exit(1)
}
await probe.close()
delivered.store(0, ordering: .relaxed)
deliveredAt.withLock { $0.removeAll(keepingCapacity: true) }

let body = String(repeating: "m", count: 64)
var template = Agor_Btmsg_V1_SendRequest()
template.to = "sink"; template.body = body
let requestBytes = try template.serializedBytes() as [UInt8]

let rpcs = try (0..<clients).map { _ in try sender.rpc("btmsg") }
let issued = Atomic<Int>(0)
let failures = Atomic<Int>(0)
let started = now()
await withTaskGroup(of: Void.self) { group in
    for rpc in rpcs {
        for _ in 0..<depth {
            group.addTask {
                while issued.add(1, ordering: .relaxed).newValue <= count {
                    let t0 = now()
                    do {
                        let reply = try await rpc.call(BtmsgMethods.send.name, requestBytes, options: .init(timeout: .seconds(30)))
                        let id = try Agor_Btmsg_V1_SendReply(serializedBytes: reply).message.id
                        sentAt.withLock { $0[id] = t0 }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
    }
}
let acknowledged = now()
// Every acknowledged message must also be delivered (bounded wait).
for _ in 0..<6000 where delivered.load(ordering: .relaxed) < count - failures.load(ordering: .relaxed) {
    try await Task.sleep(for: .milliseconds(5))
}
let finished = now()
receiving.cancel()

let latencies = sentAt.withLock { sent in
    deliveredAt.withLock { got in sent.compactMap { id, t0 in got[id].map { Double($0 &- t0) / 1e6 } } }
}.sorted()
func percentile(_ p: Double) -> Double {
    latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
}
let seconds = Double(finished - started) / 1e9
let result: [String: Any] = [
    "bench": "btmsg-load", "clients": clients, "depth": depth, "count": count,
    "acknowledged": sentAt.withLock { $0.count }, "delivered": delivered.load(ordering: .relaxed),
    "failures": failures.load(ordering: .relaxed),
    "msgs_per_s": (Double(delivered.load(ordering: .relaxed)) / seconds).rounded(),
    "ack_msgs_per_s": (Double(sentAt.withLock { $0.count }) / (Double(acknowledged - started) / 1e9)).rounded(),
    "p50_ms": (percentile(0.50) * 1000).rounded() / 1000, "p99_ms": (percentile(0.99) * 1000).rounded() / 1000,
]
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
for rpc in rpcs { await rpc.close() }
await subscriber.close()
