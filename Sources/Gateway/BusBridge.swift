import Bus
import Foundation
import Hummingbird
import SwiftProtobuf

/// REST to Bus: a JSON body (plus path and query parameters) becomes the method's protobuf request
/// (field names as in proto/, unknown fields refused), the call goes to the service on behalf of the
/// signed-in person, and the protobuf reply comes back as JSON. Service refusals keep their meaning
/// (`APIError(BusError)`).
struct BusBridge: Sendable {
    let clients: [String: RPCClient]

    static let encoding: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        options.alwaysPrintInt64sAsNumbers = true
        return options
    }()

    static func json(_ message: some SwiftProtobuf.Message, status: HTTPResponse.Status = .ok) throws -> Response {
        JSONResponse.make(ByteBuffer(string: try message.jsonString(options: encoding)), status: status)
    }

    /// Builds a request message from the body (a JSON object, or nothing) with `fields` laid over it.
    static func decode<T: SwiftProtobuf.Message>(_ type: T.Type, body: ByteBuffer?, fields: [String: Any]) throws -> T {
        // The body is read once, straight into the message; the query and path values (a few
        // scalars) are a message of their own, merged over it: a value there replaces the body's
        // (one equal to the field's default, such as `false` or "", is not sent, so it does not).
        var message = T()
        do {
            if let body, body.readableBytes > 0 {
                message = try T(jsonUTF8Data: Data(buffer: body), options: JSONDecodingOptions())
            }
            if !fields.isEmpty {
                let overrides = try T(jsonUTF8Data: try JSONSerialization.data(withJSONObject: fields), options: JSONDecodingOptions())
                try message.merge(serializedBytes: try overrides.serializedBytes() as [UInt8])
            }
        } catch {
            throw APIError.badRequest("not a valid \(T.protoMessageName) (a JSON object, fields as in proto/, snake_case): \(error)")
        }
        return message
    }

    /// Query parameters as JSON values: true/false and integers typed, the rest strings.
    static func fields(of query: [(String, String)]) -> [String: Any] {
        var fields: [String: Any] = [:]
        for (key, value) in query {
            if value == "true" { fields[key] = true } else if value == "false" { fields[key] = false } else if let n = Int64(value), String(n) == value {
                fields[key] = n
            } else { fields[key] = value }
        }
        return fields
    }

    /// Calls `method` of `service` for `person` and returns the reply.
    /// `service`: for the methods every service serves (`BusMethods`), which one.
    func call<Q, R>(_ method: Method<Q, R>, _ request: Q, on service: String? = nil, for person: Principal,
                    idempotent: Bool) async throws -> R {
        let service = service ?? method.service
        guard let client = clients[service] else {
            throw APIError(status: .serviceUnavailable, code: "unavailable", message: "\(service) is not configured")
        }
        do {
            return try await client.call(method, request, options: .init(timeout: .seconds(5), idempotent: idempotent, onBehalfOf: person.name))
        } catch let error as BusError {
            throw APIError(error, service: service)
        }
    }
}
