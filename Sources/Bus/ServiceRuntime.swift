import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// What a service process needs from its home, set up the same way for every service: config, its
/// key pair, the directory (watched), a context with a ZAP authenticator, its database, a ROUTER for
/// requests and a sequenced PUB for events, logging to logs/<name>.log, and a graceful shutdown on
/// SIGTERM/SIGINT through swift-service-lifecycle.
public final class ServiceRuntime: Sendable {
    public let name: String
    public let home: Home
    public let config: BusConfig
    public let context: Context
    public let directory: Directory
    public let keyPair: CurveKeyPair
    public let zap: ZAPAuthenticator
    public let database: DatabasePool
    public let server: RPCServer
    public let publisher: SequencedPublisher
    /// Reports this service's health to Diagnostics; nil when `[bus] instrumentation = false`.
    public let health: HealthReporter?
    public let logger: Logger
    public let startedAt = ContinuousClock.now
    private let watcher: DirectoryWatcher
    let checkpointer: WALCheckpointer
    private let dedupWindow: TimeInterval

    /// Opens everything. `migrations` registers the service's own schema after the Bus's.
    /// `fsyncEveryCommit: true` makes this service fsync every commit whatever config.toml says
    /// (bttask answers claims only once they are on disk); nil follows `[bus] fsync_every_commit`.
    public init(name: String, home: Home, logger: Logger? = nil, fsyncEveryCommit: Bool? = nil,
                migrations: (inout DatabaseMigrator) -> Void = { _ in }) throws {
        self.name = name
        self.home = home
        let logger = logger ?? Logger(label: "agor.\(name)")
        self.logger = logger
        config = try BusConfig.load(from: home.configFile)
        guard let endpoints = config.service(name) else {
            throw HomeError.config(file: home.configFile.path, reason: "no [services.\(name)] section")
        }
        keyPair = try CurveKeyPair.read(from: home.secretKeyFile(name))
        directory = Directory(folder: home.directoryFolder, logger: logger)
        watcher = DirectoryWatcher(directory: directory)
        context = Context()
        zap = try ZAPAuthenticator(context: context, directory: directory, logger: logger)
        try FileManager.default.createDirectory(at: home.dataFolder, withIntermediateDirectories: true)
        database = try BusSchema.open(path: home.database(name).path, fsyncEveryCommit: fsyncEveryCommit ?? config.fsyncEveryCommit,
                                      migrations: migrations)
        checkpointer = try WALCheckpointer(path: home.database(name).path)
        let instrumented = config.instrumentation
        let latencies = LatencyRecorder()
        let observer: (@Sendable (String, Duration, Bool) -> Void)? = instrumented
            ? { @Sendable method, duration, ok in latencies.record(method: method, duration: duration, succeeded: ok) }
            : nil
        // Beside tcp, each service listens on ipc:// in the home's run/ folder, for agents in the
        // strict tier (a network namespace of their own, run/ bind-mounted in). CURVE holds there too.
        let local = IPCEndpoints(home: home, service: name).flatMap { $0.claim() ? $0 : nil }
        server = try RPCServer(context: context, endpoint: endpoints.rpc, also: local.map { [$0.rpc] } ?? [], serverKey: keyPair, directory: directory,
                               maxMessageSize: config.maxMessageSize, requestsPerPrincipal: config.requestsPerPrincipal,
                               logger: logger, monitor: instrumented,
                               observer: observer)
        publisher = try SequencedPublisher(context: context, endpoint: endpoints.pub, also: local.map { [$0.pub] } ?? [], serverKey: keyPair, database: database,
                                           directory: directory, monitor: instrumented, sharingThreadWith: server.socket)
        publisher.serveReplay(on: server)
        local?.openToAgents()
        if instrumented {
            let reporter = HealthReporter(service: name, interval: .milliseconds(config.heartbeatMilliseconds),
                                          publisher: publisher, server: server, zap: zap, latencies: latencies)
            reporter.watch(server.socket, as: "rpc")
            reporter.watch(publisher.socket, as: "pub")
            health = reporter
        } else {
            health = nil
        }
        let started = startedAt
        server.register(BusMethods.ping) { [name] context, _ in
            var reply = Agor_Bus_V1_PingReply()
            reply.service = name
            let up = ContinuousClock.now - started
            reply.uptimeMs = up.components.seconds * 1000 + up.components.attoseconds / 1_000_000_000_000_000
            reply.pid = getpid()
            reply.principal = context.principal.name
            return reply
        }
        server.register(BusMethods.backup) { [database] _, request in
            try await DatabaseBackup.write(database, to: request.path)
        }
        dedupWindow = TimeInterval(config.dedupWindowSeconds)
    }

    /// Forgets dedup records older than the window, hourly (they outlive it by at most an hour),
    /// until the calling task is cancelled.
    func pruneDedupRecords() async {
        while !Task.isCancelled {
            _ = try? await database.write { [dedupWindow] in try RequestDedup.prune($0, olderThan: dedupWindow) }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// A client of another service in the config, with this service's key; its socket and link
    /// history are in this service's heartbeats.
    public func client(of service: String) throws -> RPCClient {
        let address = try self.address(of: service)
        let client = try RPCClient(context: context, endpoint: address.endpoints.rpc, serverKey: address.serverKey, clientKey: keyPair)
        health?.watch(client.socket, as: "client.\(service)")
        return client
    }

    /// A subscriber to another service's events, with this service's key; `replay` (a client of
    /// that service) stays the caller's. Watched in this service's heartbeats as `watchName`
    /// (default `subscriber.SERVICE`).
    public func subscriber(of service: String, prefixes: [String], start: SequencedSubscriber.Start,
                           replay: RPCClient, watchName: String? = nil) throws -> SequencedSubscriber {
        let address = try self.address(of: service)
        let subscriber = try SequencedSubscriber(context: context, endpoint: address.endpoints.pub, serverKey: address.serverKey,
                                                 clientKey: keyPair, replay: replay, ownsReplay: false, prefixes: prefixes,
                                                 start: start, logger: logger)
        health?.watch(subscriber, as: watchName ?? "subscriber.\(service)")
        return subscriber
    }

    /// Another service of this home (`ServiceAddress`); unavailable when it is not configured.
    private func address(of service: String) throws -> ServiceAddress {
        do { return try ServiceAddress(service, config: config, directory: directory, configFile: home.configFile.path) } catch {
            throw BusError.unavailable("\(service) is not configured in this home: \(error)")
        }
    }

    /// Serves until SIGTERM/SIGINT (or until the calling task is cancelled), then closes the sockets
    /// and the database. `services` run beside the Bus endpoints in the same group (an HTTP listener,
    /// say) and stop with them; `background` is the service's own work, cancelled first at shutdown
    /// (the group stops its services in reverse order) while the endpoints are still open.
    public func run(alongside services: [any Service] = [], background: [BackgroundWork] = []) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: BusEndpointsService(runtime: self))] + services.map { .init(service: $0) }
                + background.map { .init(service: $0, successTerminationBehavior: .ignore) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("serving", metadata: ["bus.rpc": "\(server.endpoint)", "bus.pub": "\(publisher.endpoint)", "bus.pid": "\(getpid())"])
        try await group.run()
        logger.info("stopped")
    }

    /// Closes the sockets (also what a graceful shutdown does).
    public func shutdown() async {
        health?.stop()
        await server.close()
        await publisher.close()
        await zap.stop()
        watcher.stop()
    }
}

/// The runtime as a swift-service-lifecycle `Service`: the request loop, the WAL checkpointer and
/// the dedup pruner run as child tasks of its `run`, so none outlives it; a graceful shutdown closes
/// the sockets (which ends the request loop) and cancels the others.
struct BusEndpointsService: Service {
    let runtime: ServiceRuntime

    func run() async throws {
        let server = runtime.server, runtime = self.runtime
        await withDiscardingTaskGroup { group in
            group.addTask { await server.run() }
            group.addTask { await runtime.checkpointer.run() }
            group.addTask { await runtime.pruneDedupRecords() }
            runtime.health?.start()
            try? await gracefulShutdown()
            await runtime.shutdown()
            group.cancelAll()
        }
    }
}
