import GRDB

/// The collector's tables, registered after the Bus's own. Both are bounded: `diag_series` keeps an
/// hour at 1 s and a week at 1 min, `diag_links` a week and at most `SeriesStore.maxLinks` rows.
public enum DiagnosticsSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("diagnostics.v1") { db in
            try db.execute(sql: """
                CREATE TABLE diag_series (
                    service TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    resolution INTEGER NOT NULL,
                    t INTEGER NOT NULL,
                    value REAL NOT NULL,
                    PRIMARY KEY (service, metric, resolution, t)
                ) WITHOUT ROWID;
                CREATE INDEX diag_series_age ON diag_series(resolution, t);
                CREATE TABLE diag_links (
                    id INTEGER PRIMARY KEY,
                    service TEXT NOT NULL,
                    observer TEXT NOT NULL,
                    socket TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    endpoint TEXT NOT NULL,
                    peer TEXT NOT NULL,
                    outbound INTEGER NOT NULL,
                    time_us INTEGER NOT NULL
                );
                CREATE INDEX diag_links_service ON diag_links(service, id);
                CREATE INDEX diag_links_time ON diag_links(time_us);
                """)
        }
    }
}
