// gateway-bench: the load generator of `make bench-gateway`. It holds GROUPS × PER_GROUP WebSocket
// clients over loopback, each subscribed to its group, sends marked messages at a steady rate spread
// over the groups, and measures send→client latency and losses; then raises the rate step by step
// until a step is not held. The same code runs against agor's Gateway (messages through btmsg) and
// against nats-server's WebSocket listener (messages published straight to it).
//
//   gateway-bench agor PORT SERVER_PID GROUPS PER_GROUP HOME TOKENS_FILE
//   gateway-bench nats PORT SERVER_PID GROUPS PER_GROUP
//
// TOKENS_FILE has one bearer token per line, for groups g0, g1, …; in HOME, agent src-gN (sender) and
// sink-gN (recipient) are in group gN. Environment: RATES (messages/s per step, comma-separated),
// STEP_SECONDS (default 5). Prints one JSON line per step and a summary line.
import LoadKit
import AgorKit
import Bus
import Foundation
import NIOCore
import NIOPosix
import Synchronization

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("gateway-bench: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 6, let port = Int(arguments[2]), let serverPid = Int32(arguments[3]),
      let groups = Int(arguments[4]), let perGroup = Int(arguments[5]), groups > 0, perGroup > 0 else {
    fail("usage: gateway-bench agor|nats PORT SERVER_PID GROUPS PER_GROUP [HOME TOKENS_FILE]")
}
let system = arguments[1]
let environment = ProcessInfo.processInfo.environment
let rates = (environment["RATES"] ?? "1000,2000,3000,4000,5000,6000,8000,10000,12000,15000,20000")
    .split(separator: ",").compactMap { Int($0) }
let stepSeconds = Double(environment["STEP_SECONDS"] ?? "5") ?? 5
let bodyLength = 64
/// A step is held when every accepted message reached every client within this long after the
/// last send, and its p99 stayed under `heldP99Ms` (queues did not grow through the step).
let drainSeconds = 3.0
let heldP99Ms = 500.0

let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 2)

/// Resident and peak memory of the server process, in MiB (from /proc).
func serverMemory() -> (rss: Double, peak: Double) {
    guard let status = try? String(contentsOfFile: "/proc/\(serverPid)/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
func cpuSeconds(_ pid: String) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14 and stime 15 (1-based, whole line).
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

// --- Clients: one tally each, connected 50 at a time.
let tallies = (0..<(groups * perGroup)).map { _ in Tally() }
func groupOf(client: Int) -> Int { client % groups }

var tokens: [String] = []
if system == "agor" {
    guard arguments.count == 8 else { fail("agor needs HOME and TOKENS_FILE") }
    guard let text = try? String(contentsOfFile: arguments[7], encoding: .utf8) else { fail("cannot read \(arguments[7])") }
    tokens = text.split(separator: "\n").map(String.init)
    guard tokens.count >= groups else { fail("\(arguments[7]) has \(tokens.count) tokens for \(groups) groups") }
} else if system != "nats" {
    fail("the system is agor or nats, not \(system)")
}

let connectStarted = monotonicNanos()
var channels: [Channel] = []
try await withThrowingTaskGroup(of: Channel.self) { connecting in
    for (index, tally) in tallies.enumerated() {
        if index >= 50, let channel = try await connecting.next() { channels.append(channel) }
        let group = groupOf(client: index)
        connecting.addTask {
            if system == "agor" {
                return try await WebSocketClient.connect(group: eventLoops, port: port, uri: "/v1/stream?services=btmsg&groups=g\(group)&batch=true",
                                                         headers: [("Authorization", "Bearer \(tokens[group])")]) { AgorStreamReader(tally: tally) }
            }
            return try await WebSocketClient.connect(group: eventLoops, port: port, uri: "/", headers: []) {
                NATSReader(tally: tally, subject: "bench.g\(group)")
            }
        }
    }
    for try await channel in connecting { channels.append(channel) }
}
for _ in 0..<6000 where !tallies.allSatisfy({ $0.state.withLock { $0.ready } }) { try await Task.sleep(for: .milliseconds(10)) }
let readyCount = tallies.filter { $0.state.withLock { $0.ready } }.count
guard readyCount == tallies.count else {
    let closes = tallies.compactMap { $0.state.withLock { $0.closed ? ($0.closeCode ?? 0) : nil } }
    fail("only \(readyCount) of \(tallies.count) clients became ready; \(closes.count) closed (codes \(Set(closes).sorted()); 0: no close frame)")
}
let connectSeconds = Double(monotonicNanos() - connectStarted) / 1e9

// --- The sender.
let sentLog = SentLog()
let sender: LoadSender
if system == "agor" {
    let home = Home(root: URL(fileURLWithPath: arguments[6]))
    let context = Context()
    let rpcs = try (0..<groups).map { try ServiceClient(home: home, keyFile: home.secretKeyFile("src-g\($0)"), context: context).rpc("btmsg") }
    sender = AgorSender(rpcs: rpcs, recipients: (0..<groups).map { "sink-g\($0)" }, bodyLength: bodyLength, log: sentLog)
} else {
    let tally = Tally()
    let channel = try await WebSocketClient.connect(group: eventLoops, port: port, uri: "/", headers: []) { NATSReader(tally: tally, subject: nil) }
    for _ in 0..<1000 where !tally.state.withLock({ $0.ready }) { try await Task.sleep(for: .milliseconds(10)) }
    sender = NATSSender(channel: channel, tally: tally, bodyLength: bodyLength, log: sentLog)
}

/// What a step's send tasks report back: messages accepted per group, and sends outstanding.
final class StepProgress: Sendable {
    let accepted: Mutex<[Int]>
    let inFlight = Atomic<Int>(0)
    init(groups: Int) { accepted = Mutex([Int](repeating: 0, count: groups)) }
}

struct StepResult {
    var rate: Int
    var held: Bool
    var deliveriesPerSecond: Double
    var p50: Double, p99: Double, max: Double
    var lost: Int
    var json: String
    /// Messages accepted per group up to the end of this step.
    var expectedAfter: [Int]
}

/// Sends `rate` messages/s for `stepSeconds`, spread round-robin over the groups, then waits for
/// the clients to receive them all (or `drainSeconds`), and measures. `expectedBefore` counts the
/// messages accepted per group before this step: what each client of the group has received.
func runStep(_ step: Int, rate: Int, seconds: Double, expectedBefore: [Int]) async -> StepResult {
    let total = Int(Double(rate) * seconds)
    let progress = StepProgress(groups: groups)
    // More outstanding sends than two seconds' worth means the system is not keeping up: the
    // schedule slips instead, which shows as a lower achieved rate.
    let inFlightCap = max(2 * rate, 1000)
    let started = monotonicNanos()
    let cpuBefore = (server: cpuSeconds(String(serverPid)), own: cpuSeconds("self"))
    await withDiscardingTaskGroup { tasks in
        var issued = 0
        while issued < total {
            let due = min(total, Int(Double(monotonicNanos() - started) / 1e9 * Double(rate)))
            if due > issued, progress.inFlight.load(ordering: .relaxed) < inFlightCap {
                var perGroup = [Int](repeating: 0, count: groups)
                for k in issued..<due { perGroup[k % groups] += 1 }
                issued = due
                for (group, count) in perGroup.enumerated() where count > 0 {
                    progress.inFlight.add(count, ordering: .relaxed)
                    tasks.addTask {
                        let ok = await sender.send(group: group, step: step, count: count)
                        progress.accepted.withLock { $0[group] += ok }
                        progress.inFlight.subtract(count, ordering: .relaxed)
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
    await sender.flush()
    let sendSeconds = Double(monotonicNanos() - started) / 1e9
    let cpuAfter = (server: cpuSeconds(String(serverPid)), own: cpuSeconds("self"))
    let accepted = progress.accepted.withLock { $0 }
    let acceptedTotal = accepted.reduce(0, +)
    let expectedSoFar = zip(expectedBefore, accepted).map { $0 + $1 }
    // Wait for every client to have everything its group was sent so far.
    let drainDeadline = monotonicNanos() + UInt64(drainSeconds * 1e9)
    func behind() -> Int {
        tallies.enumerated().reduce(0) { sum, item in sum + max(0, expectedSoFar[groupOf(client: item.offset)] - item.element.total) }
    }
    while behind() > 0, monotonicNanos() < drainDeadline { try? await Task.sleep(for: .milliseconds(20)) }
    // Match what arrived with what was sent: this step's latencies, and per client this step's count.
    var latencies: [UInt32] = []
    var lost = 0, delivered = 0
    for (index, tally) in tallies.enumerated() {
        let arrivals = tally.takeArrivals()
        let entries = sentLog.lookup(arrivals.map(\.key))
        var received = 0
        for (arrival, entry) in zip(arrivals, entries) {
            guard let entry, entry.step == step else { continue }
            received += 1
            latencies.append(UInt32(clamping: (arrival.atNs &- entry.sentNs) / 1000))
        }
        delivered += received
        lost += max(0, accepted[groupOf(client: index)] - received)
    }
    latencies.sort()
    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        return Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000
    }
    // How long the system took to accept each send (btmsg's reply; 0 for NATS, which does not answer).
    let acks = sentLog.entries(step: step).map { Double($0.acknowledgedNs - $0.sentNs) / 1e6 }.sorted()
    func ackPercentile(_ p: Double) -> Double { acks.isEmpty ? 0 : (acks[min(acks.count - 1, Int(Double(acks.count) * p))] * 1000).rounded() / 1000 }
    let closed = tallies.filter { $0.state.withLock { $0.closed } }.count
    let memory = serverMemory()
    let deliveriesPerSecond = Double(delivered) / sendSeconds
    let p99 = percentile(0.99)
    let held = lost == 0 && closed == 0 && acceptedTotal >= Int(0.95 * Double(total)) && sendSeconds <= seconds * 1.1 && p99 <= heldP99Ms
    let row: [String: Any] = [
        "bench": "gateway-step", "system": system, "step": step, "rate_msgs_per_s": rate, "clients": tallies.count,
        "sent": total, "accepted": acceptedTotal, "send_seconds": (sendSeconds * 100).rounded() / 100,
        "deliveries": delivered, "deliveries_per_s": Int(deliveriesPerSecond), "lost": lost, "closed_clients": closed,
        "ack_p50_ms": ackPercentile(0.5), "ack_p99_ms": ackPercentile(0.99), "p50_ms": percentile(0.5), "p99_ms": p99, "max_ms": percentile(1.0),
        "server_cpu_pct": Int((cpuAfter.server - cpuBefore.server) / sendSeconds * 100),
        "generator_cpu_pct": Int((cpuAfter.own - cpuBefore.own) / sendSeconds * 100),
        "server_rss_mib": Int(memory.rss), "server_peak_rss_mib": Int(memory.peak), "held": held,
    ]
    let data = try! JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
    return StepResult(rate: rate, held: held, deliveriesPerSecond: deliveriesPerSecond, p50: percentile(0.5), p99: p99,
                      max: percentile(1.0), lost: lost, json: String(decoding: data, as: UTF8.self), expectedAfter: expectedSoFar)
}

// A short warm-up (not reported) lets every connection and cache settle.
var expected = await runStep(0, rate: 200, seconds: 1, expectedBefore: [Int](repeating: 0, count: groups)).expectedAfter

var results: [StepResult] = []
for (index, rate) in rates.enumerated() {
    let result = await runStep(index + 1, rate: rate, seconds: stepSeconds, expectedBefore: expected)
    expected = result.expectedAfter
    print(result.json)
    results.append(result)
    if !result.held { break }
}
let base = results.first
let best = results.filter(\.held).max { $0.deliveriesPerSecond < $1.deliveriesPerSecond }
let summary: [String: Any] = [
    "bench": "gateway-system", "system": system, "clients": tallies.count, "groups": groups,
    "connect_seconds": (connectSeconds * 100).rounded() / 100,
    "base_rate_msgs_per_s": base?.rate ?? 0, "base_p50_ms": base?.p50 ?? 0, "base_p99_ms": base?.p99 ?? 0,
    "base_max_ms": base?.max ?? 0, "base_lost": base?.lost ?? -1,
    "held_rate_msgs_per_s": best?.rate ?? 0, "held_deliveries_per_s": Int(best?.deliveriesPerSecond ?? 0),
    "server_peak_rss_mib": Int(serverMemory().peak),
]
print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
for channel in channels { channel.close(promise: nil) }
exit(0)
