import Bus
import Foundation
import GRDB

/// The home's credential vault (vault.db): tokens for remote systems and provider API keys,
/// each sealed (XChaCha20-Poly1305, bound to its name) before it reaches SQLite, so the file never
/// holds a secret in the clear. It is unlocked by a key file (keys/vault.key, 0600) or by a
/// passphrase (Argon2id), whichever it was created with; a check value tells a wrong one at once.
/// Written by `agor vault`, read by the services that need a secret.
public final class Vault {
    public enum Unlock: Sendable {
        case keyFile(URL)
        case passphrase(String)
    }

    public static func file(in home: Home) -> URL { home.root.appendingPathComponent("vault.db") }
    public static func keyFile(in home: Home) -> URL { home.root.appendingPathComponent("keys/vault.key") }
    static let checkText = "agor vault check"

    private let database: DatabaseQueue
    private let key: [UInt8]

    /// Opens the vault, creating it (and, unlocked by key file, the key file) when `create` is
    /// true and it does not exist yet.
    public static func open(home: Home, unlock: Unlock, create: Bool) throws -> Vault {
        let url = file(in: home)
        let exists = FileManager.default.fileExists(atPath: url.path)
        guard exists || create else { throw HomeConfigError(.missing, "no vault at \(url.path) yet; `agor vault set` creates it") }
        if case .keyFile(let keyURL) = unlock, !exists, !FileManager.default.fileExists(atPath: keyURL.path) {
            try FileManager.default.createDirectory(at: keyURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(Data(Sealing.randomBytes(Sealing.keyBytes)).base64EncodedString() + "\n", to: keyURL, mode: 0o600)
        }
        let database: DatabaseQueue
        do {
            database = try DatabaseQueue(path: url.path)
            chmod(url.path, 0o600)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("vault-v1") { db in
                try db.execute(sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                    CREATE TABLE secrets (name TEXT PRIMARY KEY, sealed BLOB NOT NULL, updated_at INTEGER NOT NULL);
                    """)
            }
            try migrator.migrate(database)
        } catch {
            throw HomeConfigError(.badFile, "\(url.path) is not a vault: \(error)")
        }
        let meta = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM meta").reduce(into: [String: [UInt8]]()) { $0[$1["key"]] = [UInt8]($1["value"] as Data) }
        }
        let key: [UInt8]
        if let mode = meta["mode"].map({ String(decoding: $0, as: UTF8.self) }) {
            key = try derive(unlock, mode: mode, meta: meta)
            guard let check = meta["check"], (try? Sealing.open(check, key: key, context: "check")) == Array(checkText.utf8) else {
                throw HomeConfigError(.locked, "wrong \(mode == "passphrase" ? "passphrase" : "key file") for \(url.path)")
            }
        } else {
            // A new vault: remember how it is unlocked and a check value sealed with its key.
            var fresh: [String: [UInt8]] = [:]
            switch unlock {
            case .keyFile: fresh["mode"] = Array("keyfile".utf8)
            case .passphrase:
                fresh["mode"] = Array("passphrase".utf8)
                fresh["salt"] = Sealing.randomBytes(Sealing.saltBytes)
                fresh["kdf"] = Array("\(Sealing.KDF.standard.opsLimit),\(Sealing.KDF.standard.memLimit)".utf8)
            }
            key = try derive(unlock, mode: String(decoding: fresh["mode"]!, as: UTF8.self), meta: fresh)
            fresh["check"] = Sealing.seal(Array(checkText.utf8), key: key, context: "check")
            try database.write { db in
                for (name, value) in fresh { try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?)", arguments: [name, Data(value)]) }
            }
        }
        return Vault(database: database, key: key)
    }

    private static func derive(_ unlock: Unlock, mode: String, meta: [String: [UInt8]]) throws -> [UInt8] {
        switch (unlock, mode) {
        case (.keyFile(let url), "keyfile"):
            guard let text = try? String(contentsOf: url, encoding: .utf8),
                  let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == Sealing.keyBytes else {
                throw HomeConfigError(.locked, "the vault key file \(url.path) is missing or damaged")
            }
            return [UInt8](bytes)
        case (.passphrase(let passphrase), "passphrase"):
            guard let salt = meta["salt"], let kdfText = meta["kdf"].map({ String(decoding: $0, as: UTF8.self) }) else {
                throw HomeConfigError(.badFile, "the vault's key derivation record is missing")
            }
            let parts = kdfText.split(separator: ",")
            guard parts.count == 2, let ops = UInt64(parts[0]), let mem = Int(parts[1]) else { throw HomeConfigError(.badFile, "the vault's key derivation record is damaged") }
            do { return try Sealing.key(passphrase: passphrase, salt: salt, kdf: .init(opsLimit: ops, memLimit: mem)) } catch {
                throw HomeConfigError(.locked, "\(error)")
            }
        case (.keyFile, _):
            throw HomeConfigError(.locked, "this vault is unlocked by a passphrase (set AGOR_VAULT_PASSPHRASE or use --passphrase-file)")
        default:
            throw HomeConfigError(.locked, "this vault is unlocked by its key file (keys/vault.key), not a passphrase")
        }
    }

    private init(database: DatabaseQueue, key: [UInt8]) {
        self.database = database
        self.key = key
    }

    /// Names: letters, digits and `. _ - / :`, 1 to 128 of them (`provider/anthropic`, `gateway/host-b`).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-/:".unicodeScalars.contains($0)
        }
    }

    public func set(_ name: String, _ secret: String) throws {
        guard Vault.isValidName(name) else { throw HomeConfigError(.badName, "a secret's name uses letters, digits and . _ - / : (1 to 128)") }
        let sealed = Sealing.seal(Array(secret.utf8), key: key, context: "secret:\(name)")
        try database.write { db in
            try db.execute(sql: "INSERT INTO secrets (name, sealed, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
                           arguments: [name, Data(sealed), Int64(Date().timeIntervalSince1970)])
        }
    }

    /// The secret, nil when there is none by that name.
    public func get(_ name: String) throws -> String? {
        guard let sealed = try database.read({ db in try Data.fetchOne(db, sql: "SELECT sealed FROM secrets WHERE name = ?", arguments: [name]) }) else { return nil }
        do { return String(decoding: try Sealing.open([UInt8](sealed), key: key, context: "secret:\(name)"), as: UTF8.self) } catch {
            throw HomeConfigError(.badFile, "the secret \(name) is damaged or was moved from another name")
        }
    }

    /// Names and when each was last set (seconds since 1970); never the secrets.
    public func list() throws -> [(name: String, updatedAt: Int64)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, updated_at FROM secrets ORDER BY name").map { ($0["name"], $0["updated_at"]) }
        }
    }

    @discardableResult
    public func remove(_ name: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM secrets WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }
}
