import AgorTestSupport
import Foundation
import GRDB
@testable import Bus

/// A server on tcp://127.0.0.1 with CURVE and ZAP over a temporary directory and database, plus
/// principals to connect as: alice (worker, g1), bob (worker, g2), gateway (delegate).
final class TestBed: Bed {
    let folder: URL
    let context = Context()
    let directory: Directory
    let watcher: DirectoryWatcher
    let zap: ZAPAuthenticator
    let serverKey = CurveKeyPair.generate()
    let server: RPCServer
    let publisher: SequencedPublisher
    let database: DatabasePool
    let alice = CurveKeyPair.generate()
    let bob = CurveKeyPair.generate()
    let gateway = CurveKeyPair.generate()

    /// `gated`: the publisher checks subscriptions against the directory (as services do): a
    /// stream `g/GROUP/...` is for the group's members, and narrowing someone's access ends the
    /// open subscriber connections.
    init(maxMessageSize: Int64 = 64 * 1024, publisherHighWaterMark: Int32 = 100_000, gated: Bool = false) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        directory = Directory(folder: folder.appendingPathComponent("directory"))
        try directory.write(Principal(name: "alice", kind: .agent, publicKey: alice.publicKey, groups: ["g1"], role: .worker))
        try directory.write(Principal(name: "bob", kind: .agent, publicKey: bob.publicKey, groups: ["g2"], role: .worker))
        try directory.write(Principal(name: "gateway", kind: .service, publicKey: gateway.publicKey, groups: [], role: .operator_, rights: [.delegate]))
        watcher = DirectoryWatcher(directory: directory)
        zap = try ZAPAuthenticator(context: context, directory: directory)
        database = try BusSchema.open(path: folder.appendingPathComponent("test.db").path) { migrator in
            migrator.registerMigration("test.v1") { db in
                try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, text TEXT NOT NULL)")
            }
        }
        server = try RPCServer(context: context, endpoint: "tcp://127.0.0.1:*", serverKey: serverKey, directory: directory,
                               maxMessageSize: maxMessageSize)
        publisher = try SequencedPublisher(context: context, endpoint: "tcp://127.0.0.1:*", serverKey: serverKey,
                                           database: database, directory: gated ? directory : nil,
                                           sendHighWaterMark: publisherHighWaterMark, sharingThreadWith: server.socket)
        if gated {
            publisher.restrictSubscriptions { principal, prefix in
                let parts = prefix.split(separator: "/", omittingEmptySubsequences: false)
                return parts.count >= 3 && parts[0] == "g" && principal.isMember(of: String(parts[1]))
            }
        }
        publisher.serveReplay(on: server)
        let database = self.database
        server.register("whoami") { context, _ in Array("\(context.sender.name)/\(context.principal.name)".utf8) }
        server.register("echo") { _, body in body }
        server.register("sleep") { _, body in
            try await Task.sleep(for: .milliseconds(Int(String(decoding: body, as: UTF8.self)) ?? 0))
            return body
        }
        // Adds a note owned by the authenticated principal, once per request id.
        server.register("note.add") { context, body in
            let delay = Int(String(decoding: body.prefix(while: { $0 != 0x3A }), as: UTF8.self)) ?? 0
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            let principal = context.principal.name, id = context.requestId
            return try await database.write { db in
                try RequestDedup.once(db, principal: principal, requestId: id) {
                    try db.execute(sql: "INSERT INTO notes(owner, text) VALUES (?, ?)", arguments: [principal, String(decoding: body, as: UTF8.self)])
                    return Array(String(db.lastInsertedRowID).utf8)
                }
            }
        }
        let server = self.server
        Task { await server.run() }
    }

    /// A bare CURVE DEALER connected to the server, for frames no RPCClient would send.
    func rawDealer(_ key: CurveKeyPair) throws -> Socket {
        try Socket(context: context, type: .dealer, .init(
            options: [.curveClient(publicKey: key.publicKey, secretKey: key.secretKey, serverKey: serverKey.publicKey), .linger(0)],
            connect: [server.endpoint]))
    }

    func noteCount() throws -> Int {
        try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM notes") ?? 0 }
    }

    func client(_ key: CurveKeyPair, serverKey: [UInt8]? = nil) throws -> RPCClient {
        try RPCClient(context: context, endpoint: server.endpoint, serverKey: serverKey ?? self.serverKey.publicKey, clientKey: key)
    }

    func subscriber(_ key: CurveKeyPair, prefixes: [String], start: SequencedSubscriber.Start = .beginning) throws -> SequencedSubscriber {
        try SequencedSubscriber(context: context, endpoint: publisher.endpoint, serverKey: serverKey.publicKey, clientKey: key,
                                replay: try client(key), prefixes: prefixes, start: start)
    }


    func close() async {
        await server.close()
        await publisher.close()
        await zap.stop()
        watcher.stop()
        try? FileManager.default.removeItem(at: folder)
    }
}
