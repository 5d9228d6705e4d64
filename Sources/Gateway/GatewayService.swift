import Bus
import Foundation
import Hummingbird
import Logging
import Synchronization

public enum Gateway {
    /// The largest request body the Gateway reads (larger: 413).
    public static let maxBodySize = 1 << 20
}

/// The Gateway (`agor serve gateway`): one authenticated HTTP door to every service. It is a Bus
/// client of btmsg, bttask and diagnostics with its own key and the delegate right, and acts for the
/// person who signed in (`on_behalf_of`), so each service applies that person's groups and role.
public final class GatewayService: Sendable {
    public static let name = "gateway"

    let runtime: ServiceRuntime
    let authenticator: Authenticator
    let bridge: BusBridge
    let sessions: SessionStore

    public static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: name, home: home) { GatewaySchema.register(in: &$0) }
        guard let http = runtime.config.service(name)?.http else {
            throw ConfigError(file: home.configFile.path, reason: "services.gateway needs http = \"127.0.0.1:9750\"")
        }
        let service = try GatewayService(runtime: runtime)
        runtime.logger.info("gateway listening", metadata: ["gateway.http": "http://\(http)"])
        try await runtime.run(alongside: [service.application(host: http.host, port: http.port)])
    }

    public init(runtime: ServiceRuntime) throws {
        self.runtime = runtime
        var clients: [String: RPCClient] = [:]
        for service in ["btmsg", "bttask", "diagnostics"] where runtime.config.service(service) != nil {
            clients[service] = try runtime.client(of: service)
        }
        bridge = BusBridge(clients: clients)
        sessions = SessionStore(database: runtime.database)
        authenticator = Authenticator(directory: runtime.directory, sessions: sessions, throttle: SignInThrottle())
    }

    /// The router: public routes, sign-in, and the API behind `AuthMiddleware`.
    func router() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(AuthMiddleware(authenticator: authenticator))
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/v1/me") { _, context -> Response in try GatewayService.me(try context.requirePerson()) }
        router.post("/v1/session") { [authenticator, sessions] request, context -> Response in
            if let seconds = authenticator.throttle.blockedFor(context.remoteAddress) { throw APIError.tooMany(retryAfter: seconds) }
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: 64 * 1024) } catch { throw APIError.tooLarge("the body is larger than 64 KiB") }
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                  let token = object["token"] as? String else {
                throw APIError.badRequest("send {\"token\": \"agor_...\"}")
            }
            guard let person = authenticator.person(forToken: token) else { try await authenticator.refuse(context.remoteAddress) }
            let id = try await sessions.open(for: person)
            var response = try GatewayService.me(person)
            response.headers[.setCookie] = "\(SessionStore.cookieName)=\(id); HttpOnly; SameSite=Strict; Path=/; Max-Age=\(SessionStore.lifetime / 1_000_000)"
            return response
        }
        router.delete("/v1/session") { [sessions] _, context -> Response in
            _ = try context.requirePerson()
            if let id = context.sessionId { try await sessions.close(id) }
            var headers = HTTPFields()
            headers[.setCookie] = "\(SessionStore.cookieName)=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
            return Response(status: .noContent, headers: headers)
        }
        APIRoutes(bridge: bridge).register(on: router)
        return router
    }

    func application(host: String, port: Int) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "agor-gateway"),
                    logger: runtime.logger)
    }

    static func me(_ person: Principal) throws -> Response {
        let object: [String: Any] = ["name": person.name, "kind": person.kind.rawValue, "groups": person.groups,
                                     "role": person.role.rawValue, "rights": person.rights.map(\.rawValue)]
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
