import AgorKit
import Bus
import Foundation
import Testing

@Suite(.serialized) struct SupervisorTests {
    /// A service that cannot start (its key is gone) is restarted with back-off, then left down
    /// after the failure limit, and says so in run/up.json.
    @Test func crashingServiceStaysDownAfterTheFailureLimit() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        try FileManager.default.removeItem(at: it.home.secretKeyFile("echo"))
        var policy = Supervisor.Policy()
        policy.firstBackoff = .milliseconds(20)
        policy.maxBackoff = .milliseconds(100)
        policy.answerTimeout = .milliseconds(300)
        policy.handleSignals = false
        let supervisor = try Supervisor(home: it.home, executable: AgorHome.agor, policy: policy)
        let running = Task { await supervisor.run() }
        var state: UpState?
        for _ in 0..<400 {
            state = UpState.read(it.home)
            if state?.services.first?.state == "failed" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(state?.services.first?.state == "failed")
        #expect(state?.services.first?.restarts == policy.failureLimit - 1)
        await supervisor.stop()
        #expect(await running.value == false)
        #expect(!FileManager.default.fileExists(atPath: it.home.upStateFile.path))
    }
}
