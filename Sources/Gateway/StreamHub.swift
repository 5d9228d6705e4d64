import Bus
import Diagnostics
import Foundation
import Logging
import Synchronization
import SwiftProtobuf
import btmsg
import bttask

/// The Gateway's view of every service's events: one sequenced subscriber per service (btmsg's and
/// bttask's group streams, the collector's `diag/health`), each gapless and in order per stream, fanned
/// out to the connected clients whose filter matches. Each client has a bounded queue; one that
/// falls behind by more than `clientQueueLimit` events is told so and closed (it resumes from its
/// cursor), so a slow client never slows the others.
final class StreamHub: Sendable {
    static let clientQueueLimit = 10_000
    /// Stream prefixes per service, as the stream's `services` parameter names them.
    static let servicePrefixes: [String: String] = ["btmsg": "btmsg/", "bttask": "bttask/", "diagnostics": "diag/health"]

    /// An event as clients receive it, encoded once for all of them.
    struct Frame: Sendable {
        let stream: String
        let seq: UInt64
        let text: String

        init(_ event: BusEvent) {
            stream = event.stream
            seq = event.seq
            text = StreamHub.json(event)
        }
    }

    final class Client: Sendable {
        let id: Int
        /// Streams (exact names) this client receives.
        let accepts: @Sendable (String) -> Bool
        let queue: AsyncStream<Frame>.Continuation
        let overflowed = Atomic<Bool>(false)

        init(id: Int, accepts: @escaping @Sendable (String) -> Bool, queue: AsyncStream<Frame>.Continuation) {
            self.id = id
            self.accepts = accepts
            self.queue = queue
        }

        func offer(_ frame: Frame) {
            guard !overflowed.load(ordering: .relaxed) else { return }
            if case .dropped = queue.yield(frame) {
                overflowed.store(true, ordering: .relaxed)
                queue.finish()
            }
        }
    }

    private let clients = Mutex<[Int: Client]>([:])
    private let nextId = Atomic<Int>(0)
    private let subscribers: [SequencedSubscriber]
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(runtime: ServiceRuntime, bridge: BusBridge) throws {
        var subscribers: [SequencedSubscriber] = []
        for (service, prefix) in StreamHub.servicePrefixes.sorted(by: { $0.key < $1.key }) {
            guard let endpoints = runtime.config.service(service), let client = bridge.clients[service],
                  let server = runtime.directory.principal(named: service), server.kind == .service else { continue }
            let subscriber = try SequencedSubscriber(context: runtime.context, endpoint: endpoints.pub, serverKey: server.publicKey,
                                                     clientKey: runtime.keyPair, replay: client, ownsReplay: false,
                                                     prefixes: [prefix], start: .now, logger: runtime.logger)
            runtime.health?.watch(subscriber, as: "stream.\(service)")
            subscribers.append(subscriber)
        }
        self.subscribers = subscribers
        let started = subscribers.map { subscriber in
            Task { [self] in
                for await event in subscriber.events {
                    let receivers = clients.withLock { $0.values.filter { $0.accepts(event.stream) } }
                    guard !receivers.isEmpty else { continue }
                    let frame = Frame(event)
                    for client in receivers { client.offer(frame) }
                }
            }
        }
        tasks.withLock { $0 = started }
    }

    /// Registers a client; its live events arrive on the returned stream (finished on overflow).
    func connect(accepts: @escaping @Sendable (String) -> Bool) -> (Client, AsyncStream<Frame>) {
        let (stream, continuation) = AsyncStream<Frame>.makeStream(bufferingPolicy: .bufferingOldest(StreamHub.clientQueueLimit))
        let client = Client(id: nextId.add(1, ordering: .relaxed).newValue, accepts: accepts, queue: continuation)
        clients.withLock { $0[client.id] = client }
        return (client, stream)
    }

    func disconnect(_ client: Client) {
        _ = clients.withLock { $0.removeValue(forKey: client.id) }
        client.queue.finish()
    }

    var connectedCount: Int { clients.withLock { $0.count } }

    func close() async {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        for subscriber in subscribers { await subscriber.close() }
    }

    /// An event as the stream sends it: JSON with its stream, sequence number (the cursor), type,
    /// time and the decoded body.
    static func json(_ event: BusEvent) -> String {
        var object: [String: Any] = ["stream": event.stream, "seq": event.seq, "type": event.type, "time_us": event.timestampUs]
        if let body = decodeBody(event), let data = body.data(using: .utf8), let value = try? JSONSerialization.jsonObject(with: data) {
            object["event"] = value
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func decodeBody(_ event: BusEvent) -> String? {
        let options = BusBridge.encoding
        if event.stream.hasPrefix("btmsg/") {
            return try? Agor_Btmsg_V1_Event(serializedBytes: event.body).jsonString(options: options)
        }
        if event.stream.hasPrefix("bttask/") {
            return try? Agor_Bttask_V1_Change(serializedBytes: event.body).jsonString(options: options)
        }
        if event.stream.hasPrefix("diag/") {
            if event.type == "link" { return try? Agor_Diagnostics_V1_LinkRecord(serializedBytes: event.body).jsonString(options: options) }
            return try? Agor_Diagnostics_V1_ServiceState(serializedBytes: event.body).jsonString(options: options)
        }
        return nil
    }
}
