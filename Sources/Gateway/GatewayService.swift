import BttaskAPI
import Bus
import Foundation
import HomeConfig
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
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
    let hub: StreamHub

    public static func run(home: Home) async throws {
        let runtime = try ServiceRuntime(name: name, home: home) { GatewaySchema.register(in: &$0) }
        guard let http = runtime.config.service(name)?.http else {
            throw HomeError.config(file: home.configFile.path, reason: "services.gateway needs http = \"127.0.0.1:9750\"")
        }
        let service = try GatewayService(runtime: runtime)
        runtime.logger.info("gateway listening", metadata: ["gateway.http": "http://\(http)"])
        try await runtime.run(alongside: [service.application(host: http.host, port: http.port)])
    }

    public init(runtime: ServiceRuntime) throws {
        self.runtime = runtime
        var clients: [String: RPCClient] = [:]
        for service in StreamHub.servicePrefixes.keys.sorted() where runtime.config.service(service) != nil {
            clients[service] = try runtime.client(of: service)
        }
        bridge = BusBridge(clients: clients)
        sessions = SessionStore(database: runtime.database)
        authenticator = Authenticator(directory: runtime.directory, sessions: sessions, throttle: SignInThrottle())
        hub = try StreamHub(runtime: runtime, bridge: bridge)
    }

    /// The router: public routes, sign-in, and the API behind `AuthMiddleware`.
    func router() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        let limits = RequestLimits(requestsPerPerson: runtime.config.requestsPerPrincipal)
        router.middlewares.add(InFlightLimitMiddleware(limits: limits))
        router.middlewares.add(AuthMiddleware(authenticator: authenticator))
        router.middlewares.add(PersonRateMiddleware(limits: limits))
        router.get("/healthz") { _, _ in "ok\n" }
        // The dashboard: static files kept as resources, no build step.
        let dashboard = Bundle.module.resourceURL?.appendingPathComponent("Dashboard")
        func file(_ name: String, _ type: String) -> (@Sendable (Request, GatewayContext) async throws -> Response) {
            let data = dashboard.flatMap { try? Data(contentsOf: $0.appendingPathComponent(name)) } ?? Data()
            return { _, _ in
                var headers = HTTPFields()
                headers[.contentType] = type
                headers[.cacheControl] = "no-cache"
                headers[.contentSecurityPolicy] = "default-src 'self'; connect-src 'self' ws: wss:"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
        router.get("/", use: file("index.html", "text/html; charset=utf-8"))
        router.get("/dashboard/app.js", use: file("app.js", "text/javascript; charset=utf-8"))
        router.get("/dashboard/style.css", use: file("style.css", "text/css; charset=utf-8"))
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
        // Reached without a WebSocket upgrade (or when the upgrade was refused): say why.
        router.get("/v1/stream") { request, context -> Response in
            let person = try context.requirePerson()
            _ = try StreamRequest.parse(query: GatewayService.query(of: request.uri.description), person: person)
            throw APIError.badRequest("/v1/stream is a WebSocket: send the upgrade headers")
        }
        SettingsRoutes(home: runtime.home).register(on: router)
        let files = ProjectFiles(home: runtime.home), bridge = self.bridge
        router.get("/v1/projects") { [home = runtime.home] _, context -> Response in
            let person = try context.requirePerson()
            let projects = ((try? Projects.load(from: home)) ?? []).filter { person.isMember(of: $0.group) }
                .map { ["name": $0.name, "group": $0.group] }
            return try JSONResponse.object(["projects": projects])
        }
        router.get("/v1/projects/{project}/files/**") { _, context -> Response in
            let person = try context.requirePerson()
            let project = try files.project(context.parameters.require("project"), for: person)
            let (url, relative) = try files.resolve(project, segments: context.parameters.getCatchAll())
            return try files.get(url, relative: relative)
        }
        router.put("/v1/projects/{project}/files/**") { request, context -> Response in
            let person = try context.requirePerson()
            // Read the body before any refusal, so the connection stays usable for the next request.
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: ProjectFiles.maxFileSize) } catch { throw APIError.tooLarge("a file is at most 16 MiB") }
            let project = try files.project(context.parameters.require("project"), for: person)
            guard ProjectFiles.mayWrite(person) else { throw APIError.forbidden("a \(person.role.rawValue) may read project files, not write them") }
            let (url, relative) = try files.resolve(project, segments: context.parameters.getCatchAll())
            // A file someone else holds exclusively (bttask's file leases) is theirs to change.
            var held = Agor_Bttask_V1_LeaseListRequest()
            held.group = project.group
            held.project = project.name
            held.path = relative
            if let lease = try await bridge.call(BttaskMethods.leaseList, held, for: person, idempotent: true).leases
                .first(where: { $0.exclusive && $0.holder != person.name }) {
                let until = Date(timeIntervalSince1970: Double(lease.expiresUs) / 1e6).formatted(.iso8601)
                throw APIError(status: .conflict, code: "conflict",
                               message: "\(relative.prefix(200)) is held exclusively by \(lease.holder) (lease \(lease.id) on \(lease.path.prefix(200))) until \(until)")
            }
            return try files.put(url, relative: relative, body: body, ifMatch: request.headers[.ifMatch], ifNoneMatch: request.headers[.ifNoneMatch])
        }
        let api = APIRoutes(bridge: bridge)
        api.register(on: router)
        api.registerSessionEvents(on: router)
        let document = OpenAPIDocument.json(routes: api.table.withLock { $0 })
        router.get("/openapi.json") { _, _ -> Response in JSONResponse.make(ByteBuffer(bytes: document)) }
        return router
    }

    func application(host: String, port: Int) -> some ApplicationProtocol {
        let (authenticator, hub, bridge, directory) = (self.authenticator, self.hub, self.bridge, runtime.directory)
        let shouldUpgrade: @Sendable (HTTPRequest, any Channel, Logger) async throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> = { request, channel, _ in
                // Only a signed-in person with a valid request is upgraded. A refusal is answered
                // like every other route (401, 429, 400 or 403 with the JSON error body) by the
                // pipeline's ParseErrorCatcher, which NIO hands the declined upgrade to.
                let address = channel.remoteAddress?.ipAddress ?? "unknown"
                let refusal: APIError
                if request.path?.split(separator: "?").first != "/v1/stream" {
                    refusal = .notFound("no WebSocket at \(request.path?.prefix(80) ?? "")")
                } else if let seconds = authenticator.throttle.blockedFor(address) {
                    refusal = .tooMany(retryAfter: seconds)
                } else if let (person, _) = await authenticator.identify(request.headerFields) {
                    do {
                        let ask = try StreamRequest.parse(query: GatewayService.query(of: request.path ?? ""), person: person)
                        let session = StreamSession(hub: hub, bridge: bridge, directory: directory, person: person, request: ask, channel: channel)
                        return .upgrade([:]) { inbound, outbound, _ in try await session.run(inbound: inbound, outbound: outbound) }
                    } catch let error as APIError {
                        refusal = error
                    }
                } else if Authenticator.credential(in: request.headerFields) == .none {
                    refusal = .unauthorized
                } else {
                    // A wrong token counts against the address, as on every route.
                    do { try await authenticator.refuse(address) } catch let error as APIError { refusal = error }
                }
                try await channel.eventLoop.submit {
                    let catcher = try channel.pipeline.syncOperations.handler(type: ParseErrorCatcher.self)
                    catcher.upgradeRefusal = refusal
                }.get()
                return .dontUpgrade
        }
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(http1: .init(idleTimeout: .seconds(30)),
                                                                       ws: .init(autoPing: .enabled(timePeriod: .seconds(20))))
        return Application(
            router: router(),
            server: HTTPServerBuilder { responder in
                MalformedRequestGuard(inner: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration, shouldUpgrade: shouldUpgrade))
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "agor-gateway"),
            logger: runtime.logger)
    }

    static func query(of uri: String) -> [String: String] {
        var query: [String: String] = [:]
        for item in URLComponents(string: uri)?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        return query
    }

    static func me(_ person: Principal) throws -> Response {
        try JSONResponse.object(["name": person.name, "kind": person.kind.rawValue, "groups": person.groups,
                                 "role": person.role.rawValue, "rights": person.rights.map(\.rawValue)])
    }
}
