import Bus
import Hummingbird
import Synchronization

/// The limits that keep a flood of HTTP requests from growing the Gateway's memory or crowding out
/// other people: at most `maxInFlight` requests are handled at once (each holds at most its body,
/// 1 MiB for the API, 16 MiB for a file, of which at most `maxUploads` are taken at once), and each
/// signed-in person gets the bus's per-principal rate (`[bus] requests_per_principal_s`), since
/// the services behind do not throttle the Gateway. Refusals are immediate: 503 `busy` and 429,
/// both with Retry-After. WebSocket streams are not requests here; their bound is per client
/// (StreamHub).
///
/// The first of the two, before signing in (so a flood of wrong tokens counts too).
struct InFlightLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    static let maxInFlight = 256
    static let maxUploads = 4

    let limits: RequestLimits

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        let upload = request.method == .put && request.uri.path.hasPrefix("/v1/projects/")
        guard limits.enter(upload: upload) else { throw APIError.busy }
        defer { limits.leave(upload: upload) }
        return try await next(request, context)
    }
}

/// The second, once the person is known.
struct PersonRateMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let limits: RequestLimits

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        if let person = context.person, !limits.perPerson.take(person.name) { throw APIError.tooFast }
        return try await next(request, context)
    }
}

/// The counters behind both middlewares, shared by every connection.
final class RequestLimits: Sendable {
    let perPerson: RequestThrottle
    private let inFlight = Atomic<Int>(0)
    private let uploads = Atomic<Int>(0)

    init(requestsPerPerson: Int64) { perPerson = RequestThrottle(perSecond: requestsPerPerson) }

    /// Takes a place for one request (and an upload's place); false when there is none.
    func enter(upload: Bool) -> Bool {
        guard inFlight.add(1, ordering: .acquiringAndReleasing).newValue <= InFlightLimitMiddleware.maxInFlight else {
            inFlight.subtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        guard upload else { return true }
        guard uploads.add(1, ordering: .acquiringAndReleasing).newValue <= InFlightLimitMiddleware.maxUploads else {
            uploads.subtract(1, ordering: .acquiringAndReleasing)
            inFlight.subtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        return true
    }

    func leave(upload: Bool) {
        if upload { uploads.subtract(1, ordering: .acquiringAndReleasing) }
        inFlight.subtract(1, ordering: .acquiringAndReleasing)
    }
}
