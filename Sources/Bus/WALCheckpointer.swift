import Foundation
import GRDB

/// Checkpoints a WAL database from its own connection, off the write path. Left to SQLite, the
/// commit that crosses the autocheckpoint threshold copies the WAL back and fsyncs while every
/// other write waits behind it. Here `run()` does it a few times a second (PASSIVE: it
/// never blocks the writer); the writer's own autocheckpoint stays as a far-off safety net.
public final class WALCheckpointer: Sendable {
    private let queue: DatabaseQueue
    private let interval: Duration

    public static let writerAutocheckpointPages = 16_384

    public init(path: String, interval: Duration = .milliseconds(200)) throws {
        var configuration = Configuration()
        configuration.journalMode = .default
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// Checkpoints every interval until the calling task is cancelled (a child of the service's
    /// task group, ended with it).
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            _ = try? await queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        }
    }
}
