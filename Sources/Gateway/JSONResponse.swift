import Foundation
import Hummingbird

/// The Gateway's JSON answers, built one way.
enum JSONResponse {
    static func make(_ body: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// A JSON object (keys sorted, so answers are stable).
    static func object(_ object: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        make(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])), status: status, headers: headers)
    }
}
