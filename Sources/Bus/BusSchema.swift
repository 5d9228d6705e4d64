import GRDB

/// The Bus's own tables inside a service's database, registered as named migrations (never edited
/// once shipped): the event log of its sequenced streams and the request dedup records.
public enum BusSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("bus.v1.events") { db in
            try db.execute(sql: """
                CREATE TABLE bus_streams (
                    stream TEXT PRIMARY KEY NOT NULL,
                    head INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE bus_events (
                    stream TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    timestamp_us INTEGER NOT NULL,
                    body BLOB NOT NULL,
                    PRIMARY KEY (stream, seq)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("bus.v1.dedup") { db in
            try db.execute(sql: """
                CREATE TABLE bus_dedup (
                    principal TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    reply BLOB NOT NULL,
                    created_us INTEGER NOT NULL,
                    PRIMARY KEY (principal, request_id)
                ) WITHOUT ROWID;
                CREATE INDEX bus_dedup_created ON bus_dedup(created_us);
                """)
        }
        // Replies live in a rowid table (appended in time order); only the small key is indexed.
        // In bus.v1 the replies sat inside a WITHOUT ROWID key index, and every random request id
        // rewrote a page full of replies: half the cost of a small write.
        migrator.registerMigration("bus.v2.requests") { db in
            try db.execute(sql: """
                CREATE TABLE bus_requests (
                    id INTEGER PRIMARY KEY,
                    principal TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    reply BLOB NOT NULL,
                    created_us INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX bus_requests_key ON bus_requests(principal, request_id);
                INSERT INTO bus_requests(principal, request_id, reply, created_us)
                    SELECT principal, request_id, reply, created_us FROM bus_dedup ORDER BY created_us;
                DROP TABLE bus_dedup;
                """)
        }
    }

    /// Opens (creating if needed) a service database in WAL mode and runs `migrations` after the
    /// Bus's own. A database written by a newer version (unknown migrations) is refused.
    public static func open(path: String, fsyncEveryCommit: Bool = false,
                            migrations: (inout DatabaseMigrator) -> Void = { _ in }) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA busy_timeout = 5000")
            // Savepoint journals and sorts stay in memory instead of temporary files.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // The WAL file is truncated back to this size after a checkpoint, so it stays bounded.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            // WALCheckpointer checkpoints in the background; this only bounds the WAL if it stops.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerAutocheckpointPages)")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        // The durability level belongs on the writer, the only connection that commits, and after
        // opening: GRDB sets synchronous=NORMAL when it turns WAL on, after prepareDatabase.
        // NORMAL in WAL: a commit survives a process kill; a power cut may lose the last commits.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(fsyncEveryCommit ? "FULL" : "NORMAL")")
        }
        var migrator = DatabaseMigrator()
        register(in: &migrator)
        migrations(&migrator)
        try pool.read { db in
            if try migrator.hasBeenSuperseded(db) {
                throw BusError.unsupportedVersion("\(path) was written by a newer agor (unknown migrations); refusing to open it")
            }
        }
        try migrator.migrate(pool)
        return pool
    }
}
