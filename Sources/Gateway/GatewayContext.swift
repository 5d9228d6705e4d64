import Bus
import Hummingbird
import NIOCore

/// A request as the Gateway handles it: who signed in (set by `AuthMiddleware`) and from where.
struct GatewayContext: Hummingbird.RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The signed-in person; nil only on the routes that need no sign-in.
    var person: Principal?
    /// The session cookie's id, when the person came by cookie.
    var sessionId: String?
    let remoteAddress: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Project files may be larger than API bodies; the API routes check their own limit.
    var maxUploadSize: Int { ProjectFiles.maxFileSize }

    func requirePerson() throws -> Principal {
        guard let person else { throw APIError.unauthorized }
        return person
    }
}
