import Bus
import Foundation
import Hummingbird

/// Every refusal the Gateway answers: JSON `{"error": {"code": "...", "message": "..."}}` with the
/// status that says what went wrong.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var headers: HTTPFields = [:]

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, code: "bad_request", message: message) }
    static let unauthorized = APIError(status: .unauthorized, code: "unauthenticated",
                                       message: "sign in: send Authorization: Bearer TOKEN, or POST /v1/session from the dashboard")
    static func forbidden(_ message: String) -> APIError { APIError(status: .forbidden, code: "forbidden", message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "not_found", message: message) }
    static func tooLarge(_ message: String) -> APIError { APIError(status: .contentTooLarge, code: "too_large", message: message) }
    static func tooMany(retryAfter seconds: Int) -> APIError {
        var error = APIError(status: .tooManyRequests, code: "too_many_requests",
                             message: "too many wrong tokens from this address; try again in \(seconds) s")
        error.headers[.retryAfter] = "\(seconds)"
        return error
    }
    /// A person past the per-person request rate (`[bus] requests_per_principal_s`).
    static let tooFast: APIError = {
        var error = APIError(status: .tooManyRequests, code: "too_many_requests",
                             message: "more requests a second than this server allows one person; slow down")
        error.headers[.retryAfter] = "1"
        return error
    }()
    /// More requests at once than the Gateway handles (their bodies are what it holds in memory).
    static let busy: APIError = {
        var error = APIError(status: .serviceUnavailable, code: "busy",
                             message: "the Gateway is handling as many requests as it takes at once; try again")
        error.headers[.retryAfter] = "1"
        return error
    }()

    /// A service's refusal, with the status its code stands for; unreachable services are 503.
    init(_ error: BusError, service: String) {
        switch error.errorCode {
        case .badRequest, .unsupportedVersion: self.init(status: .badRequest, code: "bad_request", message: error.message)
        case .unauthenticated: self.init(status: .unauthorized, code: "unauthenticated", message: error.message)
        case .forbidden: self.init(status: .forbidden, code: "forbidden", message: error.message)
        case .notFound: self.init(status: .notFound, code: "not_found", message: error.message)
        case .conflict: self.init(status: .conflict, code: "conflict", message: error.message)
        case .tooLarge: self.init(status: .contentTooLarge, code: "too_large", message: error.message)
        case .unavailable, .timeout:
            self.init(status: .serviceUnavailable, code: "unavailable", message: "\(service) is not answering: \(error.message)")
        default: self.init(status: .internalServerError, code: "internal", message: error.message)
        }
    }

    init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some Hummingbird.RequestContext) throws -> Response {
        try JSONResponse.object(["error": ["code": code, "message": message]], status: status, headers: headers)
    }
}
