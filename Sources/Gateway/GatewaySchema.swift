import GRDB

/// The Gateway's own table: browser sessions (the cookie names a row; the token hash at sign-in is
/// kept so that a new token or a revocation ends the session).
public enum GatewaySchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("gateway.v1") { db in
            try db.execute(sql: """
                CREATE TABLE gateway_sessions (
                    id TEXT PRIMARY KEY NOT NULL,
                    principal TEXT NOT NULL,
                    token_hash TEXT NOT NULL,
                    created_us INTEGER NOT NULL,
                    expires_us INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX gateway_sessions_expiry ON gateway_sessions(expires_us);
                """)
        }
    }
}
