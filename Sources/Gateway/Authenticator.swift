import Bus
import Foundation
import HomeConfig
import HTTPTypes

/// Who is asking: a bearer token (`Authorization: Bearer agor_...`) or the session cookie a
/// browser got from `POST /v1/session`, checked against the directory on every request, so a
/// revocation or a new token ends access at once. Wrong tokens are throttled per address.
struct Authenticator: Sendable {
    let directory: Directory
    let sessions: SessionStore
    let throttle: SignInThrottle

    enum Credential: Equatable {
        case token(String)
        case session(String)
        case none
    }

    static func credential(in headers: HTTPFields) -> Credential {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? .token(String(parts[1]).trimmingCharacters(in: .whitespaces)) : .token("")
        }
        for cookieLine in headers[values: .cookie] {
            for pair in cookieLine.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2 && kv[0] == SessionStore.cookieName { return .session(String(kv[1])) }
            }
        }
        return .none
    }

    /// The person a token belongs to, if it is well-formed, known, and a person's.
    func person(forToken token: String) -> Principal? {
        guard GatewayToken.isWellFormed(token), let principal = directory.principal(forTokenHash: GatewayToken.hash(token)),
              principal.kind == .person else { return nil }
        return principal
    }

    /// The person behind the request's credential and the session id (cookie sign-ins), or nil.
    /// Counts nothing: the WebSocket upgrade asks this first and leaves refusals to `authenticate`.
    func identify(_ headers: HTTPFields) async -> (Principal, String?)? {
        switch Authenticator.credential(in: headers) {
        case .none:
            return nil
        case .token(let token):
            return person(forToken: token).map { ($0, nil) }
        case .session(let id):
            guard let (name, tokenHash) = try? await sessions.lookup(id), let person = directory.principal(named: name),
                  person.kind == .person, person.tokenHash == tokenHash else { return nil }
            return (person, id)
        }
    }

    /// The signed-in person and the session id. Throws 401 without a valid credential (a wrong
    /// one is counted by the throttle), 429 while the address is blocked.
    func authenticate(_ headers: HTTPFields, address: String) async throws -> (Principal, String?) {
        if let seconds = throttle.blockedFor(address) { throw APIError.tooMany(retryAfter: seconds) }
        if let found = await identify(headers) { return found }
        if Authenticator.credential(in: headers) == .none { throw APIError.unauthorized }
        try await refuse(address)
    }

    /// Counts a wrong credential, holds the answer back as the throttle says, then refuses.
    func refuse(_ address: String) async throws -> Never {
        let delay = throttle.failed(address)
        if delay > .zero { try? await Task.sleep(for: delay) }
        if let seconds = throttle.blockedFor(address) { throw APIError.tooMany(retryAfter: seconds) }
        throw APIError.unauthorized
    }
}
