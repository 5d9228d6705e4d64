import BtmsgAPI
import Bus
import Foundation
import GRDB
import Logging
import Synchronization

/// Posts to btmsg's `review-queue` when a task moves to review, for the mover (bttask has the
/// delegate right). The post is written to `review_outbox` in the same transaction as the move, and
/// delivered from there: if btmsg is down it waits and is retried, never lost; its request id makes
/// a repeated delivery land once. A post btmsg refuses for good (the mover was revoked, say) is kept,
/// marked refused with the reason, and the posts after it go on.
final class ReviewOutbox: Sendable {
    private let runtime: ServiceRuntime
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let client = Mutex<RPCClient?>(nil)

    init(runtime: ServiceRuntime) {
        self.runtime = runtime
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a post inside the caller's transaction.
    static func enqueue(_ db: Database, group: String, mover: String, body: String) throws {
        try db.execute(sql: "INSERT INTO review_outbox(grp, mover, body, request_id, created_at) VALUES (?, ?, ?, ?, ?)",
                       arguments: [group, mover, body, RandomID.timeOrdered(), BusProtocol.nowMicros()])
    }

    func nudge() { wake.yield() }

    /// Posts not delivered yet.
    func pending() async throws -> Int {
        try await runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM review_outbox WHERE refused = 0") ?? 0 }
    }

    /// Posts btmsg refused for good, with the reason.
    func refused() async throws -> [String] {
        try await runtime.database.read { db in try String.fetchAll(db, sql: "SELECT last_error FROM review_outbox WHERE refused = 1 ORDER BY id") }
    }

    /// Delivers pending posts whenever a change nudges it, until cancelled or stopped.
    func run() async {
        wake.yield()
        var delay = Duration.milliseconds(200)
        for await _ in wakeups {
            if Task.isCancelled { break }
            if await deliverAll() {
                delay = .milliseconds(200)
            } else {
                // btmsg unreachable: try again later (a new move also wakes the loop).
                let retryIn = delay
                delay = min(delay * 2, .seconds(10))
                Task { [wake] in try? await Task.sleep(for: retryIn); wake.yield() }
            }
        }
    }

    func stop() {
        wake.finish()
        if let rpc = client.withLock({ $0 }) { Task { await rpc.close() } }
    }

    private func btmsg() throws -> RPCClient {
        if let existing = client.withLock({ $0 }) { return existing }
        let rpc = try runtime.client(of: "btmsg")
        client.withLock { $0 = rpc }
        return rpc
    }

    private struct Post: Sendable { var id: Int64; var group: String; var mover: String; var body: String; var requestId: String }

    private func oldest() async -> Post? {
        do {
            return try await runtime.database.read { db -> Post? in
                try Row.fetchOne(db, sql: "SELECT * FROM review_outbox WHERE refused = 0 ORDER BY id LIMIT 1").map {
                    Post(id: $0["id"], group: $0["grp"], mover: $0["mover"], body: $0["body"], requestId: $0["request_id"])
                }
            }
        } catch {
            return nil
        }
    }

    /// Delivers queued posts in order; false when btmsg could not be reached (or refused one).
    private func deliverAll() async -> Bool {
        while true {
            guard let post = await oldest() else { return true }
            let (id, group, mover, body, requestId) = (post.id, post.group, post.mover, post.body, post.requestId)
            do {
                let rpc = try btmsg()
                let options = RPCClient.CallOptions(timeout: .seconds(2), idempotent: true, retries: 1, onBehalfOf: mover)
                var list = Agor_Btmsg_V1_ChannelListRequest()
                list.group = group
                let channels = try await rpc.call(BtmsgMethods.channelList, list, options: options)
                guard let queue = channels.channels.first(where: { $0.name == "review-queue" && $0.system }) else {
                    throw BusError.notFound("group \(group) has no review-queue channel")
                }
                var send = Agor_Btmsg_V1_SendRequest()
                send.channelID = queue.id
                send.body = body
                var sendOptions = options
                sendOptions.requestId = requestId
                _ = try await rpc.call(BtmsgMethods.send, send, options: sendOptions)
                _ = try await runtime.database.write { db in try db.execute(sql: "DELETE FROM review_outbox WHERE id = ?", arguments: [id]) }
            } catch let error as BusError where [.badRequest, .unauthenticated, .forbidden, .notFound].contains(error.errorCode) {
                // Refused for good: keep it for an operator, and go on with the next post.
                runtime.logger.error("review post refused by btmsg", metadata: ["bttask.outbox": "\(id)", "bttask.error": "\(error)"])
                _ = try? await runtime.database.write { db in
                    try db.execute(sql: "UPDATE review_outbox SET attempts = attempts + 1, last_error = ?, refused = 1 WHERE id = ?",
                                   arguments: [error.message, id])
                }
            } catch {
                runtime.logger.warning("review post not delivered yet", metadata: ["bttask.outbox": "\(id)", "bttask.error": "\(error)"])
                _ = try? await runtime.database.write { db in
                    try db.execute(sql: "UPDATE review_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", arguments: ["\(error)", id])
                }
                return false
            }
        }
    }
}
