import AgorKit
import Bus
import Foundation
import Testing

/// Real `agor` processes on a temporary home with free loopback ports.
final class AgorHome: @unchecked Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let agor = packageRoot.appendingPathComponent(".build/debug/agor")
    static let btmsg = packageRoot.appendingPathComponent(".build/debug/btmsg")
    static let bttask = packageRoot.appendingPathComponent(".build/debug/bttask")

    let home: Home
    private(set) var children: [Process] = []

    init() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agor-it-\(UUID().uuidString.prefix(8))")
        home = Home(root: root)
        let result = try AgorHome.run(["init", "--home", root.path, "--port-base", "\(AgorHome.freePortBase())"])
        guard result.status == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: result.output]) }
        // The fake agents live in this checkout, which the agents' own user (agor-agent, when the
        // tests run as root) may not be able to read: the tests that are not about that layer turn it off.
        let pinned = try AgorHome.run(["settings", "set", "runner.sandbox.user", "off", "--home", root.path])
        guard pinned.status == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: pinned.output]) }
    }

    /// Runs `agor ARGS` (or another program) to completion; returns its exit status and output
    /// (stdout + stderr).
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]? = nil, program: URL = agor) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readAll()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs `python3 ARGS` (a script of Tests/Interop, or `-m MODULE`) to its end, off the
    /// cooperative pool; returns its exit status and its output (stdout + stderr). The python3 on
    /// PATH: the one `make deps` installed the PyPI packages for.
    static func python(_ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
        try await offThePool { try run(["python3"] + arguments, environment: environment, program: URL(fileURLWithPath: "/usr/bin/env")) }
    }

    /// A script of Tests/Interop, by name.
    static func interop(_ script: String) -> String { packageRoot.appendingPathComponent("Tests/Interop/\(script)").path }

    /// Runs `btmsg ARGS` as `who` (its key through AGOR_KEY) against this home; stdout and stderr apart.
    @discardableResult
    func btmsg(_ who: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try tool(AgorHome.btmsg, who, arguments)
    }

    /// Runs `bttask ARGS` as `who`.
    @discardableResult
    func bttask(_ who: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try tool(AgorHome.bttask, who, arguments)
    }

    /// The environment a CLI runs in as `who`: this home, and `who`'s key.
    func environment(as who: String) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(["AGOR_HOME": home.root.path, "AGOR_KEY": home.secretKeyFile(who).path]) { $1 }
    }

    /// Starts a CLI as `who` in the background (`wait`, `watch`); its stdout comes through the pipe.
    func launch(_ executable: URL, as who: String, _ arguments: [String]) throws -> (process: Process, out: Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment(as: who)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, out)
    }

    /// Runs a CLI (`btmsg`, `bttask`) as `who` to completion.
    func tool(_ executable: URL, _ who: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment(as: who)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes concurrently so neither fills up.
        let errData = Locked(Data())
        let reader = Thread { errData.withLock { $0 = err.fileHandleForReading.readAll() } }
        reader.start()
        let outData = out.fileHandleForReading.readAll()
        process.waitUntilExit()
        while reader.isExecuting || !reader.isFinished { usleep(1000) }
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    /// Starts `agor ARGS` in the background (killed at the end of the test).
    func start(_ arguments: [String], program: URL = AgorHome.agor) throws -> Process {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        let log = home.root.appendingPathComponent("test-\(children.count).out")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        try process.run()
        children.append(process)
        return process
    }

    static let echo = packageRoot.appendingPathComponent(".build/debug/agor-echo")

    /// Starts a service as `agor serve NAME`; `echo`, a test service outside the catalogue, as
    /// `agor-echo` with an entry of its own added to this home first. Start echo before a service
    /// that reads every entry of config.toml at its start (diagnostics, the Gateway).
    func serve(_ service: String) throws -> Process {
        guard service == "echo" else { return try start(["serve", service, "--home", home.root.path]) }
        try HomeSetup(home: home).addService("echo")
        return try start(["--home", home.root.path], program: AgorHome.echo)
    }

    /// Serves every service of the catalogue, each its own `agor serve` process, and waits until
    /// each answers and the Gateway's HTTP door is open (both recorded as expectations). Returns
    /// the processes by service name and the Gateway's address.
    func serveAll() async throws -> (processes: [String: Process], http: BusConfig.HTTPAddress) {
        var processes: [String: Process] = [:]
        for service in ServiceCatalog.names { processes[service] = try serve(service) }
        for service in ServiceCatalog.names { #expect(try await waitUntilAnswers(service), "\(service) does not answer") }
        let http = try #require(BusConfig.load(from: home.configFile).service("gateway")?.http)
        #expect(await GatewayProcessTests.waitForHTTP(http))
        return (processes, http)
    }

    func client(key: String = "operator") throws -> ServiceClient {
        try ServiceClient(home: home, keyFile: home.secretKeyFile(key))
    }

    /// Waits (bounded) until the service answers a ping.
    func waitUntilAnswers(_ service: String, key: String = "operator") async throws -> Bool {
        let client = try client(key: key)
        for _ in 0..<100 {
            if await client.ping(service, timeout: .milliseconds(300)) != nil { return true }
        }
        return false
    }

    static func freePortBase() -> Int { LoopbackPorts.freeBase(count: 14) }

    func cleanUp() {
        for child in children where child.isRunning {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: home.root)
    }
}

func json(_ bytes: [UInt8]) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
}

func jsonBytes(_ object: [String: Any]) -> [UInt8] {
    Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
}

/// Reads a child process's output line by line on its own thread and keeps the first JSON line
/// that `matches` (for `watch --json` commands).
final class FirstJSONLine: Sendable {
    private let found = Locked<Data?>(nil)

    init(_ pipe: Pipe, matches: @escaping @Sendable ([String: Any]) -> Bool) {
        let found = self.found
        Thread {
            var buffer = Data()
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { return }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = Data(buffer[buffer.startIndex..<newline])
                    buffer = Data(buffer[(newline + 1)...])
                    if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any], matches(object) {
                        found.withLock { $0 = $0 ?? line }
                    }
                }
            }
        }.start()
    }

    var line: Data? { found.withLock { $0 } }
}

/// Collects what a process writes to a pipe, line by line, on a thread of its own, so a test can
/// look at the lines so far while the process runs.
final class LineCollector: @unchecked Sendable {
    let lines = Locked<[String]>([])
    private let reader: Thread

    init(_ pipe: Pipe) {
        let lines = self.lines
        reader = Thread {
            let handle = pipe.fileHandleForReading
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    lines.withLock { $0.append(line) }
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
        }
        reader.start()
    }

    /// Waits until the writer has closed the pipe and every line is in.
    func waitUntilClosed() {
        while !reader.isFinished { usleep(1000) }
    }
}

extension FileHandle {
    /// Everything until end of file, read again after EINTR: a signal that reaches the test process
    /// (a child's SIGCHLD, say) interrupts a blocking read, and Foundation's readDataToEndOfFile()
    /// then traps on its `try!`.
    func readAll() -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return data }
            data.append(contentsOf: buffer[0..<n])
        }
    }
}

/// Runs blocking work (waiting for processes, reading their pipes) on a thread of its own, so
/// that it holds none of the few cooperative threads (two on this machine) that the in-process
/// services of the tests running beside it need.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
