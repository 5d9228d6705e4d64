import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Testing

/// Two hosts on this machine: network namespaces joined by a veth pair, each with an address of its
/// own. btmsg and bttask run in host A; the Gateway and its clients in host B. Messages and tasks
/// flow across; the link is cut for 10 s and restored, and the stream client gets every event, once,
/// in order. Skipped, saying why, where namespaces cannot be made (not root, no `ip netns`).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct TwoHostTests {
    static let ip = "/usr/sbin/ip"

    /// Why namespaces cannot be used here, or nil when they can.
    static let unavailable: String? = {
        guard getuid() == 0 else { return "the two-host test needs root to make network namespaces" }
        guard FileManager.default.isExecutableFile(atPath: ip) else { return "the two-host test needs \(ip) (iproute2)" }
        let probe = "agorprobe\(getpid())"
        guard (try? run([ip, "netns", "add", probe]))?.status == 0 else { return "`ip netns add` is not allowed in this sandbox" }
        _ = try? run([ip, "netns", "del", probe])
        return nil
    }()

    /// Runs a program (its path first) to completion.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        try AgorHome.run(Array(arguments.dropFirst()), environment: environment, program: URL(fileURLWithPath: arguments[0]))
    }

    @Test func servicesOnOneHostTheGatewayOnAnotherAndACutLinkLosesNothing() async throws {
        if let reason = TwoHostTests.unavailable {
            print("skipped: \(reason)")
            return
        }
        let ip = TwoHostTests.ip
        @discardableResult
        func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
            try TwoHostTests.run(arguments, environment: environment)
        }
        let tag = String(UInt32.random(in: 0..<100_000))
        let (a, b) = ("agorA\(tag)", "agorB\(tag)")
        let (linkA, linkB) = ("vaa\(tag)", "vab\(tag)")
        let subnet = "10.213.\(Int.random(in: 1...250))"
        let (addressA, addressB) = ("\(subnet).1", "\(subnet).2")
        defer {
            _ = try? run([ip, "netns", "del", a])
            _ = try? run([ip, "netns", "del", b])
        }
        for step in [[ip, "netns", "add", a], [ip, "netns", "add", b],
                     [ip, "link", "add", linkA, "type", "veth", "peer", "name", linkB],
                     [ip, "link", "set", linkA, "netns", a], [ip, "link", "set", linkB, "netns", b],
                     [ip, "-n", a, "addr", "add", "\(addressA)/24", "dev", linkA], [ip, "-n", b, "addr", "add", "\(addressB)/24", "dev", linkB],
                     [ip, "-n", a, "link", "set", linkA, "up"], [ip, "-n", b, "link", "set", linkB, "up"],
                     [ip, "-n", a, "link", "set", "lo", "up"], [ip, "-n", b, "link", "set", "lo", "up"]] {
            let result = try run(step)
            try #require(result.status == 0, "\(step.joined(separator: " ")): \(result.output)")
        }

        // One home, shared by both hosts: btmsg and bttask at A's address, the rest at B's.
        let it = try AgorHome()
        defer { it.cleanUp() }
        let path = it.home.root.path
        var config = try BusConfig.load(from: it.home.configFile)
        for index in config.services.indices {
            let host = ["btmsg", "bttask"].contains(config.services[index].name) ? addressA : addressB
            config.services[index].rpc = config.services[index].rpc.replacingOccurrences(of: "127.0.0.1", with: host)
            config.services[index].pub = config.services[index].pub.replacingOccurrences(of: "127.0.0.1", with: host)
            if config.services[index].http != nil { config.services[index].http?.host = host }
        }
        try AtomicFile.write(config.render(), to: it.home.configFile, mode: 0o644)
        let token = String(try AgorHome.run(["user", "add", "ann", "--group", "web", "--role", "manager", "--home", path]).output.split(separator: "\n").last ?? "")
        #expect(try AgorHome.run(["agent", "add", "mia", "--group", "web", "--role", "manager", "--home", path]).status == 0)
        #expect(try AgorHome.run(["agent", "add", "wes", "--group", "web", "--role", "worker", "--home", path]).status == 0)

        var processes: [Process] = []
        defer { for process in processes { process.terminate(); process.waitUntilExit() } }
        func start(_ host: String, _ arguments: [String], output: Pipe? = nil) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ip)
            process.arguments = ["netns", "exec", host] + arguments
            process.standardOutput = output ?? FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
            return process
        }
        _ = try start(a, [AgorHome.agor.path, "serve", "btmsg", "--home", path])
        _ = try start(a, [AgorHome.agor.path, "serve", "bttask", "--home", path])
        _ = try start(b, [AgorHome.agor.path, "serve", "gateway", "--home", path])
        let http = "http://\(addressB):\(config.service("gateway")!.http!.port)"

        /// Runs python in host B against the Gateway: an HTTP request, its status printed.
        func request(_ method: String, _ route: String, _ body: String? = nil) throws -> Int {
            let script = """
                import sys, urllib.request, urllib.error
                req = urllib.request.Request(sys.argv[1], method=sys.argv[2], data=(sys.argv[4].encode() if len(sys.argv) > 4 else None),
                                             headers={"Authorization": "Bearer " + sys.argv[3], "Content-Type": "application/json"})
                try:
                    print(urllib.request.urlopen(req, timeout=5).status)
                except urllib.error.HTTPError as e:
                    print(e.code)
                except Exception:
                    print(0)
                """
            var arguments = ["netns", "exec", b, "python3", "-c", script, http + route, method, token]
            if let body { arguments.append(body) }
            return Int(try run([ip] + arguments).output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let ready = try await eventually(100, every: .milliseconds(200)) { try request("GET", "/v1/inbox") == 200 }
        try #require(ready, "the gateway in host B never reached btmsg in host A")
        #expect(try request("POST", "/v1/tasks", #"{"title": "across hosts"}"#) == 201)

        // A stream client in host B for 15 messages; 5 before the cut, 5 during, 5 after.
        let streamOut = Pipe()
        let stream = try start(b, ["python3", AgorHome.packageRoot.appendingPathComponent("Tests/Interop/stream_client.py").path,
                                   "ws://\(addressB):\(config.service("gateway")!.http!.port)/v1/stream?services=btmsg&groups=web", token,
                                   "--count", "15", "--count-type", "message.created"], output: streamOut)
        try await Task.sleep(for: .seconds(1))
        func send(_ body: String) throws -> Int32 {
            try run([ip, "netns", "exec", a, AgorHome.btmsg.path, "send", "wes", body],
                    environment: ["AGOR_HOME": path, "AGOR_KEY": it.home.secretKeyFile("mia").path]).status
        }
        for i in 0..<5 { #expect(try send("before \(i)") == 0) }
        #expect(try run([ip, "-n", a, "link", "set", linkA, "down"]).status == 0)
        for i in 0..<5 { #expect(try send("during \(i)") == 0) }   // btmsg is in host A: still acknowledged
        #expect(try request("GET", "/v1/inbox") != 200)   // the Gateway cannot reach it meanwhile
        try await Task.sleep(for: .seconds(10))
        #expect(try run([ip, "-n", a, "link", "set", linkA, "up"]).status == 0)
        for i in 0..<5 { #expect(try send("after \(i)") == 0) }
        #expect(try await eventually(100, every: .milliseconds(300)) { try request("POST", "/v1/tasks", #"{"title": "after the cut"}"#) == 201 })

        // Wait for the client (it stops after 15 message events), at most 60 s.
        _ = await eventually(600, every: .milliseconds(100)) { !stream.isRunning }
        if stream.isRunning { stream.terminate() }
        let lines = String(decoding: streamOut.fileHandleForReading.readAll(), as: UTF8.self).split(separator: "\n")
        let events = lines.compactMap { line -> (seq: Int, type: String)? in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let seq = object["seq"] as? Int, let type = object["type"] as? String else { return nil }
            return (seq, type)
        }
        let messages = events.filter { $0.type == "message.created" }
        #expect(messages.count == 15, "\(lines.suffix(5))")
        let seqs = events.map(\.seq)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)               // once, in order
        #expect(seqs.isEmpty || seqs == Array(seqs.first!...seqs.last!))              // and no gap
    }
}
