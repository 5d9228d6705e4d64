import BtmsgAPI
import BttaskAPI
import Bus
import ConfigText
import DiagnosticsAPI
import Foundation
import Logging
import NIOCore
import NIOWebSocket
import RunnerAPI
import SwiftProtobuf
import Synchronization

/// The Gateway's view of every service's events: one sequenced subscriber per service (btmsg's and
/// bttask's group streams, the collector's `diag/health`), each gapless and in order per stream, fanned
/// out to the connected clients of that stream. Each client has a bounded queue; one that falls
/// behind by more than `clientQueueLimit` events, or whose connection has had no room while
/// `slowClientBytes` more were written to it, is told so and closed (it resumes from its cursor),
/// so a slow client never slows the others and holds at most that much of the Gateway's memory.
final class StreamHub: Sendable {
    static let clientQueueLimit = 10_000
    static let slowClientBytes = 4 << 20
    /// The services whose streams a client may follow, from their API modules.
    static let families: [any EventFamily.Type] = [BtmsgEvents.self, BttaskEvents.self, DiagnosticsEvents.self, RunnerEvents.self]
    /// Stream prefixes per service, as the stream's `services` parameter names them.
    static let servicePrefixes = Dictionary(uniqueKeysWithValues: families.map { ($0.service, $0.streamPrefix) })

    /// The name clients subscribe under: the stream itself, except the runner's sessions, which a
    /// client receives by group (`runner/<group>/` covers every `runner/<group>/<session>`).
    static func routingKey(_ stream: String) -> String {
        guard stream.hasPrefix(RunnerRules.streamPrefix) else { return stream }
        let rest = stream.dropFirst(RunnerRules.streamPrefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return stream }
        return RunnerRules.streamPrefix + rest[...slash]
    }

    /// An event as clients receive it, encoded once for all of them (the buffer is shared, not
    /// copied, by every client's write).
    struct Frame: Sendable {
        let stream: String
        let seq: UInt64
        let bytes: ByteBuffer

        init(_ event: BusEvent) {
            stream = event.stream
            seq = event.seq
            bytes = ByteBuffer(string: StreamHub.json(event))
        }
    }

    final class Client: Sendable {
        let id: Int
        /// The exact stream names this client receives.
        let streams: Set<String>
        /// Takes several events per frame (newline-separated).
        let batch: Bool
        let queue = ClientQueue<Frame>(limit: StreamHub.clientQueueLimit)
        /// The client's connection, written directly once the client has caught up.
        let channel: Channel
        /// Bytes written since the connection last had room (NIO's high-water mark): the bound
        /// on a slow client once it is delivered directly.
        let writtenWhileFull = Atomic<Int>(0)
        private let person: Principal
        private let directory: Directory

        init(id: Int, streams: Set<String>, batch: Bool, channel: Channel, person: Principal, directory: Directory) {
            self.id = id
            self.streams = streams
            self.batch = batch
            self.channel = channel
            self.person = person
            self.directory = directory
        }

        /// The last sequence number written to this client per stream, whichever path wrote it (its
        /// replay, its catch-up, the hub's direct writes): the gate that keeps every stream once and
        /// in order for it, even when the hub's own subscriber is still refilling after a restart.
        private let delivered = Mutex<[String: UInt64]>([:])

        /// Records what the session has written before it hands the client to the hub.
        func noteDelivered(_ cursors: [String: UInt64]) {
            delivered.withLock { table in table.merge(cursors, uniquingKeysWith: max) }
        }

        /// The frames not yet written to this client, in order, and records them as written.
        func admit(_ frames: [Frame]) -> [ByteBuffer] {
            delivered.withLock { table in
                var admitted: [ByteBuffer] = []
                admitted.reserveCapacity(frames.count)
                for frame in frames where frame.seq > table[frame.stream] ?? 0 {
                    table[frame.stream] = frame.seq
                    admitted.append(frame.bytes)
                }
                return admitted
            }
        }

        /// False once the person is removed or revoked (a new token hash).
        var stillAllowed: Bool { directory.principal(named: person.name)?.tokenHash == person.tokenHash }
    }

    /// Connected clients by the streams they receive, so an event reaches its receivers without
    /// looking at anyone else.
    private let clientsByStream = Mutex<[String: [Int: Client]]>([:])
    private let connected = Atomic<Int>(0)
    private let nextId = Atomic<Int>(0)
    private let subscribers: [SequencedSubscriber]
    /// Frames from every subscriber, in arrival order (per stream, sequence order), for delivery.
    /// Not bounded by count: its one consumer never waits on a client (writes only queue in NIO,
    /// where each client has its own bound), so it falls behind only when the CPU does.
    private let incoming = ClientQueue<Frame>(limit: Int.max)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(runtime: ServiceRuntime, bridge: BusBridge) throws {
        var subscribers: [SequencedSubscriber] = []
        for (service, prefix) in StreamHub.servicePrefixes.sorted(by: { $0.key < $1.key }) {
            // A client exists for each configured service (GatewayService made them).
            guard let client = bridge.clients[service] else { continue }
            subscribers.append(try runtime.subscriber(of: service, prefixes: [prefix], start: .now, replay: client,
                                                      watchName: "stream.\(service)"))
        }
        self.subscribers = subscribers
        // Each subscriber feeds one queue of encoded frames; one delivery task takes everything
        // queued at once. While it writes a batch, the next one gathers, so under load each client
        // gets several events per write (one system call) instead of one, as nats-server does.
        var started = subscribers.map { subscriber in
            Task { [incoming] in
                for await event in subscriber.events { _ = incoming.push(Frame(event)) }
            }
        }
        started.append(Task { [self] in
            while let frames = await incoming.next() { await deliver(frames) }
        })
        tasks.withLock { $0 = started }
    }

    /// One batch of frames to the clients that receive them: those still catching up get them
    /// queued; the others are written per event loop, each client once, and the batch ends when
    /// every loop has written it (so the next batch waits, and grows, while the loops are busy).
    private func deliver(_ frames: [Frame]) async {
        let table = clientsByStream.withLock { $0 }
        var writes: [Int: ClientWrites] = [:]
        var refused: Set<Int> = []
        for frame in frames {
            guard let receivers = table[StreamHub.routingKey(frame.stream)] else { continue }
            for (id, client) in receivers where !refused.contains(id) {
                if let pending = writes[id] {
                    pending.frames.append(frame)
                    continue
                }
                guard client.stillAllowed else {
                    client.queue.finish(.revoked)
                    refused.insert(id)
                    continue
                }
                if case .direct = client.queue.push(frame) { writes[id] = ClientWrites(client: client, first: frame) }
            }
        }
        // A client in the batch has gone direct, so later frames of the batch are for the
        // connection too (it never goes back to queueing).
        let perLoop = Dictionary(grouping: writes.values) { ObjectIdentifier($0.client.channel.eventLoop) }
        await withTaskGroup(of: Void.self) { group in
            for batch in perLoop.values {
                let loop = batch[0].client.channel.eventLoop
                group.addTask { try? await loop.submit { StreamHub.write(batch) }.get() }
            }
        }
    }

    /// One client's share of a batch (a class, so appending does not copy).
    final class ClientWrites: @unchecked Sendable {
        let client: Client
        var frames: [Frame]
        init(client: Client, first: Frame) {
            self.client = client
            frames = [first]
        }
    }

    /// Writes each client's frames (on its event loop), then flushes each once; a client that has
    /// had no room while more than `slowClientBytes` were written is ended as too slow. Frames the client
    /// already has (by its per-stream gate) are skipped.
    static func write(_ batch: [ClientWrites]) {
        for writes in batch {
            let client = writes.client
            let frames = client.admit(writes.frames)
            if frames.isEmpty { continue }
            if client.channel.isWritable {
                client.writtenWhileFull.store(0, ordering: .relaxed)
            } else if client.writtenWhileFull.add(frames.reduce(0) { $0 + $1.readableBytes }, ordering: .relaxed).newValue > slowClientBytes {
                client.queue.finish(.overflowed)
                continue
            }
            for text in StreamHub.frames(frames, joined: client.batch) {
                client.channel.write(WebSocketFrame(fin: true, opcode: .text, data: text), promise: nil)
            }
            client.channel.flush()
        }
    }

    /// Largest frame a batch makes; a batch with more is sent as several frames.
    static let maxBatchBytes = 256 * 1024

    /// Encoded events as text frames: one each, or, for a batching client (`batch=true`), as few as
    /// `maxBatchBytes` allows, the events separated by newlines (JSON text never holds a raw one).
    static func frames(_ events: [ByteBuffer], joined: Bool) -> [ByteBuffer] {
        guard joined, events.count > 1 else { return events }
        var frames: [ByteBuffer] = []
        var current = ByteBuffer()
        for var bytes in events {
            if current.readableBytes > 0, current.readableBytes + bytes.readableBytes + 1 > maxBatchBytes {
                frames.append(current)
                current = ByteBuffer()
            }
            if current.readableBytes > 0 { current.writeInteger(UInt8(ascii: "\n")) }
            current.writeBuffer(&bytes)
        }
        if current.readableBytes > 0 { frames.append(current) }
        return frames
    }

    /// Registers a client for these streams; its live frames arrive on its queue until it goes direct.
    func connect(streams: Set<String>, batch: Bool, channel: Channel, person: Principal, directory: Directory) -> Client {
        let client = Client(id: nextId.add(1, ordering: .relaxed).newValue, streams: streams, batch: batch, channel: channel,
                            person: person, directory: directory)
        clientsByStream.withLock { table in
            for stream in streams { table[stream, default: [:]][client.id] = client }
        }
        connected.add(1, ordering: .relaxed)
        return client
    }

    func disconnect(_ client: Client) {
        let removed = clientsByStream.withLock { table in
            var removed = false
            for stream in client.streams {
                if table[stream]?.removeValue(forKey: client.id) != nil { removed = true }
                if table[stream]?.isEmpty == true { table[stream] = nil }
            }
            return removed
        }
        if removed { connected.subtract(1, ordering: .relaxed) }
        client.queue.finish()
    }

    var connectedCount: Int { connected.load(ordering: .relaxed) }

    func close() async {
        incoming.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
        for subscriber in subscribers { await subscriber.close() }
    }

    /// An event as the stream sends it: JSON with its stream, sequence number (the cursor), type,
    /// time and the decoded body.
    /// Built by hand around the body's protobuf JSON: it is already JSON, and re-parsing it to
    /// build one object cost more than the rest of the delivery.
    static func json(_ event: BusEvent) -> String {
        texts.text(of: event) {
            var text = "{"
            if let body = decodeBody(event) { text += "\"event\":\(body)," }
            text += "\"seq\":\(event.seq),\"stream\":\(QuotedString.literal(event.stream)),\"time_us\":\(event.timestampUs),\"type\":\(QuotedString.literal(event.type))}"
            return text
        }
    }

    /// Recent events' text, shared by live delivery and every client's replay.
    static let texts = EventTextCache(capacity: 20_000)

    /// The event's body as protobuf JSON, by the family its stream belongs to.
    private static func decodeBody(_ event: BusEvent) -> String? {
        guard let family = families.first(where: { event.stream.hasPrefix($0.streamPrefix) }),
              let body = family.body(type: event.type, bytes: event.body) else { return nil }
        return try? body.jsonString(options: BusBridge.encoding)
    }
}
