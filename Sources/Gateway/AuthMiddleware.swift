import Hummingbird

/// Lets the public routes through (the dashboard's files, /healthz, /openapi.json, signing in) and
/// requires a signed-in person for everything else.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let authenticator: Authenticator

    static func isPublic(_ request: Request) -> Bool {
        let path = request.uri.path
        if request.method == .post && path == "/v1/session" { return true }
        if request.method == .get || request.method == .head {
            return path == "/" || path == "/healthz" || path == "/openapi.json" || path.hasPrefix("/dashboard/")
        }
        return false
    }

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        if AuthMiddleware.isPublic(request) { return try await next(request, context) }
        var context = context
        let (person, session) = try await authenticator.authenticate(request.headers, address: context.remoteAddress)
        context.person = person
        context.sessionId = session
        return try await next(request, context)
    }
}
