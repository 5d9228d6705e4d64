import Bus
import Foundation
import Synchronization

/// The partition mode's monkey (scripts/partition.sh): instead of killing services it cuts the link
/// between the two hosts and heals it, or makes it drop packets at random, by running the shell
/// commands the script hands over (`ip link set ... down`, an nftables rule). Each fault lasts a few
/// seconds; after each the link is clean again and it measures the recovery: from the heal until
/// the far host's services (`services`) answer `bus.ping` again.
final class Partitioner: Sendable {
    struct Fault: Sendable {
        var kind: String
        var atSeconds: Double
        var recoverySeconds: Double?
    }

    struct Commands: Sendable {
        var cut: String
        var heal: String
        var lossy: String
        var clean: String
    }

    private let commands: Commands
    private let client: ServiceClient
    private let services: [String]
    private let faults = Mutex<[Fault]>([])
    private let started = Date()

    init(commands: Commands, client: ServiceClient, services: [String]) {
        self.commands = commands
        self.client = client
        self.services = services
    }

    var record: [Fault] { faults.withLock { $0 } }

    func run(stop: StopSignal) async {
        while !stop.isSet {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 2000...4000)))
            guard !stop.isSet else { break }
            // Two cuts for every lossy spell.
            let lossy = Int.random(in: 0..<3) == 0
            let at = Date().timeIntervalSince(started)
            Self.shell(lossy ? commands.lossy : commands.cut)
            try? await Task.sleep(for: .milliseconds(Int.random(in: 2000...6000)))
            Self.shell(lossy ? commands.clean : commands.heal)
            let healed = Date()
            let recovered = await recovery(since: healed)
            faults.withLock { $0.append(Fault(kind: lossy ? "lossy" : "cut", atSeconds: at, recoverySeconds: recovered)) }
        }
        // Whatever happens, the link ends clean.
        Self.shell(commands.clean)
        Self.shell(commands.heal)
    }

    /// Seconds from the heal until every far service answers (nil: not within 2 minutes).
    private func recovery(since healed: Date) async -> Double? {
        for service in services {
            while await client.ping(service, timeout: .milliseconds(500)) == nil {
                if Date().timeIntervalSince(healed) > 120 { return nil }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        return Date().timeIntervalSince(healed)
    }

    static func shell(_ command: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try? process.run()
        process.waitUntilExit()
    }
}
