import GRDB
import SwiftProtobuf

/// One method of a service's wire API: its name, the messages it takes and returns, whether it
/// changes anything, and which roles may call it. A service's API module declares each method once;
/// the server registers its handler with it and every client calls through it, so the method's
/// name and types are written in one place.
public struct Method<Request: SwiftProtobuf.Message, Reply: SwiftProtobuf.Message>: MethodDescription {
    public typealias Effect = MethodEffect

    /// The service that serves it (its name in config.toml and the directory).
    public let service: String
    /// The name on the wire, `service.verb`.
    public let name: String
    public let effect: Effect
    /// The roles that may call it; nil: every role (the handler may still refuse).
    public let roles: Set<Role>?
    /// One line for docs and the OpenAPI document.
    public let summary: String

    public init(_ service: String, _ name: String, _ effect: Effect, roles: Set<Role>? = nil, summary: String) {
        self.service = service
        self.name = name
        self.effect = effect
        self.roles = roles
        self.summary = summary
    }

    /// Refuses a caller whose role the method does not take.
    public func admit(_ principal: Principal) throws {
        guard let roles, !roles.contains(principal.role) else { return }
        let names = roles.map(\.rawValue).sorted().joined(separator: ", ")
        throw BusError.forbidden("\(name) is for \(names); \(principal.name) is a \(principal.role.rawValue)")
    }

    public func decodeRequest(_ body: [UInt8]) throws -> Request {
        try RequestChecks.decode(Request.self, body)
    }

    public func checkRequest(_ body: [UInt8]) throws { _ = try decodeRequest(body) }

    public func decodeReply(_ body: [UInt8]) throws -> Reply {
        do { return try Reply(serializedBytes: body) } catch {
            throw BusError.badRequest("reply to \(name) is not a valid \(Reply.protoMessageName)")
        }
    }
}

public enum MethodEffect: Sendable {
    /// Changes nothing: safe to ask again.
    case read
    /// Changes state: a client sends every attempt under one request id, and the server applies it once.
    case change
}

/// What a method is, without its message types: for lists of a service's methods (its API module's
/// `all`), docs and tests.
public protocol MethodDescription: Sendable {
    var service: String { get }
    var name: String { get }
    var effect: MethodEffect { get }
    var roles: Set<Role>? { get }
    var summary: String { get }
    /// Decodes a request body as the server would, throwing its typed refusal (fuzzing, tests).
    func checkRequest(_ body: [UInt8]) throws
}

extension RPCServer {
    /// Registers `handler` for `method`: the request is decoded and the role checked before it runs,
    /// and its reply encoded after.
    public func register<Q, R>(_ method: Method<Q, R>,
                               _ handler: @escaping @Sendable (RequestContext, Q) async throws -> R) {
        register(method.name) { context, body in
            try method.admit(context.principal)
            return try await handler(context, method.decodeRequest(body)).serializedBytes()
        }
    }

    /// The typed form of `registerWrite`: `prepare` gets the decoded request (role checked) and returns
    /// the work for the next batch transaction. The work returns the encoded reply, because that is
    /// what the dedup record keeps (`RequestDedup.once`): the hot path encodes its reply once.
    public func registerWrite<Q, R>(_ method: Method<Q, R>, through commit: GroupCommit,
                                    _ prepare: @escaping @Sendable (RequestContext, Q) throws -> GroupCommit.Work) {
        registerWrite(method.name, through: commit) { context, body in
            try method.admit(context.principal)
            return try prepare(context, method.decodeRequest(body))
        }
    }
}

extension RPCClient {
    /// Calls `method`. A change keeps one request id for every attempt (`options.requestId`, else a
    /// fresh time-ordered id), so the server applies a retried change once.
    public func call<Q, R>(_ method: Method<Q, R>, _ request: Q, options: CallOptions = .init()) async throws -> R {
        var options = options
        if method.effect == .change, options.idempotent, options.requestId == nil {
            options.requestId = RandomID.timeOrdered()
        }
        let reply = try await call(method.name, try request.serializedBytes(), options: options)
        return try method.decodeReply(reply)
    }

    /// Calls `method` as its effect allows, answered within `timeout`: a read is asked once; a
    /// change is sent up to three times (each with a third of the time) under one request id, so a
    /// retry is applied once. What the command lines and `agor mcp` use.
    public func call<Q, R>(_ method: Method<Q, R>, _ request: Q, within timeout: Duration) async throws -> R {
        switch method.effect {
        case .read:
            return try await call(method, request, options: .init(timeout: timeout, idempotent: true, retries: 0))
        case .change:
            return try await call(method, request, options: .init(timeout: timeout / 3, idempotent: true, retries: 2))
        }
    }
}
