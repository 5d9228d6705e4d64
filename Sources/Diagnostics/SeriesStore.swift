import Bus
import DiagnosticsAPI
import Foundation
import GRDB

/// The collector's time series: once a second each service's figures are written at 1 s
/// resolution; at each minute's end they are rolled up into one 1 min point (mean of rates and
/// levels, max of latency, sum of counts). Old points and link records are pruned every minute.
struct SeriesStore: Sendable {
    static let metrics = ["requests_per_s", "errors_per_s", "p99_us", "dropped_events", "reconnects", "max_fill", "up"]
    /// Counts per second: rolled up by sum. Latency: by max. The rest: by mean.
    static let summed: Set<String> = ["dropped_events", "reconnects"]
    static let maxed: Set<String> = ["p99_us"]
    static let secondsKept: Int64 = 3600
    static let minutesKept: Int64 = 7 * 24 * 3600
    static let maxLinks = 100_000

    let database: DatabasePool

    /// One second's points: [service: [metric: value]] at unix second `t`.
    func write(second t: Int64, points: [String: [String: Double]]) async throws {
        try await database.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO diag_series (service, metric, resolution, t, value) VALUES (?, ?, 1, ?, ?)")
            for (service, values) in points {
                for (metric, value) in values { try insert.execute(arguments: [service, metric, t, value]) }
            }
        }
    }

    /// Rolls the 1 s points of the minute starting at `minute` (unix seconds) into 1 min points.
    func rollUp(minute: Int64) async throws {
        try await database.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT service, metric, SUM(value) AS total, MAX(value) AS top, AVG(value) AS mean
                FROM diag_series WHERE resolution = 1 AND t >= ? AND t < ? GROUP BY service, metric
                """, arguments: [minute, minute + 60])
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO diag_series (service, metric, resolution, t, value) VALUES (?, ?, 60, ?, ?)")
            for row in rows {
                let metric: String = row["metric"]
                let value: Double = SeriesStore.summed.contains(metric) ? row["total"] : SeriesStore.maxed.contains(metric) ? row["top"] : row["mean"]
                try insert.execute(arguments: [row["service"] as String, metric, minute, value])
            }
        }
    }

    func prune(nowSeconds: Int64) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM diag_series WHERE resolution = 1 AND t < ?", arguments: [nowSeconds - SeriesStore.secondsKept])
            try db.execute(sql: "DELETE FROM diag_series WHERE resolution = 60 AND t < ?", arguments: [nowSeconds - SeriesStore.minutesKept])
            try db.execute(sql: "DELETE FROM diag_links WHERE time_us < ?", arguments: [(nowSeconds - SeriesStore.minutesKept) * 1_000_000])
            try db.execute(sql: "DELETE FROM diag_links WHERE id <= (SELECT MAX(id) FROM diag_links) - ?", arguments: [SeriesStore.maxLinks])
        }
    }

    static func insert(_ links: [Agor_Diagnostics_V1_LinkRecord], into db: Database) throws {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO diag_links (service, observer, socket, kind, endpoint, peer, outbound, time_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for link in links {
            let e = link.event
            try insert.execute(arguments: [link.service, link.observer, e.socket, e.kind, e.endpoint, e.peer, e.outbound, e.timeUs])
        }
    }

    func links(service: String, sinceUs: Int64, limit: Int) async throws -> [Agor_Diagnostics_V1_LinkRecord] {
        try await database.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT * FROM diag_links WHERE (? = '' OR service = ?) AND time_us >= ? ORDER BY id DESC LIMIT ?
                ) ORDER BY id
                """, arguments: [service, service, sinceUs, limit])
            return rows.map { row in
                var link = Agor_Diagnostics_V1_LinkRecord()
                link.service = row["service"]
                link.observer = row["observer"]
                link.event.socket = row["socket"]
                link.event.kind = row["kind"]
                link.event.endpoint = row["endpoint"]
                link.event.peer = row["peer"]
                link.event.outbound = row["outbound"]
                link.event.timeUs = row["time_us"]
                return link
            }
        }
    }

    func points(service: String, metric: String, resolution: Int, sinceUs: Int64) async throws -> [Agor_Diagnostics_V1_SeriesPoint] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT t, value FROM diag_series WHERE service = ? AND metric = ? AND resolution = ? AND t >= ? ORDER BY t
                """, arguments: [service, metric, resolution, sinceUs / 1_000_000]).map { row in
                var point = Agor_Diagnostics_V1_SeriesPoint()
                point.timeUs = (row["t"] as Int64) * 1_000_000
                point.value = row["value"]
                return point
            }
        }
    }
}
