import Foundation
import GRDB
import Synchronization

/// Group commit: the writes the writer loop read in one pass (`RPCServer.registerWrite`,
/// InlineWrites) run in one transaction, so N concurrent writers cost one commit (and, with fsync
/// on, one fsync) instead of N. Each write is still checked, deduplicated and answered on its own;
/// one refused write does not affect the others in its batch. A write must throw a `BusError` only
/// before it changes anything; any other error fails the whole batch and no one in it is
/// acknowledged.
///
/// `beginBatch` and `endBatch` run once per transaction around the writes (btmsg fills its search
/// index there, once per batch).
public final class GroupCommit: Sendable {
    public typealias Work = @Sendable (Database, inout EventBatchWriter) throws -> [UInt8]
    public typealias BeginBatch = @Sendable (Database) throws -> Int64
    public typealias EndBatch = @Sendable (Database, Int64) throws -> Void

    private struct State: Sendable {
        var batches = 0
        var sends = 0
    }

    /// Commits made and writes they carried (the mean batch size is sends / batches).
    public var statistics: (batches: Int, sends: Int) { state.withLock { ($0.batches, $0.sends) } }

    private let publisher: SequencedPublisher
    private let state = Mutex(State())
    private let beginBatch: BeginBatch
    private let endBatch: EndBatch
    /// Called after each committed batch.
    private let afterCommit: @Sendable () -> Void

    public init(publisher: SequencedPublisher, beginBatch: @escaping BeginBatch = { _ in 0 },
                endBatch: @escaping EndBatch = { _, _ in }, afterCommit: @escaping @Sendable () -> Void = {}) {
        self.publisher = publisher
        self.beginBatch = beginBatch
        self.endBatch = endBatch
        self.afterCommit = afterCommit
    }

    /// Runs `works` in one transaction now, on the calling thread (the ROUTER's writer loop), and
    /// returns each one's reply or refusal after the commit. A failed commit fails them all.
    func commitNow(_ works: [Work]) -> [Result<[UInt8], any Error>] {
        state.withLock { $0.batches += 1; $0.sends += works.count }
        do {
            let results = try publisher.writeNow { db, events in try self.run(works, db, &events) }
            afterCommit()
            return results
        } catch {
            return works.map { _ in .failure(error) }
        }
    }

    private func run(_ works: [Work], _ db: Database, _ events: inout EventBatchWriter) throws -> [Result<[UInt8], any Error>] {
        let mark = try beginBatch(db)
        let results = try works.map { work -> Result<[UInt8], any Error> in
            // A write checks everything before it changes anything, so a refusal (BusError) leaves
            // nothing behind. No savepoint per write: in SQLite each one makes FTS5 flush its
            // pending index as a new segment, which cost more than a btmsg send itself.
            let eventMark = events.count
            do {
                return .success(try work(db, &events))
            } catch let refusal as BusError {
                events.discard(after: eventMark)
                return .failure(refusal)
            }
        }
        try endBatch(db, mark)
        return results
    }
}
