import Bus
import DiagnosticsAPI
import Foundation
import GRDB
import Logging
import Synchronization

/// The Diagnostics collector (`agor serve diagnostics`): listens to every service's heartbeats,
/// keeps the health of every link (HealthBook), marks services down and up, and offers it all as
/// Bus requests, a sequenced `diag/health` stream, a live `diag/figures` topic, time series in its
/// own SQLite file, and Prometheus exposition over HTTP.
public final class DiagnosticsService: Sendable {
    public static let name = DiagnosticsAPI.service
    /// Sequenced: "service.up", "service.down" (ServiceState) and "link" (LinkRecord) events.
    public static let healthStream = DiagnosticsEvents.streamPrefix
    /// Live (KIND_LIVE), once per `figuresInterval`: a Figures body.
    public static let figuresTopic = DiagnosticsEvents.figuresTopic
    public static let figuresInterval = Duration.seconds(1)

    let runtime: ServiceRuntime
    let book: HealthBook
    let store: SeriesStore
    let exporter = PrometheusExporter()
    private let listener = Mutex<HeartbeatListener?>(nil)
    private let journal: AsyncStream<JournalEntry>.Continuation
    private let journalEntries: AsyncStream<JournalEntry>

    /// What is written to the database and the health stream, in arrival order, by one task.
    enum JournalEntry: Sendable {
        case links([Agor_Diagnostics_V1_LinkRecord])
        case transition(HealthBook.Transition)
    }

    public static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: name, home: home) { DiagnosticsSchema.register(in: &$0) }
        guard let http = runtime.config.service(name)?.http else {
            throw HomeError.config(file: home.configFile.path, reason: "services.diagnostics needs http = \"127.0.0.1:PORT\" for its Prometheus exposition")
        }
        let service = try DiagnosticsService(runtime: runtime)
        service.listen()
        let app = service.exporter.application(host: http.host, port: http.port, logger: runtime.logger)
        runtime.logger.info("prometheus exposition", metadata: ["diag.http": "http://\(http.host):\(http.port)/metrics"])
        try await runtime.run(alongside: [app], background: service.background)
        await service.stop()
    }

    public init(runtime: ServiceRuntime) throws {
        self.runtime = runtime
        book = HealthBook(services: runtime.config.services)
        store = SeriesStore(database: runtime.database)
        (journalEntries, journal) = AsyncStream<JournalEntry>.makeStream()
        // Anyone in the directory may follow the collector's own topics; heartbeats stay for services
        // and operators (SequencedPublisher's rule for them).
        runtime.publisher.restrictSubscriptions { _, prefix in
            prefix.hasPrefix("diag/") || "diag/".hasPrefix(prefix)
        }
        registerHandlers()
    }

    /// Starts listening to every service's heartbeats.
    public func listen() {
        for service in book.serviceNames { exporter.record(health: .unknown, service: service) }
        do {
            let listener = try HeartbeatListener(runtime: runtime, onHeartbeat: { [self] service, beat in
                let (transition, links) = book.accept(beat, from: service)
                exporter.record(heartbeat: beat, service: service)
                for link in links { exporter.record(link: link) }
                if !links.isEmpty { journal.yield(.links(links)) }
                if let transition { journal.yield(.transition(transition)) }
            }, onLink: { [self] service, event in
                let link = book.noteCollectorLink(event, service: service)
                exporter.record(link: link)
                journal.yield(.links([link]))
            })
            self.listener.withLock { $0 = listener }
        } catch {
            runtime.logger.error("cannot listen to heartbeats", metadata: ["diag.error": "\(error)"])
        }
    }

    /// The background work, run by the runtime's service group: the journal writer, the liveness
    /// watch and the once-a-second sampler (figures and series).
    public var background: [BackgroundWork] {
        let heartbeat = Duration.milliseconds(runtime.config.heartbeatMilliseconds)
        return [
            BackgroundWork("journal") { [self] in await writeJournal() },
            BackgroundWork("liveness") { [self] in
                // Checks several times per interval, so "down" follows the third missed beat closely.
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeat / 4)
                    for transition in book.checkLiveness(defaultInterval: heartbeat) { journal.yield(.transition(transition)) }
                }
            },
            BackgroundWork("sampler") { [self] in await sampleEverySecond() },
        ]
    }

    /// Frames on a heartbeat topic that were not a heartbeat of the service at that endpoint.
    public var rejectedHeartbeats: Int { listener.withLock { $0 }?.rejectedCount ?? 0 }

    public func stop() async {
        journal.finish()
        await listener.withLock { $0 }?.close()
    }

    // MARK: the journal: link history and health changes, stored and streamed

    private func writeJournal() async {
        for await entry in journalEntries {
            do {
                switch entry {
                case .links(let links):
                    try await runtime.publisher.write { db, events in
                        try SeriesStore.insert(links, into: db)
                        for link in links { try events.append(stream: DiagnosticsService.healthStream, type: "link", body: try link.serializedBytes()) }
                    }
                case .transition(let t):
                    exporter.record(health: t.health, service: t.service)
                    runtime.logger.notice("service \(t.health == .up ? "up" : "down")", metadata: ["diag.service": "\(t.service)", "diag.reason": "\(t.reason)"])
                    var state = Agor_Diagnostics_V1_ServiceState()
                    state.service = t.service
                    state.health = t.health
                    state.reason = t.reason
                    state.timeUs = BusProtocol.nowMicros()
                    state.lastHeartbeatUs = t.lastSeenUs
                    let body: [UInt8] = try state.serializedBytes()
                    try await runtime.publisher.write { _, events in
                        _ = try events.append(stream: DiagnosticsService.healthStream, type: t.health == .up ? "service.up" : "service.down", body: body)
                    }
                }
            } catch {
                runtime.logger.error("cannot record diagnostics", metadata: ["diag.error": "\(error)"])
            }
        }
    }

    // MARK: figures and series

    private func sampleEverySecond() async {
        var previous: [String: (dropped: UInt64, reconnects: UInt64)] = [:]
        var currentMinute = Int64(Date().timeIntervalSince1970) / 60 * 60
        var lastPrune = currentMinute
        while !Task.isCancelled {
            try? await Task.sleep(for: DiagnosticsService.figuresInterval)
            let figures = book.figures()
            publishFigures(figures)
            let second = figures.timeUs / 1_000_000
            var points: [String: [String: Double]] = [:]
            for s in figures.services {
                let before = previous[s.service] ?? (s.droppedEvents, s.reconnects)
                previous[s.service] = (s.droppedEvents, s.reconnects)
                let p99 = book.record(s.service).map { HealthBook.recentLatency($0, nowUs: figures.timeUs, seconds: 2).p99Us } ?? 0
                points[s.service] = [
                    "requests_per_s": s.requestsPerS, "errors_per_s": s.errorsPerS, "p99_us": Double(p99),
                    "dropped_events": Double(s.droppedEvents - min(before.dropped, s.droppedEvents)),
                    "reconnects": Double(s.reconnects - min(before.reconnects, s.reconnects)),
                    "max_fill": s.maxFill, "up": s.health == .up ? 1 : 0,
                ]
            }
            do {
                try await store.write(second: second, points: points)
                let minute = second / 60 * 60
                if minute > currentMinute {
                    try await store.rollUp(minute: currentMinute)
                    currentMinute = minute
                }
                if second - lastPrune >= 60 {
                    try await store.prune(nowSeconds: second)
                    lastPrune = second
                }
            } catch {
                runtime.logger.error("cannot write the time series", metadata: ["diag.error": "\(error)"])
            }
        }
    }

    private func publishFigures(_ figures: Agor_Diagnostics_V1_Figures) {
        guard let body: [UInt8] = try? figures.serializedBytes() else { return }
        var envelope = Envelope(kind: .live)
        envelope.method = "figures"
        envelope.stream = DiagnosticsService.figuresTopic
        envelope.timestampUs = figures.timeUs
        _ = runtime.publisher.socket.tryPublish(topic: Array(DiagnosticsService.figuresTopic.utf8), envelope: envelope.bytes(), body: body)
    }
}
