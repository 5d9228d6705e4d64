import Bus
import Foundation
import GRDB

/// Group commit for sends: every send that arrives while a commit is in flight joins the next
/// transaction, so N concurrent senders cost one commit instead of N. Each send is still checked,
/// deduplicated and answered on its own; one refused send does not affect the others in its batch.
/// The work of a send must throw a `BusError` only before it writes.
final class SendBatcher: Sendable {
    typealias Work = @Sendable (Database, inout EventBatchWriter) throws -> [UInt8]

    private struct Job: Sendable {
        let work: Work
        let continuation: CheckedContinuation<[UInt8], any Error>
    }

    private struct State: Sendable {
        var pending: [Job] = []
        var draining = false
        var batches = 0
        var sends = 0
    }

    /// Commits made and sends they carried (the mean batch size is sends / batches).
    var statistics: (batches: Int, sends: Int) { state.withLock { ($0.batches, $0.sends) } }

    private let publisher: SequencedPublisher
    private let state = Locked(State())
    /// Called after each committed batch (retention listens).
    private let afterCommit: @Sendable () -> Void

    init(publisher: SequencedPublisher, afterCommit: @escaping @Sendable () -> Void = {}) {
        self.publisher = publisher
        self.afterCommit = afterCommit
    }

    /// Runs `work` in the next batch transaction; returns after the commit.
    func submit(_ work: @escaping Work) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.pending.append(Job(work: work, continuation: continuation))
                if state.draining { return false }
                state.draining = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let jobs = state.withLock { state -> [Job] in
                let jobs = state.pending
                state.pending = []
                if jobs.isEmpty { state.draining = false } else { state.batches += 1; state.sends += jobs.count }
                return jobs
            }
            if jobs.isEmpty { return }
            do {
                let results = try await publisher.write { db, events in
                    let indexedThrough = try MessageStore.lastSeq(db)
                    let results = try jobs.map { job -> Result<[UInt8], any Error> in
                        // A send checks everything before it writes, so a refusal (BusError) leaves
                        // nothing behind. No savepoint per send: in SQLite each one makes FTS5 flush
                        // its pending index as a new segment, which cost more than the send itself.
                        // Any other error (the database's) fails the whole batch, and no one is
                        // acknowledged.
                        let mark = events.count
                        do {
                            return .success(try job.work(db, &events))
                        } catch let refusal as BusError {
                            events.discard(after: mark)
                            return .failure(refusal)
                        }
                    }
                    try MessageStore.indexNewMessages(db, after: indexedThrough)
                    return results
                }
                for (job, result) in zip(jobs, results) { job.continuation.resume(with: result) }
                afterCommit()
            } catch {
                for job in jobs { job.continuation.resume(throwing: error) }
            }
        }
    }
}
