import AgorTestSupport
import Bus
import Foundation
import Testing
@testable import AgentRunner

/// Real agent processes (fake agents in Tests/Fixtures/agents, in the providers' real formats)
/// through the real exec helper: events in order, approvals answered through stdin, bounded lines,
/// a whole process group stopped, a cleared environment.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct AgentProcessTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let helper = root.appendingPathComponent(".build/debug/agor-exec").path
    static let fixtures = root.appendingPathComponent("Tests/Fixtures/agents").path

    /// Collects a session's events; `finished` once `session.finished` arrived.
    final class Collector: Sendable {
        let events = Locked<[AgentEvent]>([])
        func add(_ batch: [AgentEvent]) { events.withLock { $0 += batch } }
        var finished: Bool { events.withLock { $0.contains { $0.typeName == "session.finished" } } }
        var types: [String] { events.withLock { $0.map(\.typeName) } }

        func wait(until condition: @Sendable ([AgentEvent]) -> Bool) async -> Bool {
            await eventually(2400, every: .milliseconds(25)) { events.withLock { condition($0) } }
        }
    }

    static func start(_ script: String, _ arguments: [String], adapter: any ProviderAdapter, lineLimit: Int = 10 << 20,
                      environment: [String: String] = ["PATH": "/usr/bin:/bin"]) throws -> (AgentProcess, Collector, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        var policy = SandboxPolicy.standard(workingDirectory: folder.path, temporaryDirectory: folder.appendingPathComponent("tmp").path)
        policy.readExecute.append(fixtures)
        let collector = Collector()
        let launch = AgentProcess.Launch(helper: helper, program: "/usr/bin/python3", arguments: ["\(fixtures)/\(script)"] + arguments,
                                         environment: environment, workingDirectory: folder.path, policy: policy, lineLimit: lineLimit)
        let process = try AgentProcess(launch, adapter: adapter) { collector.add($0) }
        return (process, collector, folder)
    }

    @Test func aClaudeSessionWithParallelToolsAndAnApprovalAnsweredThroughStdin() async throws {
        let (process, collector, folder) = try Self.start("fake_claude.py", ["-p", "list", "--approval", "--permission-prompt-tool", "stdio"],
                                                          adapter: ClaudeAdapter())
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(process.sandbox.holds("process_group") && process.sandbox.holds("no_new_privs"))
        #expect(process.sandbox.layers["landlock"] == "held" || process.sandbox.layers["landlock"] == "unavailable")
        #expect(await collector.wait { $0.contains { $0.typeName == "approval.requested" } })
        var health = SessionHealth(keepsInputOpen: false)
        for var event in collector.events.withLock({ $0 }) { _ = health.apply(&event) }
        #expect(health.state == .needsInput && health.toolsInFlight.count == 2)
        process.write(ClaudeAdapter.approvalAnswer(requestId: "r1", allow: false))
        #expect(await collector.wait { $0.contains { $0.typeName == "session.finished" } })
        let events = collector.events.withLock { $0 }
        #expect(events.contains { $0.assistantText.text == "permission: deny" })
        #expect(events.filter { $0.typeName == "tool.result" }.map(\.toolResult.id) == ["t1_b", "t1_a"])
        #expect(events.last?.sessionFinished.exitCode == 0 && events.last?.typeName == "session.finished")
    }

    @Test func aFiftyMegabyteLineIsDroppedReportedAndReadingGoesOn() async throws {
        let (_, collector, folder) = try Self.start("misbehave.py", ["bigline", "50"], adapter: NDJSONAdapter(), lineLimit: 1 << 20)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(await collector.wait { $0.contains { $0.typeName == "session.finished" } })
        let events = collector.events.withLock { $0 }
        #expect(events.map(\.typeName) == ["error", "assistant.text", "error", "turn.finished", "session.finished"])
        #expect(events[0].error.kind == "line_too_long" && events[0].error.message.contains("\((50 << 20) + 25) bytes"), "\(events[0].error.message)")
        #expect(events[1].assistantText.text == "sep\u{2028}arated")   // U+2028 inside a string, unchanged
        #expect(events[2].error.kind == "bad_json" && events[3].turnFinished.finalText == "after the flood")
    }

    @Test func stopEndsTheWholeGroupEvenWhenSIGTERMIsIgnored() async throws {
        let (process, collector, folder) = try Self.start("misbehave.py", ["ignore-term"], adapter: NDJSONAdapter())
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(await collector.wait { $0.contains { $0.typeName == "assistant.text" } })
        process.stop(grace: .milliseconds(300))
        #expect(await collector.wait { $0.contains { $0.typeName == "session.finished" } })
        #expect(collector.events.withLock { $0.last?.sessionFinished.signal } == SIGKILL)
    }

    @Test func aGrandchildHoldingTheOutputDoesNotKeepTheSessionAlive() async throws {
        let (process, collector, folder) = try Self.start("misbehave.py", ["fork"], adapter: NDJSONAdapter())
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(await collector.wait { $0.contains { $0.typeName == "session.finished" } })
        #expect(collector.events.withLock { $0.last?.sessionFinished.exitCode } == 0)
        // The grandchild (it sleeps 600 s) was killed with its group: no live member is left.
        #expect(await collector.wait { _ in Self.liveMembers(ofGroup: process.pid).isEmpty })
    }

    /// Processes of a process group that are not zombies, from /proc.
    static func liveMembers(ofGroup group: pid_t) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            return fields.count > 2 && fields[0] != "Z" && fields[2] == "\(group)"
        }
    }

    @Test func theAgentSeesOnlyTheEnvironmentItIsGiven() async throws {
        let (_, collector, folder) = try Self.start("misbehave.py", ["env"], adapter: NDJSONAdapter(),
                                                    environment: ["PATH": "/usr/bin:/bin", "AGOR_KEY": "/k/agent.key"])
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(await collector.wait { $0.contains { $0.typeName == "session.finished" } })
        let text = try #require(collector.events.withLock { $0.first { $0.typeName == "assistant.text" } }).assistantText.text
        let environment = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(environment["AGOR_KEY"] == "/k/agent.key" && environment["HOME"] == nil)
        #expect(Set(environment.keys).isSubset(of: ["PATH", "AGOR_KEY", "LC_CTYPE"]), "\(environment.keys.sorted())")
    }

    @Test func aFloodIsReadWholeWhileTheConsumerSetsThePace() async throws {
        // A consumer slower than the child: the pipe fills and the child waits; nothing is lost.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var policy = SandboxPolicy.standard(workingDirectory: folder.path, temporaryDirectory: folder.appendingPathComponent("tmp").path)
        policy.readExecute.append(Self.fixtures)
        let collector = Collector()
        let launch = AgentProcess.Launch(helper: Self.helper, program: "/usr/bin/python3", arguments: ["\(Self.fixtures)/misbehave.py", "flood", "20000"],
                                         environment: ["PATH": "/usr/bin:/bin"], workingDirectory: folder.path, policy: policy)
        let process = try AgentProcess(launch, adapter: ClaudeAdapter()) { batch in
            usleep(200)   // a slow store
            collector.add(batch)
        }
        _ = process
        #expect(await collector.wait { $0.contains { $0.typeName == "session.finished" } })
        let texts = collector.events.withLock { $0.filter { $0.typeName == "assistant.text" } }
        #expect(texts.count == 20000)
        #expect(collector.events.withLock { $0.filter { $0.typeName == "error" }.isEmpty })
    }
}
