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
        migrator.registerMigration("runner.v2 daily spend per project, for the daily budgets") { db in
            try db.execute(sql: """
                CREATE TABLE daily_spend (
                    day TEXT NOT NULL,
                    grp TEXT NOT NULL,
                    project TEXT NOT NULL,
                    cost_usd REAL NOT NULL DEFAULT 0,
                    tokens INTEGER NOT NULL DEFAULT 0,
                    turns INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (day, grp, project)
                ) WITHOUT ROWID;
                CREATE INDEX sessions_project ON sessions(project, created_us);
                """)
        }
        migrator.registerMigration("runner.v3 wake on message: each agent's policy and how far btmsg's streams were delivered") { db in
            try db.execute(sql: """
                CREATE TABLE wake_policies (
                    agent TEXT PRIMARY KEY NOT NULL,
                    policy TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE wake_cursors (
                    agent TEXT NOT NULL,          -- '*': how far the router has decided every event
                    stream TEXT NOT NULL,
                    seq INTEGER NOT NULL,         -- every event up to it is settled for this agent
                    PRIMARY KEY (agent, stream)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("runner.v4 wake on message: when the runner began to follow btmsg") { db in
            try db.execute(sql: "CREATE TABLE wake_began (id INTEGER PRIMARY KEY CHECK (id = 1), at_us INTEGER NOT NULL)")
        }
    }
}
