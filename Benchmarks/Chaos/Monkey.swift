import AgorKit
import Bus
import Foundation
import Synchronization

/// Kills services with SIGKILL while the load runs: every few seconds one at random, now and then
/// two at once. It only picks a service whose current run has lasted `minimumRun` (the home's
/// `supervisor.healthy_run_s`), so each kill is an exit after a healthy run that the supervisor
/// restarts, not a crash loop it gives up on. It measures each recovery: from the kill until the
/// service answers `bus.ping` from a new process.
final class Monkey: Sendable {
    struct Kill: Sendable {
        var service: String
        var atSeconds: Double
        var recoverySeconds: Double?
    }

    private let home: Home
    private let client: ServiceClient
    private let minimumRun: TimeInterval
    private let interval: ClosedRange<Double>
    private let kills = Mutex<[Kill]>([])
    private let started = Date()

    init(home: Home, client: ServiceClient, minimumRun: TimeInterval, interval: ClosedRange<Double>) {
        self.home = home
        self.client = client
        self.minimumRun = minimumRun
        self.interval = interval
    }

    var record: [Kill] { kills.withLock { $0 } }

    func run(stop: StopSignal) async {
        await withTaskGroup(of: Void.self) { recoveries in
            while !stop.isSet {
                try? await Task.sleep(for: .milliseconds(Int(Double.random(in: interval) * 1000)))
                guard !stop.isSet, let state = UpState.read(home) else { continue }
                let now = Date()
                let candidates = state.services.filter {
                    $0.state == "running" && $0.pid > 0 && now.timeIntervalSince($0.startedAt ?? now) >= minimumRun
                }.shuffled()
                // One in five rounds takes two at once.
                for victim in candidates.prefix(Double.random(in: 0..<1) < 0.2 ? 2 : 1) {
                    guard kill(victim.pid, SIGKILL) == 0 else { continue }
                    let index = kills.withLock { kills in
                        kills.append(Kill(service: victim.name, atSeconds: now.timeIntervalSince(started)))
                        return kills.count - 1
                    }
                    recoveries.addTask { [self] in
                        let recovered = await recovery(of: victim.name, killed: victim.pid, at: now)
                        kills.withLock { $0[index].recoverySeconds = recovered }
                    }
                }
            }
        }
    }

    /// Seconds from the kill until a new process of `service` answers (nil: not within 2 minutes).
    private func recovery(of service: String, killed pid: Int32, at killedAt: Date) async -> Double? {
        while Date().timeIntervalSince(killedAt) < 120 {
            if let reply = await client.ping(service, timeout: .milliseconds(500)), reply.pid != pid {
                return Date().timeIntervalSince(killedAt)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
