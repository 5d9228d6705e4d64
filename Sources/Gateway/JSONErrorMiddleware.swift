import Hummingbird

/// Errors raised outside the API's own handlers (no such route, a malformed request) answer in
/// the same JSON shape as every other refusal.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = GatewayContext

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: throw APIError.notFound("no route \(request.method) \(request.uri.path.prefix(200))")
            case .methodNotAllowed: throw APIError(status: .methodNotAllowed, code: "method_not_allowed", message: "\(request.method) is not allowed here")
            case .contentTooLarge: throw APIError.tooLarge("the body is too large")
            case .badRequest: throw APIError.badRequest(error.body ?? "bad request")
            default: throw APIError(status: error.status, code: "error", message: error.body ?? "\(error.status)")
            }
        }
    }
}
