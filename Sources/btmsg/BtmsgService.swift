import BtmsgAPI
import Bus
import Foundation
import GRDB
import HomeConfig
import Logging
import SwiftProtobuf
import Synchronization

/// The btmsg service: its handlers on a `ServiceRuntime` (CURVE ROUTER + sequenced PUB + SQLite).
/// The caller is always `RequestContext.principal` (the authenticated key, or whom a delegate names);
/// no name in a body ever says who is asking. Methods are listed in docs/BTMSG.md.
public final class BtmsgService: Sendable {
    let runtime: ServiceRuntime
    let database: DatabasePool
    let directory: Directory
    let publisher: SequencedPublisher
    let batcher: GroupCommit
    let presence: PresenceTracker
    let pruner: RetentionPruner
    let logger: Logger
    private let ensuredGroups = Mutex<Set<String>>([])

    public static let name = "btmsg"

    public static func register(in migrator: inout DatabaseMigrator) { BtmsgSchema.register(in: &migrator) }

    /// Runs the service from the home until SIGTERM/SIGINT.
    public static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: name, home: home) { BtmsgSchema.register(in: &$0) }
        let text = (try? String(contentsOf: home.configFile, encoding: .utf8)) ?? ""
        // config.toml's [btmsg.retention], overridden by the settings cascade (settings.toml).
        let retention = try RetentionConfig.parse(text, file: home.configFile.path).overlaid(with: Settings.load(from: home))
        let service = BtmsgService(runtime: runtime, retention: retention)
        try await runtime.run(background: service.background)
        service.stop()
    }

    public init(runtime: ServiceRuntime, retention: RetentionConfig) {
        self.runtime = runtime
        database = runtime.database
        directory = runtime.directory
        publisher = runtime.publisher
        logger = runtime.logger
        presence = PresenceTracker(publisher: runtime.publisher)
        let pruner = RetentionPruner(database: runtime.database, config: retention, logger: runtime.logger)
        self.pruner = pruner
        let limitsCounts = retention.limitsCounts
        // The search index is filled once per batch (see BtmsgSchema).
        batcher = GroupCommit(publisher: runtime.publisher,
                              beginBatch: { db in try MessageStore.lastSeq(db) },
                              endBatch: { db, lastSeq in try MessageStore.indexNewMessages(db, after: lastSeq) },
                              afterCommit: { if limitsCounts { pruner.nudge() } })
        registerHandlers()
    }

    /// The background work, run by the runtime's service group: retention, the presence sweep, and
    /// the system channels of every group (once).
    public var background: [BackgroundWork] {
        let pruner = self.pruner, presence = self.presence, directory = self.directory
        return [
            BackgroundWork("retention") { await pruner.run() },
            BackgroundWork("presence sweep") { await presence.sweep(directory: directory) },
            BackgroundWork("system channels") { for group in directory.groups { try? await self.ensureSystemChannels(group) } },
        ]
    }

    public func stop() {
        let (batches, sends) = batcher.statistics
        logger.info("stopping", metadata: ["btmsg.send_batches": "\(batches)", "btmsg.sends": "\(sends)"])
        pruner.stop()
    }

    // MARK: plumbing

    /// Registers a handler that also notes the caller's presence.
    func handle<Q, R>(_ method: Method<Q, R>, _ handler: @escaping @Sendable (RequestContext, Q) async throws -> R) {
        let presence = self.presence
        runtime.server.register(method) { context, request in
            presence.touch(context.principal)
            return try await handler(context, request)
        }
    }

    /// Registers a write method served in the writer loop, noting the caller's presence.
    func handleWrite<Q, R>(_ method: Method<Q, R>, _ prepare: @escaping @Sendable (RequestContext, Q) throws -> GroupCommit.Work) {
        let presence = self.presence
        runtime.server.registerWrite(method, through: batcher) { context, request in
            presence.touch(context.principal)
            return try prepare(context, request)
        }
    }

    static func limit(_ requested: Int32, default value: Int, max: Int = 1000) throws -> Int {
        guard requested >= 0 else { throw BusError.badRequest("limit must not be negative") }
        return requested == 0 ? value : min(Int(requested), max)
    }

    /// Creates `review-queue` and `review-log` in a group once.
    func ensureSystemChannels(_ group: String) async throws {
        guard !ensuredGroups.withLock({ $0.contains(group) }) else { return }
        try await publisher.write { db, events in
            for name in BtmsgRules.systemChannels {
                let (channel, created) = try MessageStore.createChannel(db, group: group, name: name, owner: "system", system: true, open: false)
                if created {
                    var event = Agor_Btmsg_V1_Event()
                    event.channelCreated = channel.proto()
                    try events.append(stream: BtmsgRules.stream(of: group), type: "channel.created", body: try event.serializedBytes())
                }
            }
        }
        ensuredGroups.withLock { _ = $0.insert(group) }
    }

    func ensureSystemChannels(for principal: Principal) async throws {
        for group in principal.groups where directory.groups.contains(group) { try await ensureSystemChannels(group) }
    }

    private func registerHandlers() {
        registerMessaging()
        registerQueries()
        registerChannels()
        registerPeople()
        publisher.serveReplay(on: runtime.server) { principal, stream in BtmsgRules.mayReadStream(principal, stream: stream) }
        publisher.restrictSubscriptions { principal, prefix in BtmsgRules.maySubscribe(principal, prefix: prefix) }
    }
}
