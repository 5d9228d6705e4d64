import AgorTestSupport
import AgorKit
import Bus
import Foundation
import Testing
@testable import btmsg

/// A service's background work runs in the runtime's service group (ServiceRuntime.run(background:)).
@Suite("service lifecycle", .serialized, .timeLimit(.minutes(2)))
struct LifecycleTests {
    @Test("background work: a one-time job ends without stopping the service; a loop runs until the service stops, and not after")
    func backgroundWorkLivesWithTheService() async throws {
        let home = Home(root: FileManager.default.temporaryDirectory.appendingPathComponent("lifecycle-\(UUID().uuidString.prefix(8))"))
        defer { try? FileManager.default.removeItem(at: home.root) }
        _ = try HomeSetup(home: home).initialize(portBase: LoopbackPorts.freeBase(count: 14))
        let runtime = try ServiceRuntime(name: "btmsg", home: home) { BtmsgSchema.register(in: &$0) }
        let oneTimeRan = Locked(false), loopRunning = Locked(false), loopEnded = Locked(false)
        let serving = Task {
            try await runtime.run(background: [
                BackgroundWork("one time") { oneTimeRan.withLock { $0 = true } },
                BackgroundWork("loop") {
                    loopRunning.withLock { $0 = true }
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                    loopEnded.withLock { $0 = true }
                },
            ])
        }
        let client = try ServiceClient(home: home, keyFile: home.secretKeyFile("operator"))
        var answered = false
        for _ in 0..<100 where !answered {
            answered = await client.ping("btmsg", timeout: .milliseconds(500)) != nil
        }
        #expect(answered)
        _ = await eventually(every: .milliseconds(20)) { oneTimeRan.withLock { $0 } && loopRunning.withLock { $0 } }
        #expect(oneTimeRan.withLock { $0 })
        // The one-time job has ended; the service still answers and the loop still runs.
        #expect(await client.ping("btmsg", timeout: .seconds(2))?.service == "btmsg")
        #expect(!loopEnded.withLock { $0 })
        serving.cancel()
        _ = try? await serving.value
        // run() returned: the loop ended with it, and the service no longer answers.
        #expect(loopEnded.withLock { $0 })
        #expect(await client.ping("btmsg", timeout: .milliseconds(300)) == nil)
    }
}
