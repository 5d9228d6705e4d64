import Bus
import Foundation
import GRDB

/// A small real service on the Bus runtime, for tests only (not in `agor`'s catalogue): it shows and
/// tests every Bus mechanism end to end (CURVE + ZAP, request/reply, dedup in the same transaction,
/// sequenced events with replay) and is what the interop clients talk to. Bodies are JSON so any
/// client can use it. Runs as `agor-echo --home H` on a home that has an `echo` entry
/// (`HomeSetup.addService("echo")`).
///
/// Methods:
/// - `echo`: replies with the request body.
/// - `echo.emit` {"stream": "echo.x", "count": n, "payload": "..."}: appends n events to the stream,
///   once per request id; replies {"first_seq", "last_seq"}.
/// - `echo.increment` {"delay_ms": d}: waits d ms, then adds 1 to a counter, once per request id;
///   replies {"value"}.
/// - `echo.get`: replies {"value"}.
enum EchoService {
    struct EmitRequest: Codable { var stream: String; var count: Int; var payload: String? }
    struct EmitReply: Codable { var first_seq: UInt64; var last_seq: UInt64 }
    struct IncrementRequest: Codable { var delay_ms: Int? = nil }
    struct ValueReply: Codable { var value: Int64 }
    struct EventBody: Codable { var n: Int; var payload: String }

    static let maxEmit = 100_000

    static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: "echo", home: home) { migrator in
            migrator.registerMigration("echo.v1.counter") { db in
                try db.execute(sql: "CREATE TABLE echo_counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
                try db.execute(sql: "INSERT INTO echo_counter(id, value) VALUES (1, 0)")
            }
        }
        register(on: runtime)
        try await runtime.run()
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw BusError.badRequest("body is not a valid \(T.self) JSON object")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try JSONEncoder().encode(value)) }

    static func register(on runtime: ServiceRuntime) {
        let publisher = runtime.publisher
        let database = runtime.database
        runtime.server.register("echo") { _, body in body }
        runtime.server.register("echo.emit") { context, body in
            let request = try decode(EmitRequest.self, body)
            guard request.stream.hasPrefix("echo."), request.stream.utf8.count <= 200 else {
                throw BusError.badRequest("stream must start with 'echo.' (at most 200 bytes)")
            }
            guard (1...maxEmit).contains(request.count) else {
                throw BusError.badRequest("count must be 1...\(maxEmit)")
            }
            let principal = context.principal.name, requestId = context.requestId
            return try await publisher.write { db, events in
                try RequestDedup.once(db, principal: principal, requestId: requestId) {
                    var first: UInt64 = 0, last: UInt64 = 0
                    for i in 0..<request.count {
                        let body = try encode(EventBody(n: i, payload: request.payload ?? ""))
                        let event = try events.append(stream: request.stream, type: "echo.emitted", body: body)
                        if i == 0 { first = event.seq }
                        last = event.seq
                    }
                    return try encode(EmitReply(first_seq: first, last_seq: last))
                }
            }
        }
        runtime.server.register("echo.increment") { context, body in
            let request = body.isEmpty ? IncrementRequest() : try decode(IncrementRequest.self, body)
            if let delay = request.delay_ms, delay > 0 {
                try await Task.sleep(for: .milliseconds(min(delay, 60_000)))
            }
            let principal = context.principal.name, requestId = context.requestId
            return try await database.write { db in
                try RequestDedup.once(db, principal: principal, requestId: requestId) {
                    try db.execute(sql: "UPDATE echo_counter SET value = value + 1 WHERE id = 1")
                    let value = try Int64.fetchOne(db, sql: "SELECT value FROM echo_counter WHERE id = 1") ?? 0
                    return try encode(ValueReply(value: value))
                }
            }
        }
        runtime.server.register("echo.get") { _, _ in
            let value = try await database.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM echo_counter WHERE id = 1") ?? 0 }
            return try encode(ValueReply(value: value))
        }
    }
}
