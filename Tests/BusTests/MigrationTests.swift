import Bus
import Foundation
import GRDB
import Testing

@Suite("schema migrations")
struct MigrationTests {
    @Test("migrations run by name at open, once; a database from a newer version is refused and left as it was")
    func newerDatabasesAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("svc.db").path
        // Today's version: one migration of its own, run once even when opened twice.
        for _ in 0..<2 {
            let pool = try BusSchema.open(path: path) { migrator in
                migrator.registerMigration("svc.v1.items") { db in try db.execute(sql: "CREATE TABLE items (id INTEGER PRIMARY KEY)") }
            }
            try pool.close()
        }
        // A newer version adds a migration this one does not know.
        let newer = try BusSchema.open(path: path) { migrator in
            migrator.registerMigration("svc.v1.items") { db in try db.execute(sql: "CREATE TABLE items (id INTEGER PRIMARY KEY)") }
            migrator.registerMigration("svc.v2.more") { db in try db.execute(sql: "CREATE TABLE more (id INTEGER PRIMARY KEY)") }
        }
        try newer.close()
        do {
            _ = try BusSchema.open(path: path) { migrator in
                migrator.registerMigration("svc.v1.items") { db in try db.execute(sql: "CREATE TABLE items (id INTEGER PRIMARY KEY)") }
            }
            Issue.record("a newer database was opened")
        } catch let error as BusError {
            #expect(error.errorCode == .unsupportedVersion && error.message.contains("newer agor"))
        }
        let applied = try DatabaseQueue(path: path).read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(applied.contains("svc.v2.more") && applied.contains("bus.v1.events"))
    }
}
