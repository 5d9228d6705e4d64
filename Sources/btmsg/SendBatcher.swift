import Bus
import Foundation
import GRDB

/// Group commit for sends: every send that arrives while a commit is in flight joins the next
/// transaction, so N concurrent senders cost one commit instead of N. Each send is still checked,
/// deduplicated and answered on its own; one refused send does not affect the others in its batch.
final class SendBatcher: Sendable {
    typealias Work = @Sendable (Database, inout EventBatchWriter) throws -> [UInt8]

    private struct Job: Sendable {
        let work: Work
        let continuation: CheckedContinuation<[UInt8], any Error>
    }

    private struct State: Sendable {
        var pending: [Job] = []
        var draining = false
    }

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
                if jobs.isEmpty { state.draining = false }
                return jobs
            }
            if jobs.isEmpty { return }
            do {
                let results = try await publisher.write { db, events in
                    jobs.map { job in
                        // A savepoint per send: a refusal or failure rolls back only that send.
                        var result: Result<[UInt8], any Error> = .failure(BusError.internalError("send not run"))
                        let mark = events.count
                        do {
                            try db.inSavepoint {
                                result = .success(try job.work(db, &events))
                                return .commit
                            }
                        } catch {
                            events.discard(after: mark)
                            result = .failure(error)
                        }
                        return result
                    }
                }
                for (job, result) in zip(jobs, results) { job.continuation.resume(with: result) }
                afterCommit()
            } catch {
                for job in jobs { job.continuation.resume(throwing: error) }
            }
        }
    }
}
