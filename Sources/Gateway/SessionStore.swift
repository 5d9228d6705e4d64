import Bus
import Foundation
import GRDB

/// Browser sessions in the Gateway's SQLite file: a random id in an HttpOnly cookie, valid for
/// `lifetime` and only while the person's token is unchanged and not revoked.
struct SessionStore: Sendable {
    static let cookieName = "agor_session"
    static let lifetime: Int64 = 12 * 3600 * 1_000_000

    let database: DatabasePool

    func open(for principal: Principal) async throws -> String {
        let id = RandomID.hexSecret(bytes: 32)
        let now = BusProtocol.nowMicros()
        try await database.write { db in
            try db.execute(sql: "DELETE FROM gateway_sessions WHERE expires_us < ?", arguments: [now])
            try db.execute(sql: "INSERT INTO gateway_sessions (id, principal, token_hash, created_us, expires_us) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, principal.name, principal.tokenHash, now, now + SessionStore.lifetime])
        }
        return id
    }

    /// The session's principal name and the token hash it was opened with, when valid.
    func lookup(_ id: String) async throws -> (name: String, tokenHash: String)? {
        guard id.utf8.count == 64, id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        let now = BusProtocol.nowMicros()
        return try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT principal, token_hash FROM gateway_sessions WHERE id = ? AND expires_us > ?", arguments: [id, now])
                .map { ($0["principal"], $0["token_hash"]) }
        }
    }

    func close(_ id: String) async throws {
        try await database.write { db in try db.execute(sql: "DELETE FROM gateway_sessions WHERE id = ?", arguments: [id]) }
    }
}
