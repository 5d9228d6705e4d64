import ServiceLifecycle

/// A service's own background loop (a retention pruner, a presence sweep, an outbox, a sampler) as
/// a `Service` of the process's one ServiceGroup (`ServiceRuntime.run(background:)`): it starts when
/// the group runs, is cancelled at graceful shutdown or when the group is cancelled, and so never
/// outlives the service. Work that ends by itself (a one-time setup) ends without stopping the group.
public struct BackgroundWork: Service {
    public let name: String
    private let body: @Sendable () async -> Void

    public init(_ name: String, _ body: @escaping @Sendable () async -> Void) {
        self.name = name
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown(body)
    }
}
