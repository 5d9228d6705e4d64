import GRDB

/// The runner's tables, as named migrations after the Bus's own. A session's events are its stream
/// `runner/<group>/<id>` in the Bus event log; this table holds what `list` and `show` need.
public enum RunnerSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runner.v1") { db in
            try db.execute(sql: """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY NOT NULL,
                    grp TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    project TEXT NOT NULL DEFAULT '',
                    state INTEGER NOT NULL,
                    created_us INTEGER NOT NULL,
                    updated_us INTEGER NOT NULL,
                    record BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX sessions_group ON sessions(grp, created_us);
                """)
        }
    }
}
