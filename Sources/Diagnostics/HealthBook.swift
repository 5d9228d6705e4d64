import Bus
import DiagnosticsAPI
import Foundation
import Synchronization

/// What the collector knows about every service: its last heartbeat, health (up, down, unknown),
/// rates, latency per method, drops, reconnects and recent link history. Fed by heartbeats and the
/// collector's own link events; read by requests, the figures stream and the exporter.
final class HealthBook: Sendable {
    static let recentLinks = 200

    struct Record: Sendable {
        var name: String
        var endpoint: String
        var health: Agor_Diagnostics_V1_ServiceHealth = .unknown
        var changedUs: Int64
        var last: Agor_Bus_V1_Heartbeat?
        var lastSeen: ContinuousClock.Instant?
        var lastSeenUs: Int64 = 0
        var requestsPerSecond = 0.0
        var errorsPerSecond = 0.0
        var methods: [String: LatencyWindow] = [:]
        /// Per subscriber (pid + name): the last eventsMissed seen, to add only what is new.
        var missedSeen: [String: UInt64] = [:]
        var droppedEvents: UInt64 = 0
        var reconnects: UInt64 = 0
        var links: [Agor_Diagnostics_V1_LinkRecord] = []
    }

    /// A change of health, for the stream and the exporter.
    struct Transition: Sendable {
        var service: String
        var health: Agor_Diagnostics_V1_ServiceHealth
        var reason: String
        var lastSeenUs: Int64
    }

    private let records: Mutex<[String: Record]>
    private let order: [String]
    private let startedAt = ContinuousClock.now

    init(services: [BusConfig.ServiceEndpoints]) {
        let now = BusProtocol.nowMicros()
        var records: [String: Record] = [:]
        for service in services { records[service.name] = Record(name: service.name, endpoint: service.pub, changedUs: now) }
        self.records = Mutex(records)
        order = services.map(\.name)
    }

    var serviceNames: [String] { order }

    func knows(_ service: String) -> Bool { order.contains(service) }

    /// Takes a heartbeat from `service` (the SUB it came on says who; the body's name must agree).
    /// Returns the transition to up when it was down or unknown, and the link records it carried.
    func accept(_ beat: Agor_Bus_V1_Heartbeat, from service: String) -> (Transition?, [Agor_Diagnostics_V1_LinkRecord]) {
        let nowUs = BusProtocol.nowMicros()
        return records.withLock { all -> (Transition?, [Agor_Diagnostics_V1_LinkRecord]) in
            guard var record = all[service] else { return (nil, []) }
            if let previous = record.last, previous.pid == beat.pid, beat.timeUs > previous.timeUs, beat.requests >= previous.requests {
                let seconds = Double(beat.timeUs - previous.timeUs) / 1_000_000
                record.requestsPerSecond = Double(beat.requests - previous.requests) / seconds
                record.errorsPerSecond = Double(beat.errors &- previous.errors) / seconds
            } else {
                record.requestsPerSecond = 0
                record.errorsPerSecond = 0
            }
            for latency in beat.methods where !latency.method.isEmpty {
                record.methods[latency.method, default: LatencyWindow()].add(latency, atUs: nowUs)
            }
            for subscriber in beat.subscribers {
                let key = "\(beat.pid)/\(subscriber.name)"
                let seen = record.missedSeen[key] ?? 0
                if subscriber.eventsMissed > seen { record.droppedEvents += subscriber.eventsMissed - seen }
                record.missedSeen[key] = subscriber.eventsMissed
            }
            var links: [Agor_Diagnostics_V1_LinkRecord] = []
            for event in beat.links {
                var link = Agor_Diagnostics_V1_LinkRecord()
                link.service = service
                link.observer = "service"
                link.event = event
                links.append(link)
                HealthBook.remember(link, in: &record)
            }
            var transition: Transition?
            if record.health != .up {
                let reason = record.health == .down ? "heartbeats resumed (pid \(beat.pid))" : "first heartbeat (pid \(beat.pid))"
                record.health = .up
                record.changedUs = nowUs
                transition = Transition(service: service, health: .up, reason: reason, lastSeenUs: nowUs)
            }
            record.last = beat
            record.lastSeen = .now
            record.lastSeenUs = nowUs
            all[service] = record
            return (transition, links)
        }
    }

    /// Records a link event the collector itself saw on its connection to `service`.
    func noteCollectorLink(_ event: Agor_Bus_V1_LinkEvent, service: String) -> Agor_Diagnostics_V1_LinkRecord {
        var link = Agor_Diagnostics_V1_LinkRecord()
        link.service = service
        link.observer = "collector"
        link.event = event
        records.withLock { all in
            guard var record = all[service] else { return }
            HealthBook.remember(link, in: &record)
            all[service] = record
        }
        return link
    }

    private static func remember(_ link: Agor_Diagnostics_V1_LinkRecord, in record: inout Record) {
        // A connect-side link that drops will reconnect; a bound socket's peer leaving is not a fault.
        if link.event.outbound && link.event.kind == SocketMonitor.Kind.disconnected.rawValue { record.reconnects += 1 }
        record.links.append(link)
        if record.links.count > recentLinks { record.links.removeFirst(record.links.count - recentLinks) }
    }

    /// Marks down every service whose heartbeats stopped for three of its intervals, and every
    /// service never heard from within three of `defaultInterval` of the collector's start.
    func checkLiveness(defaultInterval: Duration) -> [Transition] {
        let now = ContinuousClock.now
        let nowUs = BusProtocol.nowMicros()
        return records.withLock { all in
            var transitions: [Transition] = []
            for name in order {
                guard var record = all[name], record.health != .down else { continue }
                let interval = record.last.map { Duration.milliseconds(Int64(max($0.intervalMs, 1))) } ?? defaultInterval
                let since = record.lastSeen ?? startedAt
                guard now - since > interval * 3 else { continue }
                let reason = record.lastSeen == nil
                    ? "no heartbeat since the collector started"
                    : "no heartbeat for \(Int((now - since) / .milliseconds(1))) ms (3 intervals of \(Int(interval / .milliseconds(1))) ms)"
                record.health = .down
                record.changedUs = nowUs
                record.requestsPerSecond = 0
                record.errorsPerSecond = 0
                all[name] = record
                transitions.append(Transition(service: name, health: .down, reason: reason, lastSeenUs: record.lastSeenUs))
            }
            return transitions
        }
    }

    func record(_ service: String) -> Record? { records.withLock { $0[service] } }

    func summary(of record: Record, nowUs: Int64) -> Agor_Diagnostics_V1_ServiceSummary {
        var s = Agor_Diagnostics_V1_ServiceSummary()
        s.service = record.name
        s.health = record.health
        s.endpoint = record.endpoint
        s.changedUs = record.changedUs
        s.lastHeartbeatUs = record.lastSeenUs
        s.requestsPerS = record.requestsPerSecond
        s.errorsPerS = record.errorsPerSecond
        s.droppedEvents = record.droppedEvents
        s.reconnects = record.reconnects
        if let beat = record.last {
            s.pid = beat.pid
            s.uptimeMs = beat.uptimeMs
            s.requests = beat.requests
            s.errors = beat.errors
            s.zapDenied = beat.zapDenied
            s.malformed = beat.malformed
            s.unauthenticated = beat.unauthenticated
            s.throttled = beat.throttled
            s.requestsInFlight = beat.requestsInFlight
            s.pendingBytes = beat.sockets.reduce(0) { $0 + $1.pendingBytes }
            s.maxFill = beat.sockets.map(HealthBook.fill).max() ?? 0
        }
        s.latency = HealthBook.recentLatency(record, nowUs: nowUs)
        return s
    }

    /// All methods of a service over the last `seconds` (at most 60), merged.
    static func recentLatency(_ record: Record, nowUs: Int64, seconds: Int64 = LatencyWindow.recentSeconds) -> Agor_Diagnostics_V1_Percentiles {
        var values = RecentValues()
        for window in record.methods.values { window.mergeRecent(into: &values, nowUs: nowUs, seconds: seconds) }
        return values.percentiles()
    }

    /// How full a socket's fullest queue is, 0...1.
    static func fill(_ socket: Agor_Bus_V1_SocketStats) -> Double {
        let send = socket.sendQueueLimit > 0 ? Double(socket.sendQueueDepth) / Double(socket.sendQueueLimit) : 0
        let receive = socket.receiveQueueLimit > 0 ? Double(socket.receiveQueueDepth) / Double(socket.receiveQueueLimit) : 0
        return min(1, max(send, receive))
    }

    func figures() -> Agor_Diagnostics_V1_Figures {
        let nowUs = BusProtocol.nowMicros()
        var figures = Agor_Diagnostics_V1_Figures()
        figures.timeUs = nowUs
        let all = records.withLock { $0 }
        figures.services = order.compactMap { all[$0] }.map { summary(of: $0, nowUs: nowUs) }
        return figures
    }
}
