import AgorKit
import Bus
import Diagnostics
import DiagnosticsAPI
import Foundation
import Synchronization

/// The soak's sampler: every few seconds, each service's resident memory, open files, threads, WAL
/// and database size (from /proc and the home's data folder), its queue figures (from the
/// Diagnostics collector's summary) and its restarts (from `agor up`'s state).
final class Sampler: Sendable {
    struct Sample: Codable, Sendable {
        var t: Double
        var service: String
        var rssMiB: Double
        var openFiles: Int
        var threads: Int
        var walMiB: Double
        var databaseMiB: Double
        var inFlight: Int
        var maxFill: Double
        var pendingBytes: Int
        var restarts: Int
    }

    private let home: Home
    private let client: ServiceClient
    private let samples = Mutex<[Sample]>([])
    private let started = Date()

    init(home: Home, client: ServiceClient) {
        self.home = home
        self.client = client
    }

    var all: [Sample] { samples.withLock { $0 } }

    func run(every seconds: Double, stop: StopSignal) async {
        let diagnostics = try? client.rpc(DiagnosticsAPI.service)
        while !stop.isSet {
            let figures = try? await diagnostics?.call(DiagnosticsAPI.summary, .init(), options: .init(timeout: .seconds(2)))
            let state = UpState.read(home)
            let t = Date().timeIntervalSince(started)
            for service in state?.services ?? [] where service.pid > 0 {
                let summary = figures?.services.first { $0.service == service.name }
                let status = (try? String(contentsOfFile: "/proc/\(service.pid)/status", encoding: .utf8)) ?? ""
                let sample = Sample(
                    t: (t * 10).rounded() / 10, service: service.name,
                    rssMiB: Self.field("VmRSS:", in: status) / 1024,
                    openFiles: (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(service.pid)/fd").count) ?? 0,
                    threads: Int(Self.field("Threads:", in: status)),
                    walMiB: Self.mebibytes(home.database(service.name).path + "-wal"),
                    databaseMiB: Self.mebibytes(home.database(service.name).path),
                    inFlight: Int(summary?.requestsInFlight ?? 0), maxFill: summary?.maxFill ?? 0,
                    pendingBytes: Int(summary?.pendingBytes ?? 0), restarts: service.restarts)
                samples.withLock { $0.append(sample) }
            }
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        }
    }

    /// A number from /proc/PID/status ("VmRSS:\t  1234 kB" gives 1234).
    static func field(_ name: String, in status: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return Double(line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
    }

    static func mebibytes(_ path: String) -> Double {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return Double((attributes?[.size] as? Int) ?? 0) / 1_048_576
    }
}
