// runner-bench: how fast the runner takes an agent's output through to a Bus subscriber.
//
//   runner-bench HOME MEGABYTES
//
// HOME is an initialised agor home whose runner runs, with an agent `a1` and a manager `boss` in group `bench`. The bench
// writes MEGABYTES of mixed Claude stream-json lines (assistant text, tool calls, tool results, about
// 1 KB each, each line its own message) to a file; a fake agent `cat`s the file as fast as the pipe
// takes it. Measured on the same bytes:
//   - the runner: from `runner.start` to the subscriber's `session.finished`, counting the events
//     a sequenced subscriber received (and checking a replay returns as many);
//   - the raw pipe: `cat` into a reader that throws the bytes away (the physical limit);
//   - a plain Python reader: `for line in proc.stdout: json.loads(line)`, storing nothing.
// First, the flood: an agent writes one 50 MB line (over the 10 MiB limit) and the runner's peak RSS
// (VmHWM) is read. Prints one JSON line per part, then the summary line.
import AgentRunner
import AgorKit
import Bus
import Foundation
import RunnerAPI
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count == 3, let megabytes = Int(arguments[2]), megabytes > 0 else {
    FileHandle.standardError.write(Data("usage: runner-bench HOME MEGABYTES\n".utf8))
    exit(2)
}
let home = Home(root: URL(fileURLWithPath: arguments[1]))
let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func emit(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}

let context = Context()
let operatorClient = try ServiceClient(home: home, keyFile: home.secretKeyFile("boss"), context: context)
let rpc = try operatorClient.rpc("runner")
var ping: Agor_Bus_V1_PingReply?
for _ in 0..<100 where ping == nil {
    if let reply = try? await rpc.call(BusMethods.ping.name, [], options: .init(timeout: .seconds(1))) {
        ping = try? Agor_Bus_V1_PingReply(serializedBytes: reply)
    }
}
guard let runnerPid = ping?.pid else { FileHandle.standardError.write(Data("runner-bench: the runner does not answer\n".utf8)); exit(1) }

func peakRSSMegabytes(_ pid: Int32) -> Double {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

/// Starts a session of `a1` running `sh -c SCRIPT FILE` (the provider's own flags land in $1...).
func start(_ provider: String, script: String, file: String) async throws -> Agor_Runner_V1_Session {
    var request = Agor_Runner_V1_StartRequest()
    request.agent = "a1"
    request.provider = provider
    request.command = "/bin/sh"
    request.args = ["-c", script, file]
    request.prompt = "go"
    return try await rpc.call(RunnerAPI.start, request, options: .init(timeout: .seconds(30)))
}

/// Waits for `session.finished` on a session's stream; returns the events received and when.
func follow(_ stream: String, subscriber: SequencedSubscriber) async -> (events: Int, finished: ContinuousClock.Instant) {
    var count = 0
    for await event in subscriber.events where event.stream == stream {
        count += 1
        if event.type == "session.finished" { return (count, clock.now) }
    }
    return (count, clock.now)
}

let work = FileManager.default.temporaryDirectory.appendingPathComponent("runner-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

// --- the flood: one 50 MB line
let floodFile = work.appendingPathComponent("flood.ndjson")
_ = FileManager.default.createFile(atPath: floodFile.path, contents: nil)
let floodHandle = try FileHandle(forWritingTo: floodFile)
floodHandle.write(Data("{\"type\":\"assistant\",\"message\":{\"id\":\"big\",\"content\":[{\"type\":\"text\",\"text\":\"".utf8))
let chunk = Data(repeating: 0x78, count: 1 << 20)
for _ in 0..<50 { floodHandle.write(chunk) }
floodHandle.write(Data("\"}]}}\n{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"after\"}\n".utf8))
try floodHandle.close()
let floodSubscriber = try operatorClient.subscriber("runner", prefixes: ["runner/bench/"], start: .now)
let floodSession = try await start("claude", script: "exec cat \"$0\"", file: floodFile.path)
let floodResult = await follow(floodSession.stream, subscriber: floodSubscriber)
await floodSubscriber.close()
let floodPeak = peakRSSMegabytes(runnerPid)
emit(["part": "flood", "line_mb": 50, "events": floodResult.events, "runner_peak_rss_mb": (floodPeak * 10).rounded() / 10])

// --- the bytes
let dataFile = work.appendingPathComponent("claude.ndjson")
_ = FileManager.default.createFile(atPath: dataFile.path, contents: nil)
let handle = try FileHandle(forWritingTo: dataFile)
let filler = String(repeating: "lorem ipsum dolor sit amet ", count: 30)
var written = 0
var lineCount = 0
var block = ""
while written < megabytes << 20 {
    let id = lineCount
    let line: String
    switch id % 3 {
    case 0: line = #"{"type":"assistant","message":{"id":"m\#(id)","content":[{"type":"text","text":"\#(filler)"}],"usage":{"input_tokens":12,"output_tokens":34}},"parent_tool_use_id":null,"session_id":"s"}"#
    case 1: line = #"{"type":"assistant","message":{"id":"m\#(id)","content":[{"type":"tool_use","id":"t\#(id)","name":"Read","input":{"file_path":"/repo/\#(filler.prefix(600))"}}]},"parent_tool_use_id":null,"session_id":"s"}"#
    default: line = #"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t\#(id - 1)","type":"tool_result","content":"\#(filler)","is_error":false}]},"parent_tool_use_id":null,"session_id":"s"}"#
    }
    block += line + "\n"
    written += line.utf8.count + 1
    lineCount += 1
    if block.utf8.count > 1 << 20 { handle.write(Data(block.utf8)); block = "" }
}
handle.write(Data(block.utf8))
try handle.close()
let bytes = Double(written) / 1_048_576

// --- the runner
let subscriber = try operatorClient.subscriber("runner", prefixes: ["runner/bench/"], start: .now)
try await Task.sleep(for: .milliseconds(300))
let runStart = clock.now
let session = try await start("claude", script: "exec cat \"$0\"", file: dataFile.path)
let result = await follow(session.stream, subscriber: subscriber)
let runnerSeconds = seconds(result.finished - runStart)
await subscriber.close()
// What a replay returns (the events are stored, not only published).
var replayed = 0
var cursor: UInt64 = 0
while true {
    var ask = Agor_Bus_V1_ReplayRequest()
    ask.stream = session.stream
    ask.afterSeq = cursor
    let reply = try await rpc.call(BusMethods.replay, ask)
    replayed += reply.events.count
    guard let last = reply.events.last.flatMap({ BusEvent(packed: $0) }) else { break }
    cursor = last.seq
    if cursor >= reply.headSeq { break }
}
let runnerMBs = bytes / runnerSeconds
emit(["part": "runner", "mb": (bytes * 10).rounded() / 10, "lines": lineCount, "events_received": result.events, "events_replayed": replayed,
      "seconds": (runnerSeconds * 1000).rounded() / 1000, "mb_per_s": (runnerMBs * 10).rounded() / 10,
      "events_per_s": Int(Double(result.events) / runnerSeconds)])

// --- the raw pipe and a plain Python reader, on the same bytes
func timed(_ program: String, _ args: [String]) throws -> Double {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = args
    let pipe = Pipe()
    process.standardOutput = pipe
    let begin = clock.now
    try process.run()
    let fd = pipe.fileHandleForReading.fileDescriptor
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
    }
    process.waitUntilExit()
    return seconds(clock.now - begin)
}
let pipeSeconds = try timed("/bin/cat", [dataFile.path])
let pythonReader = "import json, subprocess, sys\np = subprocess.Popen(['cat', sys.argv[1]], stdout=subprocess.PIPE)\nn = 0\nfor line in p.stdout:\n    json.loads(line)\n    n += 1\np.wait()\n"
let pythonSeconds = try timed("/usr/bin/python3", ["-c", pythonReader, dataFile.path])
let pipeMBs = bytes / pipeSeconds, pythonMBs = bytes / pythonSeconds
emit(["part": "peers", "pipe_mb_per_s": (pipeMBs * 10).rounded() / 10, "python_mb_per_s": (pythonMBs * 10).rounded() / 10])

emit(["bench": "runner", "mb_per_s": (runnerMBs * 10).rounded() / 10, "events_per_s": Int(Double(result.events) / runnerSeconds),
      "pipe_mb_per_s": (pipeMBs * 10).rounded() / 10, "python_mb_per_s": (pythonMBs * 10).rounded() / 10,
      "ratio": ((runnerMBs / pythonMBs) * 100).rounded() / 100, "pipe_ratio": ((runnerMBs / pipeMBs) * 1000).rounded() / 1000,
      "flood_peak_rss_mb": (floodPeak * 10).rounded() / 10])
