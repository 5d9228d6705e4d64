import GRDB

/// bttask's tables, as named migrations after the Bus's own. The board revision of a group is the
/// head of its event stream `bttask/<group>/`: every change appends exactly one event, so the
/// revision grows with every change and "changes since R" is a replay from R.
public enum BttaskSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("bttask.v1") { db in
            try db.execute(sql: """
                CREATE TABLE tasks (
                    id TEXT PRIMARY KEY NOT NULL,
                    grp TEXT NOT NULL,
                    project TEXT NOT NULL DEFAULT '',
                    title TEXT NOT NULL,
                    description TEXT NOT NULL DEFAULT '',
                    status INTEGER NOT NULL,
                    priority INTEGER NOT NULL,
                    labels TEXT NOT NULL DEFAULT '',
                    assignee TEXT NOT NULL DEFAULT '',
                    creator TEXT NOT NULL,
                    parent TEXT NOT NULL DEFAULT '',
                    sort_order INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    version INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX tasks_group ON tasks(grp, status, priority, sort_order);
                CREATE INDEX tasks_ready ON tasks(grp, priority, sort_order, created_at) WHERE status = 1 AND assignee = '';
                CREATE INDEX tasks_parent ON tasks(parent) WHERE parent <> '';
                CREATE TABLE dependencies (
                    task_id TEXT NOT NULL,
                    blocked_by TEXT NOT NULL,
                    PRIMARY KEY (task_id, blocked_by)
                ) WITHOUT ROWID;
                CREATE INDEX dependencies_blocker ON dependencies(blocked_by);
                CREATE TABLE comments (
                    id TEXT PRIMARY KEY NOT NULL,
                    task_id TEXT NOT NULL,
                    author TEXT NOT NULL,
                    body TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX comments_task ON comments(task_id, created_at);
                CREATE TABLE review_outbox (
                    id INTEGER PRIMARY KEY,
                    grp TEXT NOT NULL,
                    mover TEXT NOT NULL,
                    body TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT NOT NULL DEFAULT '',
                    refused INTEGER NOT NULL DEFAULT 0
                );
                """)
        }
        migrator.registerMigration("bttask.v2 file leases: paths of a project held for a time") { db in
            try db.execute(sql: """
                CREATE TABLE leases (
                    id TEXT PRIMARY KEY NOT NULL,
                    grp TEXT NOT NULL,
                    project TEXT NOT NULL,
                    path TEXT NOT NULL,
                    exclusive INTEGER NOT NULL,
                    holder TEXT NOT NULL,
                    task TEXT NOT NULL DEFAULT '',
                    expires_us INTEGER NOT NULL,
                    created_us INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX leases_project ON leases(grp, project, expires_us);
                CREATE INDEX leases_expiry ON leases(expires_us);
                CREATE INDEX leases_task ON leases(task) WHERE task <> '';
                """)
        }
    }
}
