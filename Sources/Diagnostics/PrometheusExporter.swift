import Bus
import Foundation
import Hummingbird
import Logging
import CoreMetrics
import DiagnosticsAPI
import Prometheus
import Synchronization

/// The collector's figures in Prometheus's text exposition format. Figures are recorded through
/// swift-metrics (counters, gauges, timers) into a swift-prometheus registry of the collector's own
/// (no global bootstrap), and served at `GET /metrics` by a small Hummingbird app.
///
/// Names follow Prometheus's conventions: an `agor_` prefix, base units (seconds, bytes),
/// `_total` for counters, and the service, method, socket and subscriber as labels.
final class PrometheusExporter: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let gauges = Mutex<[String: CoreMetrics.Gauge]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    /// Last reported totals per series, to turn a service's totals into counter increments.
    private let lastTotals = Mutex<[String: UInt64]>([:])

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        self.factory = factory
    }

    /// The exposition text, as served at /metrics.
    func render() -> String { registry.emitToString() }

    func record(heartbeat beat: Agor_Bus_V1_Heartbeat, service: String) {
        let s = [("service", service)]
        gauge("agor_service_uptime_seconds", s).record(Double(beat.uptimeMs) / 1000)
        gauge("agor_requests_in_flight", s).record(Double(beat.requestsInFlight))
        total("agor_requests_total", s, beat.requests, pid: beat.pid)
        total("agor_request_errors_total", s, beat.errors, pid: beat.pid)
        total("agor_requests_malformed_total", s, beat.malformed, pid: beat.pid)
        total("agor_requests_unauthenticated_total", s, beat.unauthenticated, pid: beat.pid)
        total("agor_requests_throttled_total", s, beat.throttled, pid: beat.pid)
        total("agor_zap_allowed_total", s, beat.zapAllowed, pid: beat.pid)
        total("agor_zap_denied_total", s, beat.zapDenied, pid: beat.pid)
        total("agor_events_dropped_total", s, beat.eventsDropped, pid: beat.pid)
        total("agor_replays_served_total", s, beat.replaysServed, pid: beat.pid)
        for socket in beat.sockets {
            let l = s + [("socket", socket.name)]
            gauge("agor_socket_send_queue_depth", l).record(Double(socket.sendQueueDepth))
            gauge("agor_socket_receive_queue_depth", l).record(Double(socket.receiveQueueDepth))
            gauge("agor_socket_queue_fill_ratio", l).record(HealthBook.fill(socket))
            gauge("agor_socket_pending_bytes", l).record(Double(socket.pendingBytes))
            total("agor_socket_messages_received_total", l, socket.messagesIn, pid: beat.pid)
            total("agor_socket_messages_sent_total", l, socket.messagesOut, pid: beat.pid)
            total("agor_socket_received_bytes_total", l, socket.bytesIn, pid: beat.pid)
            total("agor_socket_sent_bytes_total", l, socket.bytesOut, pid: beat.pid)
        }
        for subscriber in beat.subscribers {
            let l = s + [("subscriber", subscriber.name)]
            total("agor_subscriber_events_missed_total", l, subscriber.eventsMissed, pid: beat.pid)
            total("agor_subscriber_events_recovered_total", l, subscriber.eventsRecovered, pid: beat.pid)
            total("agor_subscriber_gaps_total", l, subscriber.gapsDetected, pid: beat.pid)
        }
        for latency in beat.methods where !latency.method.isEmpty {
            let t = timer("agor_request_duration_seconds", s + [("method", latency.method)])
            // The interval's recorded values, each as often as it was seen (bounded per heartbeat).
            var budget = 100_000
            for (value, count) in zip(latency.valuesUs, latency.counts) where value > 0 {
                let times = Int(min(count, UInt64(budget)))
                for _ in 0..<times { t.recordNanoseconds(Int64(min(value, 3_600_000_000)) * 1000) }
                budget -= times
                if budget <= 0 { break }
            }
        }
    }

    func record(health: Agor_Diagnostics_V1_ServiceHealth, service: String) {
        gauge("agor_service_up", [("service", service)]).record(health == .up ? 1 : 0)
    }

    func record(link: Agor_Diagnostics_V1_LinkRecord) {
        let labels = [("service", link.service), ("observer", link.observer), ("event", link.event.kind)]
        counter("agor_link_events_total", labels).increment(by: 1)
    }

    // MARK: metric objects, made once per name and labels

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + "|" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }

    private func counter(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Counter {
        let key = PrometheusExporter.key(name, labels)
        return counters.withLock { all in
            if let existing = all[key] { return existing }
            let made = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
            all[key] = made
            return made
        }
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Gauge {
        let key = PrometheusExporter.key(name, labels)
        return gauges.withLock { all in
            if let existing = all[key] { return existing }
            let made = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
            all[key] = made
            return made
        }
    }

    private func timer(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Timer {
        let key = PrometheusExporter.key(name, labels)
        return timers.withLock { all in
            if let existing = all[key] { return existing }
            let made = CoreMetrics.Timer(label: name, dimensions: labels, factory: factory)
            all[key] = made
            return made
        }
    }

    /// Adds what a service's total grew by since its last report. A new pid (a restart) starts
    /// its totals from zero again, so the whole new total is added.
    private func total(_ name: String, _ labels: [(String, String)], _ value: UInt64, pid: Int32) {
        let key = PrometheusExporter.key(name, labels)
        let delta = lastTotals.withLock { last -> UInt64 in
            let pidKey = key + "|pid"
            let previous = last[pidKey] == UInt64(UInt32(bitPattern: pid)) ? (last[key] ?? 0) : 0
            last[key] = value
            last[pidKey] = UInt64(UInt32(bitPattern: pid))
            return value > previous ? value - previous : 0
        }
        if delta > 0 { counter(name, labels).increment(by: Int64(clamping: delta)) }
    }

    /// The HTTP side: GET /metrics (text exposition 0.0.4) and GET /healthz.
    func application(host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { [self] _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: render())))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "agor-diagnostics"),
                           logger: logger)
    }
}
