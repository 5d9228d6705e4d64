import Foundation
import GRDB
import Synchronization

/// Publishes sequenced events: each is numbered inside the caller's SQLite transaction (EventLog),
/// and published after the commit, in commit order. Serves `bus.replay` and `bus.heads` so that
/// subscribers can fill gaps and join late.
public final class SequencedPublisher: Sendable {
    public let socket: Socket
    public let database: DatabasePool
    private let dropped = Atomic<Int>(0)
    private let replays = Atomic<Int>(0)
    private let cuts = Locked((changes: 0, connections: 0))
    public static let maxReplayBatch = 1000

    /// Who may subscribe to which topic prefix: (subscriber, prefix) -> allowed. Until a service
    /// sets it, every authenticated principal may subscribe to anything.
    public typealias SubscriptionRule = @Sendable (Principal, String) -> Bool
    private let rule = Locked<SubscriptionRule?>(nil)

    /// Binds a CURVE server XPUB at `endpoint`. Each subscription is checked against the directory
    /// (the subscriber's ZAP User-Id) and the rule set with `restrictSubscriptions`; a refused
    /// subscription is never applied, so that subscriber receives nothing under it. `host`: run on
    /// that socket's thread (a service's ROUTER: the writer loop then publishes on its own thread).
    public init(context: Context, endpoint: String, also: [String] = [], serverKey: CurveKeyPair, database: DatabasePool,
                directory: Directory? = nil, sendHighWaterMark: Int32 = 100_000, monitor: Bool = false,
                sharingThreadWith host: Socket? = nil) throws {
        let rule = self.rule
        var configuration = Socket.Configuration(
            options: [.curveServer(secretKey: serverKey.secretKey), .zapDomain(ZAPAuthenticator.domain),
                      .sendHighWaterMark(sendHighWaterMark), .linger(500), .maxMessageSize(1024),
                      .heartbeatInterval(5_000), .heartbeatTimeout(15_000), .xpubManual(true)],
            bind: [endpoint] + also, readUserId: true)
        configuration.monitor = monitor
        configuration.sharesThreadWith = host
        configuration.subscriptionGate = { topic, userId in
            let prefix = String(decoding: topic, as: UTF8.self)
            // Heartbeats (and the topics that start like them) are for services and operators.
            if HealthReporter.topic.hasPrefix(prefix) || prefix.hasPrefix(HealthReporter.topic) {
                guard let directory else { return true }
                guard let userId, let principal = directory.principal(named: userId) else { return false }
                if prefix.count < HealthReporter.topic.count, let check = rule.withLock({ $0 }), !check(principal, prefix) { return false }
                return principal.kind == .service || principal.role == .operator_
            }
            guard let check = rule.withLock({ $0 }) else { return true }
            guard let userId, let principal = directory?.principal(named: userId) else { return false }
            return check(principal, prefix)
        }
        socket = try Socket(context: context, type: .xpub, configuration)
        self.database = database
        directory?.onNarrowing { [weak socket, cuts] _ in
            // Ordered with the events: the socket's thread cuts before it writes anything queued
            // after this point (docs/BUS.md, "Revocation").
            socket?.schedule { [endpoints = socket?.boundEndpoints ?? []] _ in
                let ended = ConnectionCutter.cutAccepted(on: endpoints)
                cuts.withLock { $0.changes += 1; $0.connections += ended }
            }
        }
    }

    /// Directory changes that narrowed someone's access and so ended every subscriber connection
    /// open at that moment (each reconnects and is checked again).
    public var accessCuts: Int { cuts.withLock { $0.changes } }

    /// Subscriber connections ended by those cuts.
    public var connectionsCut: Int { cuts.withLock { $0.connections } }

    /// Restricts subscriptions: a prefix is applied only when `rule(subscriber, prefix)` allows it.
    /// Applies to subscriptions made from now on.
    public func restrictSubscriptions(_ rule: @escaping SubscriptionRule) {
        self.rule.withLock { $0 = rule }
    }

    public var endpoint: String { socket.boundEndpoints.first ?? "" }

    /// Events that could not be queued for sending (subscribers recover them by replay).
    public var droppedCount: Int { dropped.load(ordering: .relaxed) }

    /// `bus.replay` requests answered.
    public var replaysServed: Int { replays.load(ordering: .relaxed) }

    /// Runs `body` in one write transaction; events it appends are published after the commit.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Database, inout EventBatchWriter) throws -> T) async throws -> T {
        try await database.writeWithoutTransaction { db in try self.commit(db, body) }
    }

    /// `write` for a thread that may block (the ROUTER's writer loop): runs `body` in one write
    /// transaction on the calling thread, waiting for the writer connection if another write holds it.
    public func writeNow<T>(_ body: (Database, inout EventBatchWriter) throws -> T) throws -> T {
        try database.writeWithoutTransaction { db in try commit(db, body) }
    }

    /// One transaction with its events, then their publication: still on the serialized writer, so
    /// publish order equals commit order.
    private func commit<T>(_ db: Database, _ body: (Database, inout EventBatchWriter) throws -> T) throws -> T {
        var writer = EventBatchWriter(db: db)
        var result: T?
        try db.inTransaction {
            writer.events = []
            result = try body(db, &writer)
            try writer.flushHeads()
            return .commit
        }
        publish(writer.events)
        return result!
    }

    /// Queues already-committed events for sending, and records each stream's published head.
    /// Both happen under one lock with the head announcer, so a HEAD marker queued after an event
    /// never carries a lower number than that event.
    public func publish(_ events: [BusEvent]) {
        guard !events.isEmpty else { return }
        let start = heads.withLock { state -> Bool in
            // One hand-over to the socket's thread for the whole commit.
            let queued = socket.tryPublish(events.map { (Array($0.stream.utf8), $0.envelope.bytes(), $0.body) })
            if queued < events.count { dropped.add(events.count - queued, ordering: .relaxed) }
            for event in events {
                state.published[event.stream] = max(state.published[event.stream] ?? 0, event.seq)
                state.touched.insert(event.stream)
            }
            state.generation += 1
            if state.announcing { return false }
            state.announcing = true
            return true
        }
        if start { announceHeads() }
    }

    /// After activity, announce each touched stream's head a few times (50 ms, 250 ms, 1 s later), so
    /// a subscriber that lost the last events of a burst notices and replays them. Nothing is sent
    /// while the streams are quiet. A HEAD marker goes as a frame of its own, never inside an
    /// EventBatch (a batch holds events only).
    private func announceHeads() {
        Task { [self] in
            var lastGeneration = -1
            var rounds = 0
            var announced: Set<String> = []
            while true {
                try? await Task.sleep(for: rounds == 0 ? .milliseconds(50) : rounds == 1 ? .milliseconds(250) : .seconds(1))
                let done = heads.withLock { state -> Bool in
                    if state.generation != lastGeneration {
                        rounds = 0
                        lastGeneration = state.generation
                        announced.formUnion(state.touched)
                        state.touched = []
                    }
                    for stream in announced {
                        var head = Envelope(kind: .head)
                        head.stream = stream
                        head.seq = state.published[stream] ?? 0
                        socket.trySend(OutgoingMessage(frames: [Array(stream.utf8), head.bytes(), []]))
                    }
                    rounds += 1
                    if rounds >= 3 && state.generation == lastGeneration {
                        state.announcing = false
                        return true
                    }
                    return false
                }
                if done { return }
            }
        }
    }

    private struct HeadState: Sendable {
        /// The highest number published per stream since this process started.
        var published: [String: UInt64] = [:]
        /// Streams published since the announcer last looked.
        var touched: Set<String> = []
        var generation = 0
        var announcing = false
    }
    private let heads = Mutex(HeadState())

    /// The highest published number of each stream under `prefix`, so that `bus.heads` never
    /// answers lower than what was published before it answered (its reader's snapshot can be
    /// older than the last publish). One entry per stream published since the process started.
    func publishedHeads(prefix: String) -> [String: UInt64] {
        heads.withLock { state in state.published.filter { $0.key.hasPrefix(prefix) } }
    }

    /// Adds `bus.replay` and `bus.heads` to a server. Stream names are checked by `canRead`.
    public func serveReplay(on server: RPCServer,
                            canRead: @escaping @Sendable (Principal, String) -> Bool = { _, _ in true }) {
        let database = self.database
        server.register(BusMethods.replay) { [self] context, request in
            replays.add(1, ordering: .relaxed)
            guard !request.stream.isEmpty else { throw BusError.badRequest("bus.replay needs a stream") }
            guard canRead(context.principal, request.stream) else {
                throw BusError.forbidden("\(context.principal.name) may not read \(request.stream)")
            }
            let limit = request.limit == 0 ? SequencedPublisher.maxReplayBatch : min(Int(request.limit), SequencedPublisher.maxReplayBatch)
            let reply = try await database.read { db in
                var reply = Agor_Bus_V1_ReplayReply()
                reply.events = try EventLog.replay(db, stream: request.stream, after: request.afterSeq, limit: limit).map(\.packed)
                reply.headSeq = try EventLog.head(db, stream: request.stream)
                return reply
            }
            return reply
        }
        server.register(BusMethods.heads) { [self] context, request in
            let stored = try await database.read { db in try EventLog.heads(db, prefix: request.prefix) }
            // Read after the snapshot: anything published before this request is at most this high.
            var merged = Dictionary(stored, uniquingKeysWith: max)
            merged.merge(self.publishedHeads(prefix: request.prefix), uniquingKeysWith: max)
            var reply = Agor_Bus_V1_HeadsReply()
            reply.heads = merged.sorted { $0.key < $1.key }
                .filter { canRead(context.principal, $0.key) }
                .map { var h = Agor_Bus_V1_StreamHead(); h.stream = $0.key; h.seq = $0.value; return h }
            return reply
        }
    }

    public func close() async { await socket.close() }
}

/// Appends events inside a `SequencedPublisher.write` transaction. Stream heads are kept in memory
/// during the transaction and written once at its end (`flushHeads`), not read and updated per event.
public struct EventBatchWriter {
    let db: Database
    var events: [BusEvent] = []
    private var heads: [String: UInt64] = [:]

    init(db: Database) { self.db = db }

    @discardableResult
    public mutating func append(stream: String, type: String, body: [UInt8]) throws -> BusEvent {
        let head: UInt64
        if let known = heads[stream] { head = known } else { head = try EventLog.head(db, stream: stream) }
        let event = BusEvent(stream: stream, seq: head + 1, type: type, timestampUs: BusProtocol.nowMicros(), body: body)
        try EventLog.insert(db, event)
        heads[stream] = event.seq
        events.append(event)
        return event
    }

    /// How many events this transaction has appended so far.
    public var count: Int { events.count }

    /// Forgets the events appended after the first `count`: call when a savepoint that appended
    /// them rolls back, so that only committed events are published and numbers stay gapless.
    public mutating func discard(after count: Int) {
        guard events.count > count else { return }
        for event in events[count...] { heads[event.stream] = min(heads[event.stream] ?? 0, event.seq - 1) }
        events.removeLast(events.count - count)
    }

    /// Writes the streams' new heads; called by `SequencedPublisher.write` before the commit.
    mutating func flushHeads() throws {
        for (stream, head) in heads { try EventLog.setHead(db, stream: stream, head: head) }
        heads = [:]
    }
}
