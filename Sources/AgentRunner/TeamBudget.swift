import Bus
import Foundation
import GRDB
import RunnerAPI

/// A team shares its budget down the tree. A child starts with limits no higher than what its
/// parent had left (and narrower if the spawn asks), and what any member spends counts against
/// every ancestor's limits too: a member whose spending crosses an ancestor's limit pauses like
/// one that crossed its own, so a child can never spend more than its parent has left.
extension LiveSession.Limits {
    /// The per-session limits as the record shows them (0 = none).
    var budget: Agor_Runner_V1_Budget {
        var budget = Agor_Runner_V1_Budget()
        budget.maxCostCents = maxCostCents
        budget.maxTokens = maxTokens
        budget.maxTurns = maxTurns
        return budget
    }

    /// Each limit the smaller of this one and `other`'s (0 = none on either side).
    func narrowed(to other: Agor_Runner_V1_Budget) -> Self {
        func smaller(_ a: Int64, _ b: Int64) -> Int64 { a <= 0 ? max(b, 0) : (b <= 0 ? a : min(a, b)) }
        var limits = self
        limits.maxCostCents = smaller(maxCostCents, other.maxCostCents)
        limits.maxTokens = smaller(maxTokens, other.maxTokens)
        limits.maxTurns = smaller(maxTurns, other.maxTurns)
        return limits
    }
}

extension LiveSession {
    /// What the session and its team (children, and theirs) spent so far.
    func spentWithTeam() -> DailySpend {
        var total = team.withLock { $0 }
        total += health.withLock { DailySpend(costUSD: $0.costUSD, tokens: $0.usage.inputTokens + $0.usage.outputTokens, turns: 0) }
        total.turns += budget.withLock { $0.turns }
        return total
    }

    /// Why the session's own limits are crossed by `spent` (its own and its team's), or nil.
    func crossedLimit(_ spent: DailySpend, withTeam: Bool) -> String? {
        let whose = withTeam ? " with its team" : ""
        if limits.maxTurns > 0 && spent.turns >= limits.maxTurns {
            return "budget: \(spent.turns) turns\(whose) (limit \(limits.maxTurns))"
        }
        if limits.maxTokens > 0 && spent.tokens >= limits.maxTokens {
            return "budget: \(spent.tokens) tokens\(whose) (limit \(limits.maxTokens))"
        }
        if limits.maxCostCents > 0 && spent.costUSD * 100 >= Double(limits.maxCostCents) {
            return "budget: $\(spent.costUSD)\(whose) (limit \(limits.maxCostCents) cents)"
        }
        return nil
    }

    /// What is left of the session's limits for a child; a refusal when any of them is spent.
    func remainingForChild() throws -> Agor_Runner_V1_Budget {
        let spent = spentWithTeam()
        if let crossed = crossedLimit(spent, withTeam: true) {
            throw BusError.conflict("no child spawned: the parent's \(crossed) is spent")
        }
        var left = Agor_Runner_V1_Budget()
        if limits.maxTurns > 0 { left.maxTurns = limits.maxTurns - spent.turns }
        if limits.maxTokens > 0 { left.maxTokens = limits.maxTokens - spent.tokens }
        if limits.maxCostCents > 0 { left.maxCostCents = max(1, limits.maxCostCents - Int64((spent.costUSD * 100).rounded(.up))) }
        return left
    }
}

extension RunnerService {
    /// Adds what a session spent to each live ancestor's team spend; the first ancestor whose
    /// limits that crosses, as the reason the spender pauses.
    func chargeAncestors(of record: Agor_Runner_V1_Session, _ spent: DailySpend) -> String? {
        var reason: String?
        var parentId = record.parent
        var seen: Set<String> = []
        while !parentId.isEmpty, seen.insert(parentId).inserted, let ancestor = live.withLock({ $0[parentId] }) {
            ancestor.team.withLock { $0 += spent }
            if reason == nil, let crossed = ancestor.crossedLimit(ancestor.spentWithTeam(), withTeam: true) {
                reason = "\(crossed) of parent session \(parentId.prefix(8))"
            }
            parentId = ancestor.record.withLock { $0.parent }
        }
        return reason
    }

    /// What a session's descendants spent, from their records (for a session resumed after a restart).
    func storedTeamSpend(of id: String) async throws -> DailySpend {
        let records = try await runtime.database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM sessions").compactMap { try? Agor_Runner_V1_Session(serializedBytes: $0) }
        }
        let children = Dictionary(grouping: records.filter { !$0.parent.isEmpty }, by: \.parent)
        var total = DailySpend()
        var queue = children[id] ?? []
        var seen: Set<String> = [id]
        while let child = queue.popLast() {
            guard seen.insert(child.id).inserted else { continue }
            total += DailySpend(costUSD: child.costUsd, tokens: child.usage.inputTokens + child.usage.outputTokens, turns: child.turns)
            queue += children[child.id] ?? []
        }
        return total
    }
}
