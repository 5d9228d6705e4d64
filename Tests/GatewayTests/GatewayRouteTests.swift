import AgorKit
import AgorTestSupport
import Bus
import Foundation
import HomeConfig
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Gateway

/// The Gateway's routes in this process through Hummingbird's router test framework (no socket,
/// no other service running), beside the process tests that run them over tcp: sign-in, the
/// refusals' JSON bodies and statuses, the public routes.
final class GatewayRouteBed: Bed {
    let home: Home
    let runtime: ServiceRuntime
    let service: GatewayService
    let token: String

    init() throws {
        home = Home(root: FileManager.default.temporaryDirectory.appendingPathComponent("gw-route-\(UUID().uuidString.prefix(8))"))
        let setup = HomeSetup(home: home)
        _ = try setup.initialize(portBase: LoopbackPorts.freeBase(count: 14))
        token = try setup.addUser(name: "ann", group: "web", role: .worker, writeKey: false).token
        runtime = try ServiceRuntime(name: GatewayService.name, home: home) { GatewaySchema.register(in: &$0) }
        service = try GatewayService(runtime: runtime)
    }

    func test<Value>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await Application(router: service.router()).test(.router, body)
    }

    func close() async {
        await runtime.shutdown()
        try? FileManager.default.removeItem(at: home.root)
    }
}

@Suite(.serialized) struct GatewayRouteTests {
    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
    }

    @Test func publicRoutesAnswerWithoutSignIn() async throws {
        try await withBed(GatewayRouteBed()) { bed in
            try await bed.test { client in
                let health = try await client.execute(uri: "/healthz", method: .get)
                #expect(health.status == .ok && String(buffer: health.body) == "ok\n")
                let page = try await client.execute(uri: "/", method: .get)
                #expect(page.status == .ok && page.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                let document = try await client.execute(uri: "/openapi.json", method: .get)
                #expect(document.status == .ok && GatewayRouteTests.json(document)["paths"] is [String: Any])
            }
        }
    }

    @Test func theAPIRefusesWhoIsNotSignedInWithA401JSONBody() async throws {
        try await withBed(GatewayRouteBed()) { bed in
            try await bed.test { client in
                for (uri, headers) in [("/v1/me", HTTPFields()), ("/v1/me", [.authorization: "Bearer agor_wrong"]),
                                       ("/v1/projects", [.authorization: "Basic YW5uOng="])] as [(String, HTTPFields)] {
                    let refused = try await client.execute(uri: uri, method: .get, headers: headers)
                    #expect(refused.status == .unauthorized, "\(uri) \(headers)")
                    #expect(GatewayRouteTests.json(refused)["error"] != nil, "\(String(buffer: refused.body))")
                }
            }
        }
    }

    @Test func aBearerTokenAndASessionCookieSignIn() async throws {
        try await withBed(GatewayRouteBed()) { bed in
            let token = bed.token
            try await bed.test { client in
                let me = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(me.status == .ok && GatewayRouteTests.json(me)["name"] as? String == "ann")
                // Sign-in: a cookie that then stands for the token; refusals for bad bodies and wrong tokens.
                let signIn = try await client.execute(uri: "/v1/session", method: .post, body: ByteBuffer(string: #"{"token": "\#(token)"}"#))
                #expect(signIn.status == .ok)
                let cookie = try #require(signIn.headers[.setCookie]?.split(separator: ";").first.map(String.init))
                let byCookie = try await client.execute(uri: "/v1/me", method: .get, headers: [.cookie: cookie])
                #expect(byCookie.status == .ok && GatewayRouteTests.json(byCookie)["name"] as? String == "ann")
                for body in ["not json", #"{"tok": 1}"#, "[]"] {
                    let bad = try await client.execute(uri: "/v1/session", method: .post, body: ByteBuffer(string: body))
                    #expect(bad.status == .badRequest, "\(body)")
                }
                let wrong = try await client.execute(uri: "/v1/session", method: .post, body: ByteBuffer(string: #"{"token": "agor_nope"}"#))
                #expect(wrong.status == .unauthorized)
                // Signing out ends the cookie.
                let out = try await client.execute(uri: "/v1/session", method: .delete, headers: [.cookie: cookie])
                #expect(out.status == .noContent)
                #expect(try await client.execute(uri: "/v1/me", method: .get, headers: [.cookie: cookie]).status == .unauthorized)
            }
        }
    }

    @Test func signedInRequestsOutsideThePersonsReachAreRefusedAndTyped() async throws {
        try await withBed(GatewayRouteBed()) { bed in
            let auth: HTTPFields = [.authorization: "Bearer \(bed.token)"]
            try await bed.test { client in
                // The stream without an upgrade: 400 for a valid request, 403 for a group not hers.
                let plain = try await client.execute(uri: "/v1/stream", method: .get, headers: auth)
                #expect(plain.status == .badRequest && GatewayRouteTests.json(plain)["error"] != nil)
                let foreign = try await client.execute(uri: "/v1/stream?groups=ops", method: .get, headers: auth)
                #expect(foreign.status == .forbidden)
                let badCursor = try await client.execute(uri: "/v1/stream?cursor=nonsense", method: .get, headers: auth)
                #expect(badCursor.status == .badRequest)
                // No projects in this home; a project that is not there is not found, never a 5xx.
                let projects = try await client.execute(uri: "/v1/projects", method: .get, headers: auth)
                #expect(projects.status == .ok && (GatewayRouteTests.json(projects)["projects"] as? [Any])?.isEmpty == true)
                let file = try await client.execute(uri: "/v1/projects/nope/files/a.txt", method: .get, headers: auth)
                #expect(file.status == .notFound || file.status == .forbidden, "\(file.status)")
                let nowhere = try await client.execute(uri: "/v1/nowhere", method: .get, headers: auth)
                #expect(nowhere.status == .notFound)
            }
        }
    }
}
