import Bus
import GRDB

/// btmsg's tables, registered as named migrations after the Bus's own (never edited once shipped).
///
/// `messages.seq` is the rowid: it orders messages and keys the FTS5 index and the receipts. Channel
/// members remember the newest message seq when they joined, so old history does not count as unread.
///
/// The full-text index is filled once per send batch (`MessageStore.indexNewMessages`), not by an
/// insert trigger: a trigger on a virtual table opens a statement savepoint per message, and FTS5
/// flushes its pending index to a new segment at every savepoint. Deletes keep their trigger.
public enum BtmsgSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("btmsg.v1") { db in
            try db.execute(sql: """
                CREATE TABLE channels (
                    id TEXT PRIMARY KEY NOT NULL,
                    grp TEXT NOT NULL,
                    name TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    system INTEGER NOT NULL DEFAULT 0,
                    open INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    UNIQUE (grp, name)
                ) WITHOUT ROWID;
                CREATE TABLE channel_members (
                    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
                    principal TEXT NOT NULL,
                    added_by TEXT NOT NULL,
                    joined_after_seq INTEGER NOT NULL,
                    PRIMARY KEY (channel_id, principal)
                ) WITHOUT ROWID;
                CREATE INDEX channel_members_principal ON channel_members(principal);
                CREATE TABLE messages (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    grp TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    recipient TEXT,
                    channel_id TEXT,
                    body TEXT NOT NULL,
                    reply_to TEXT,
                    importance INTEGER NOT NULL DEFAULT 0,
                    ack_required INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    CHECK ((recipient IS NULL) <> (channel_id IS NULL))
                );
                CREATE INDEX messages_recipient ON messages(recipient, seq) WHERE recipient IS NOT NULL;
                CREATE INDEX messages_channel ON messages(channel_id, seq) WHERE channel_id IS NOT NULL;
                CREATE INDEX messages_group ON messages(grp, seq);
                CREATE TABLE receipts (
                    message_seq INTEGER NOT NULL,
                    principal TEXT NOT NULL,
                    read_at INTEGER,
                    acked_at INTEGER,
                    PRIMARY KEY (message_seq, principal)
                ) WITHOUT ROWID;
                CREATE TABLE contacts (
                    grp TEXT NOT NULL,
                    from_principal TEXT NOT NULL,
                    to_principal TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    PRIMARY KEY (grp, from_principal, to_principal)
                ) WITHOUT ROWID;
                CREATE TABLE presence (
                    principal TEXT PRIMARY KEY NOT NULL,
                    last_seen INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='seq');
                CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
                    DELETE FROM receipts WHERE message_seq = old.seq;
                END;
                """)
        }
    }
}
