import Bus
import DiagnosticsAPI
import Foundation
import GRDB
import Testing
@testable import Diagnostics

/// The time series on a real SQLite file: minute roll-ups and the bounds.
@Suite struct SeriesStoreTests {
    func makeStore() throws -> (SeriesStore, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("series-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try BusSchema.open(path: folder.appendingPathComponent("d.db").path) { DiagnosticsSchema.register(in: &$0) }
        return (SeriesStore(database: database), folder)
    }

    @Test func aMinuteRollsUpAsMeanMaxOrSumAndOldPointsArePruned() async throws {
        let (store, folder) = try makeStore()
        defer { try? FileManager.default.removeItem(at: folder) }
        let minute: Int64 = 1_800_000_000 / 60 * 60
        for i in 0..<60 {
            try await store.write(second: minute + Int64(i), points: ["btmsg": [
                "requests_per_s": Double(i), "p99_us": Double(i * 10), "dropped_events": 1, "up": i < 30 ? 1 : 0,
            ]])
        }
        try await store.write(second: minute + 60, points: ["btmsg": ["requests_per_s": 1000]])  // the next minute
        try await store.rollUp(minute: minute)
        func point(_ metric: String) async throws -> Double? {
            try await store.points(service: "btmsg", metric: metric, resolution: 60, sinceUs: 0).first?.value
        }
        #expect(try await point("requests_per_s") == 29.5)     // mean of 0...59
        #expect(try await point("p99_us") == 590)              // max
        #expect(try await point("dropped_events") == 60)       // sum
        #expect(try await point("up") == 0.5)                  // the share of the minute it was up
        #expect(try await store.points(service: "btmsg", metric: "requests_per_s", resolution: 1, sinceUs: 0).count == 61)

        // An hour later the seconds are gone, the minute stays; a week later it goes too.
        try await store.prune(nowSeconds: minute + 3600 + 61)
        #expect(try await store.points(service: "btmsg", metric: "requests_per_s", resolution: 1, sinceUs: 0).isEmpty)
        #expect(try await point("requests_per_s") == 29.5)
        try await store.prune(nowSeconds: minute + 7 * 24 * 3600 + 1)
        #expect(try await point("requests_per_s") == nil)
    }

    @Test func linkHistoryIsBoundedAndFilteredByService() async throws {
        let (store, folder) = try makeStore()
        defer { try? FileManager.default.removeItem(at: folder) }
        var records: [Agor_Diagnostics_V1_LinkRecord] = []
        for i in 0..<10 {
            var link = Agor_Diagnostics_V1_LinkRecord()
            link.service = i % 2 == 0 ? "btmsg" : "bttask"
            link.observer = "collector"
            link.event.kind = "disconnected"
            link.event.timeUs = Int64(i) * 1_000_000
            records.append(link)
        }
        let all = records
        try await store.database.write { db in try SeriesStore.insert(all, into: db) }
        let btmsg = try await store.links(service: "btmsg", sinceUs: 0, limit: 3)
        #expect(btmsg.map(\.event.timeUs) == [4_000_000, 6_000_000, 8_000_000])  // the newest 3, oldest first
        #expect(try await store.links(service: "", sinceUs: 5_000_000, limit: 100).count == 5)
    }
}
