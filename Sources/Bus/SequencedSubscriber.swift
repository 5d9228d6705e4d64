import Foundation
import Logging
import Synchronization

/// Receives sequenced events and hands each to its consumer exactly once, in order per stream.
///
/// It subscribes first, then asks the publisher for the streams' heads and replays from its cursors
/// (late join); live events already seen are dropped; a gap (PUB drops at the high-water mark, a
/// reconnect, a publisher restart) is filled from the publisher's `bus.replay`. Every completed
/// handshake (a reconnect) triggers the same catch-up, so events missed while disconnected arrive.
public final class SequencedSubscriber: Sendable {
    public enum Start: Sendable {
        /// Every event from the first of each stream.
        case beginning
        /// Only events after the heads at start (new streams from their first event).
        case now
        /// Events after these cursors; streams not listed from their first event.
        case cursors([String: UInt64])
    }

    public struct Counts: Sendable, Equatable, Codable {
        public var delivered = 0
        /// Of those, received live (the rest came by replay).
        public var deliveredLive = 0
        /// Times a missing range was noticed.
        public var gapsDetected = 0
        /// Events absent from the live stream when a gap was noticed (PUB drops, reconnects).
        public var eventsMissed = 0
        /// Events missed live and obtained by replay (history replayed at a late join is not counted).
        public var eventsRecovered = 0
        public var duplicatesDropped = 0
        public var malformed = 0
        /// Completed catch-ups (the first one is the late join).
        public var catchUps = 0
    }

    private enum Input: Sendable {
        case live(ReceivedBatch)
        /// A handshake completed. The first one ends the join: what it finds beyond the start
        /// point was published before the subscription was live, not missed.
        case catchUp(firstConnection: Bool)
    }

    /// What a frame carries: an event, or a publisher's head marker (KIND_HEAD: "this stream has
    /// reached `seq`"), which only fills a gap and is never delivered.
    enum Incoming {
        case event(BusEvent)
        case head(stream: String, seq: UInt64)
    }

    public let socket: Socket
    /// The publisher's endpoint.
    public let endpoint: String
    private let replay: RPCClient
    /// Close the replay client with the subscriber.
    private let ownsReplay: Bool
    private let output: BatchChannel<[BusEvent]>
    private let counts = Mutex(Counts())
    private let refused = Locked(false)
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let logger: Logger

    /// `endsWhenRefused`: end `events` when the publisher refuses this key at the handshake (a
    /// revoked or unknown key; `wasRefused` then says so), for a command line that should say so and
    /// exit. Off, the subscriber keeps reconnecting (a service whose key may be added back).
    public init(context: Context, endpoint: String, serverKey: [UInt8], clientKey: CurveKeyPair,
                replay: RPCClient, ownsReplay: Bool = true, prefixes: [String], start: Start = .beginning,
                endsWhenRefused: Bool = false, logger: Logger = Logger(label: "agor.subscriber")) throws {
        self.ownsReplay = ownsReplay
        self.endpoint = endpoint
        var configuration = Socket.Configuration(
            options: [.curveClient(publicKey: clientKey.publicKey, secretKey: clientKey.secretKey, serverKey: serverKey),
                      .receiveHighWaterMark(100_000), .linger(0), .reconnectInterval(100), .reconnectIntervalMax(2_000),
                      .maxMessageSize(BusProtocol.defaultMaxMessageSize),
                      .heartbeatInterval(2_000), .heartbeatTimeout(6_000)] + prefixes.map { .subscribe($0) },
            connect: [endpoint])
        configuration.monitor = true
        configuration.thread = context.clientThread
        socket = try Socket(context: context, type: .sub, configuration)
        self.replay = replay
        self.logger = logger
        output = BatchChannel(capacity: 1 << 20, onSpace: {})

        let (inputs, feed) = AsyncStream<Input>.makeStream()
        let liveTask = Task { [batches = socket.batches] in
            for await batch in batches { feed.yield(.live(batch)) }
            feed.finish()
        }
        let monitorTask = Task { [events = socket.monitorEvents, refused, output] in
            guard let events else { return }
            var first = true
            for await event in events {
                if event.kind == .handshakeSucceeded {
                    feed.yield(.catchUp(firstConnection: first))
                    first = false
                } else if event.kind == .handshakeFailedAuth && endsWhenRefused {
                    refused.withLock { $0 = true }
                    output.finish()
                    return
                }
            }
        }
        let processor = Task { [self] in
            var state = StreamState(start: start)
            await catchUp(prefixes: prefixes, state: &state, initial: true)
            for await input in inputs {
                switch input {
                case .catchUp(let firstConnection):
                    await catchUp(prefixes: prefixes, state: &state, initial: false, countsMisses: !firstConnection)
                case .live(let batch):
                    var delivered: [BusEvent] = []
                    for message in batch {
                        guard let events = decode(message) else {
                            counts.withLock { $0.malformed += 1 }
                            continue
                        }
                        for incoming in events {
                            await accept(incoming, state: &state, into: &delivered)
                        }
                    }
                    counts.withLock { $0.deliveredLive += delivered.count }
                    deliver(delivered)
                }
            }
            output.finish()
        }
        tasks.withLock { $0 = [liveTask, monitorTask, processor] }
    }

    /// The events, each once, in order per stream. One consumer.
    public var events: Events { Events(channel: output) }

    public var statistics: Counts { counts.withLock { $0 } }

    /// True when `events` ended because the publisher refused this key (`endsWhenRefused`).
    public var wasRefused: Bool { refused.withLock { $0 } }

    public func close() async {
        await socket.close()
        if ownsReplay { await replay.close() }
        for task in tasks.withLock({ $0 }) { task.cancel() }
        output.finish()
    }

    // MARK: processing (on the processor task only)

    private struct StreamState {
        var cursors: StreamCursors
        let startNow: Bool
        init(start: Start) {
            switch start {
            case .beginning: cursors = StreamCursors(); startNow = false
            case .now: cursors = StreamCursors(); startNow = true
            case .cursors(let c): cursors = StreamCursors(c); startNow = false
            }
        }
    }

    /// Delivers a live event in order, filling any gap before it first. A head marker only fills:
    /// everything up to its number must exist.
    private func accept(_ incoming: Incoming, state: inout StreamState, into delivered: inout [BusEvent]) async {
        let (stream, event, verdict): (String, BusEvent?, StreamCursors.Verdict) = switch incoming {
        case .event(let live): (live.stream, live, state.cursors.verdict(live.stream, live.seq))
        case .head(let stream, let seq): (stream, nil, state.cursors.verdict(head: stream, seq))
        }
        switch verdict {
        case .seen:
            if event != nil { counts.withLock { $0.duplicatesDropped += 1 } }
            return
        case .gap(let after, let through):
            counts.withLock { $0.gapsDetected += 1; $0.eventsMissed += Int(through - after); $0.deliveredLive += delivered.count }
            deliver(delivered)
            delivered = []
            await fill(stream: stream, through: through, state: &state)
            // Delivered by the replay meanwhile: a duplicate. Still a gap (the replay failed, or
            // retention removed those events): delivered anyway, the consumer is not held forever.
            if let event, state.cursors.verdict(event.stream, event.seq) == .seen {
                counts.withLock { $0.duplicatesDropped += 1 }
                return
            }
        case .next:
            break
        }
        guard let event else { return }
        state.cursors.advance(event.stream, to: event.seq)
        delivered.append(event)
    }

    /// Asks for the heads and replays what is beyond the cursors. `initial`: the late join, where a
    /// `.now` start takes the heads as its cursors. `countsMisses`: what is found was missed live
    /// (a reconnect), counted as missed and recovered.
    private func catchUp(prefixes: [String], state: inout StreamState, initial: Bool, countsMisses: Bool = false) async {
        defer { counts.withLock { $0.catchUps += 1 } }
        for prefix in prefixes {
            var request = Agor_Bus_V1_HeadsRequest()
            request.prefix = prefix
            guard let heads = try? await withRetry({ [request] in try await self.replay.call(BusMethods.heads, request) }) else { continue }
            for head in heads.heads {
                if initial && state.startNow && !state.cursors.knows(head.stream) {
                    state.cursors.advance(head.stream, to: head.seq)
                    continue
                }
                if case .gap(let after, let through) = state.cursors.verdict(head: head.stream, head.seq) {
                    if countsMisses {
                        counts.withLock { $0.gapsDetected += 1; $0.eventsMissed += Int(through - after) }
                    }
                    await fill(stream: head.stream, through: through, state: &state, recovering: countsMisses)
                }
            }
        }
    }

    /// Replays `stream` after its cursor up to `through`, delivering in order.
    /// `recovering`: the events were missed live (counted as recovered), not history at a late join.
    private func fill(stream: String, through target: UInt64, state: inout StreamState, recovering: Bool = true) async {
        while state.cursors[stream] < target {
            var request = Agor_Bus_V1_ReplayRequest()
            request.stream = stream
            request.afterSeq = state.cursors[stream]
            guard let reply = try? await withRetry({ [request] in try await self.replay.call(BusMethods.replay, request) }) else {
                return
            }
            var delivered: [BusEvent] = []
            for packed in reply.events {
                guard let event = BusEvent(packed: packed), event.stream == stream, event.seq <= target,
                      state.cursors.takeReplayed(stream, event.seq) else { continue }
                delivered.append(event)
            }
            if recovering { counts.withLock { $0.eventsRecovered += delivered.count } }
            deliver(delivered)
            if delivered.isEmpty || state.cursors[stream] >= target { return }
        }
    }

    /// Retries while the publisher is unreachable (restarting), until the subscriber closes.
    private func withRetry<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        var delay = Duration.milliseconds(50)
        while true {
            do { return try await body() } catch let error as BusError where error.errorCode == .timeout || error.errorCode == .unavailable {
                if Task.isCancelled { throw error }
                logger.debug("replay retry", metadata: ["bus.error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    private func deliver(_ events: [BusEvent]) {
        guard !events.isEmpty else { return }
        counts.withLock { $0.delivered += events.count }
        _ = output.push(events)
    }

    /// The events of one frame set (one, or a batch), head markers included; nil when malformed.
    private func decode(_ message: ReceivedMessage) -> [Incoming]? {
        var events: [Incoming] = []
        var valid = true
        let wellFormed = EventFrame.forEach(in: message) { envelopeBytes, body in
            guard valid, let e = try? Envelope(serializedBytes: Array(envelopeBytes)) else { valid = false; return }
            switch e.kind {
            case .event: events.append(.event(BusEvent(envelope: e, body: Array(body))))
            case .head: events.append(.head(stream: e.stream, seq: e.seq))
            case .live: break  // unsequenced figures (heartbeats) are not events
            default: valid = false
            }
        }
        return wellFormed && valid ? events : nil
    }

    public struct Events: AsyncSequence, Sendable {
        public typealias Element = BusEvent
        let channel: BatchChannel<[BusEvent]>
        public struct AsyncIterator: AsyncIteratorProtocol {
            let channel: BatchChannel<[BusEvent]>
            var buffer: [BusEvent] = []
            var index = 0
            public mutating func next() async -> BusEvent? {
                while index >= buffer.count {
                    guard let next = await channel.next() else { return nil }
                    buffer = next
                    index = 0
                }
                defer { index += 1 }
                return buffer[index]
            }
        }
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }
    }
}
