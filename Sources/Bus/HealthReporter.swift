import Foundation
import Synchronization

/// A service's own health, published once per interval on its PUB under `HealthReporter.topic` for
/// the Diagnostics collector: uptime, request counts and per-method latency (`LatencyRecorder`),
/// ZAP decisions, every registered socket's counters and queue levels, the link events its socket
/// monitors saw, and what its sequenced subscribers missed and recovered. The ServiceRuntime makes
/// one when `[bus] instrumentation` is on (the default); services add nothing of their own.
public final class HealthReporter: Sendable {
    /// The topic heartbeats are published under (KIND_LIVE envelopes: not stored, not replayed).
    public static let topic = "bus.health"
    /// Link events carried by one heartbeat at most; the rest are counted as not reported.
    public static let maxLinkEventsPerHeartbeat = 256

    public let service: String
    public let interval: Duration
    public let latencies: LatencyRecorder
    private let publisher: SequencedPublisher
    private let server: RPCServer?
    private let zap: ZAPAuthenticator?
    private let startedAt = ContinuousClock.now

    private struct State {
        var sockets: [(name: String, socket: Socket)] = []
        var subscribers: [(name: String, subscriber: SequencedSubscriber)] = []
        var links: [Agor_Bus_V1_LinkEvent] = []
        var linksNotReported: UInt32 = 0
        var number: UInt64 = 0
    }
    private let state = Mutex(State())
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    public init(service: String, interval: Duration, publisher: SequencedPublisher, server: RPCServer?, zap: ZAPAuthenticator?,
                latencies: LatencyRecorder = LatencyRecorder()) {
        self.latencies = latencies
        self.service = service
        self.interval = interval
        self.publisher = publisher
        self.server = server
        self.zap = zap
    }

    /// Reports a socket's counters in every heartbeat and, when it was made with `monitor: true`,
    /// its connection history.
    public func watch(_ socket: Socket, as name: String) {
        state.withLock { $0.sockets.append((name, socket)) }
        let outbound = !socket.connectedEndpoints.isEmpty
        socket.monitor?.observe { [weak self] event in self?.noteLink(event, socket: name, outbound: outbound) }
    }

    /// Reports a sequenced subscriber's gaps and recoveries (and its socket).
    public func watch(_ subscriber: SequencedSubscriber, as name: String) {
        state.withLock { $0.subscribers.append((name, subscriber)) }
        watch(subscriber.socket, as: name)
    }

    private func noteLink(_ event: SocketMonitor.Event, socket: String, outbound: Bool) {
        guard let link = event.linkEvent(socket: socket, outbound: outbound) else { return }
        state.withLock { s in
            if s.links.count < HealthReporter.maxLinkEventsPerHeartbeat { s.links.append(link) } else { s.linksNotReported += 1 }
        }
    }

    /// Publishes a heartbeat now, then one per interval until `stop`.
    public func start() {
        let task = Task { [weak self, interval] in
            while !Task.isCancelled {
                self?.publish()
                try? await Task.sleep(for: interval)
            }
        }
        ticker.withLock { $0 = task }
    }

    public func stop() {
        ticker.withLock { $0?.cancel(); $0 = nil }
    }

    /// The heartbeat that would be published now (and starts the next interval).
    public func makeHeartbeat() -> Agor_Bus_V1_Heartbeat {
        let (sockets, subscribers, links, notReported, number) = state.withLock { s in
            s.number += 1
            defer { s.links = []; s.linksNotReported = 0 }
            return (s.sockets, s.subscribers, s.links, s.linksNotReported, s.number)
        }
        var beat = Agor_Bus_V1_Heartbeat()
        beat.service = service
        beat.pid = getpid()
        let up = ContinuousClock.now - startedAt
        beat.uptimeMs = up.components.seconds * 1000 + up.components.attoseconds / 1_000_000_000_000_000
        beat.intervalMs = UInt32(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        beat.number = number
        beat.timeUs = BusProtocol.nowMicros()
        if let server {
            let counts = server.statistics
            beat.requests = UInt64(counts.requests)
            beat.replies = UInt64(counts.replies)
            beat.errors = UInt64(counts.errors)
            beat.malformed = UInt64(counts.malformed)
            beat.unauthenticated = UInt64(counts.unauthenticated)
            beat.throttled = UInt64(counts.throttled)
            beat.requestsInFlight = UInt32(clamping: server.inFlight)
        }
        if let zap {
            beat.zapAllowed = UInt64(zap.counts.allowed)
            beat.zapDenied = UInt64(zap.counts.denied)
        }
        beat.eventsDropped = UInt64(publisher.droppedCount)
        beat.replaysServed = UInt64(publisher.replaysServed)
        beat.sockets = sockets.map { HealthReporter.stats(of: $0.socket, name: $0.name) }
        beat.methods = latencies.take()
        beat.links = links
        beat.linksNotReported = notReported
        beat.subscribers = subscribers.map { HealthReporter.stats(of: $0.subscriber, name: $0.name) }
        return beat
    }

    private func publish() {
        let beat = makeHeartbeat()
        var envelope = Envelope(kind: .live)
        envelope.method = "heartbeat"
        envelope.stream = HealthReporter.topic
        envelope.timestampUs = beat.timeUs
        guard let body: [UInt8] = try? beat.serializedBytes() else { return }
        _ = publisher.socket.tryPublish(topic: Array(HealthReporter.topic.utf8), envelope: envelope.bytes(), body: body)
    }

    static func stats(of socket: Socket, name: String) -> Agor_Bus_V1_SocketStats {
        let c = socket.counters
        var stats = Agor_Bus_V1_SocketStats()
        stats.name = name
        stats.type = "\(socket.type)".uppercased()
        stats.endpoint = socket.boundEndpoints.first ?? socket.connectedEndpoints.first ?? ""
        stats.messagesIn = UInt64(c.messagesIn)
        stats.messagesOut = UInt64(c.messagesOut)
        stats.bytesIn = UInt64(c.bytesIn)
        stats.bytesOut = UInt64(c.bytesOut)
        stats.sendErrors = UInt64(c.sendErrors)
        stats.sendQueueDepth = UInt32(clamping: c.sendQueueDepth)
        stats.sendQueueLimit = UInt32(clamping: c.sendQueueLimit)
        stats.receiveQueueDepth = UInt32(clamping: c.receiveQueueDepth)
        stats.receiveQueueLimit = UInt32(clamping: c.receiveQueueLimit)
        stats.pendingBytes = UInt64(c.pendingBytes)
        stats.subscriptionsRefused = UInt64(c.subscriptionsRefused)
        return stats
    }

    static func stats(of subscriber: SequencedSubscriber, name: String) -> Agor_Bus_V1_SubscriberStats {
        let c = subscriber.statistics
        var stats = Agor_Bus_V1_SubscriberStats()
        stats.name = name
        stats.endpoint = subscriber.endpoint
        stats.delivered = UInt64(c.delivered)
        stats.deliveredLive = UInt64(c.deliveredLive)
        stats.gapsDetected = UInt64(c.gapsDetected)
        stats.eventsMissed = UInt64(c.eventsMissed)
        stats.eventsRecovered = UInt64(c.eventsRecovered)
        stats.duplicatesDropped = UInt64(c.duplicatesDropped)
        stats.malformed = UInt64(c.malformed)
        stats.catchUps = UInt64(c.catchUps)
        return stats
    }
}
