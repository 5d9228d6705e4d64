import Foundation
import GRDB

/// What the sessions of one project (or, without a project, of one group) spent on one UTC day:
/// the sum over its sessions of cost, tokens and finished turns. Kept in memory for the budget
/// check and stored with the events that changed it, in the same transaction.
struct DailySpend: Sendable, Equatable {
    var costUSD: Double = 0
    var tokens: Int64 = 0
    var turns: Int64 = 0

    var isZero: Bool { costUSD == 0 && tokens == 0 && turns == 0 }

    static func += (total: inout DailySpend, delta: DailySpend) {
        total.costUSD += delta.costUSD
        total.tokens += delta.tokens
        total.turns += delta.turns
    }

    /// Where a day's spend is counted: the day (UTC, `yyyy-mm-dd`), the group and the project ("" for none).
    struct Key: Hashable, Sendable {
        var day: String
        var group: String
        var project: String
    }

    static func day(_ date: Date = Date()) -> String {
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// Adds `delta` to the stored total of `key` (inside the caller's transaction).
    static func add(_ delta: DailySpend, to key: Key, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO daily_spend (day, grp, project, cost_usd, tokens, turns) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(day, grp, project) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
                tokens = tokens + excluded.tokens, turns = turns + excluded.turns
            """, arguments: [key.day, key.group, key.project, delta.costUSD, delta.tokens, delta.turns])
    }

    /// Today's stored totals (at start-up).
    static func load(day: String, from db: Database) throws -> [Key: DailySpend] {
        var totals: [Key: DailySpend] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT grp, project, cost_usd, tokens, turns FROM daily_spend WHERE day = ?", arguments: [day]) {
            totals[Key(day: day, group: row["grp"], project: row["project"])] = DailySpend(costUSD: row["cost_usd"], tokens: row["tokens"], turns: row["turns"])
        }
        return totals
    }
}
