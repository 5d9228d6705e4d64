import Foundation

/// The OpenAPI 3 document served at /openapi.json, built from the same route table the router
/// uses (`APIRoutes.table`), so it cannot drift from what the Gateway answers. Bodies and replies
/// are the JSON forms of the protobuf messages named in each operation (proto/, snake_case fields).
enum OpenAPIDocument {
    struct Route: Sendable {
        var method: String
        var path: String
        var summary: String
        var requestMessage: String?
        var replyMessage: String
        var status: Int
    }

    /// The routes that are not Bus bridges.
    static let ownRoutes: [Route] = [
        Route(method: "get", path: "/healthz", summary: "Liveness (no sign-in)", requestMessage: nil, replyMessage: "text", status: 200),
        Route(method: "get", path: "/v1/me", summary: "The signed-in person", requestMessage: nil, replyMessage: "Me", status: 200),
        Route(method: "get", path: "/v1/settings", summary: "Every effective setting with its level (?project= or ?group= of yours; else global)",
              requestMessage: nil, replyMessage: "object", status: 200),
        Route(method: "get", path: "/v1/settings/{key}", summary: "One setting's effective value and level (?project= or ?group=)",
              requestMessage: nil, replyMessage: "object", status: 200),
        Route(method: "post", path: "/v1/session", summary: "Sign in with a token: sets the HttpOnly session cookie",
              requestMessage: "SignIn", replyMessage: "Me", status: 200),
        Route(method: "delete", path: "/v1/session", summary: "Sign out: clears the session", requestMessage: nil, replyMessage: "none", status: 204),
        Route(method: "get", path: "/v1/projects", summary: "The projects of the person's groups", requestMessage: nil,
              replyMessage: "object", status: 200),
        Route(method: "get", path: "/v1/projects/{project}/files/{path}", summary: "A file (ETag: its SHA-256) or a folder's listing",
              requestMessage: nil, replyMessage: "file", status: 200),
        Route(method: "put", path: "/v1/projects/{project}/files/{path}",
              summary: "Write a file: If-Match with the ETag read (412 with the current one if it changed), If-None-Match: * to create",
              requestMessage: "file", replyMessage: "none", status: 200),
        Route(method: "get", path: "/v1/sessions/{id}/events",
              summary: "A session's events from ?from=N (inclusive, default 1), at most ?limit= (default 500): {events, head_seq}",
              requestMessage: nil, replyMessage: "object", status: 200),
        Route(method: "get", path: "/v1/stream", summary: "WebSocket upgrade: events of every service the person may see (see docs/GATEWAY.md)",
              requestMessage: nil, replyMessage: "none", status: 101),
    ]

    static func json(routes: [Route]) -> Data {
        var paths: [String: [String: Any]] = [:]
        for route in ownRoutes + routes {
            var operation: [String: Any] = ["summary": route.summary, "operationId": "\(route.method)_\(route.path)"]
            let publicRoute = route.path == "/healthz" || (route.path == "/v1/session" && route.method == "post")
            if publicRoute { operation["security"] = [[String: Any]]() }
            let parameters = pathParameters(route.path).map { name -> [String: Any] in
                ["name": name, "in": "path", "required": true, "schema": ["type": "string"]]
            }
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if route.requestMessage == "file" {
                operation["requestBody"] = ["required": true, "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]]
                // If-Match / If-None-Match are described in the summary rather than declared: a generated
                // header value with control characters is refused by the HTTP layer, not the API.
            } else if let message = route.requestMessage {
                operation["requestBody"] = ["required": message == "SignIn",
                                            "content": ["application/json": ["schema": schema(for: message)]]]
            }
            var responses: [String: Any] = [:]
            switch route.replyMessage {
            case "none": responses["\(route.status)"] = ["description": "done"]
            case "text": responses["\(route.status)"] = ["description": "ok", "content": ["text/plain": ["schema": ["type": "string"]]]]
            case "object": responses["\(route.status)"] = ["description": "ok", "content": ["application/json": ["schema": ["type": "object"]]]]
            case "file":
                responses["\(route.status)"] = ["description": "the file, or a folder's listing",
                                                "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]],
                                                            "application/json": ["schema": ["type": "object"]]]]
            default:
                responses["\(route.status)"] = ["description": route.replyMessage,
                                                "content": ["application/json": ["schema": schema(for: route.replyMessage)]]]
            }
            let errors: [Int: String] = [400: "bad input", 401: "not signed in", 403: "not in the group or role", 404: "not found",
                                         409: "version conflict", 413: "body too large", 429: "too many wrong tokens, or too many requests",
                                         503: "the service behind is down, or the Gateway is busy"]
            var routeErrors = errors
            if route.requestMessage == "file" {
                routeErrors[412] = "the file changed since it was read (ETag: the current hash), or exists already"
                routeErrors[428] = "the file exists: send If-Match"
                responses["201"] = ["description": "created"]
            }
            for (code, text) in routeErrors where !(publicRoute && route.path == "/healthz") {
                responses["\(code)"] = ["description": text, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
            }
            operation["responses"] = responses
            paths[route.path, default: [:]][route.method] = operation
        }
        let document: [String: Any] = [
            "openapi": "3.0.3",
            "info": ["title": "agor gateway", "version": "1",
                     "description": "REST over agor's services, acting for the signed-in person. Message bodies are the JSON forms of the protobuf messages in proto/ (snake_case)."],
            "paths": paths,
            "components": [
                // Browsers use the session cookie from POST /v1/session instead (docs/GATEWAY.md).
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "schemas": [
                    "Error": ["type": "object", "required": ["error"],
                              "properties": ["error": ["type": "object", "required": ["code", "message"],
                                                       "properties": ["code": ["type": "string"], "message": ["type": "string"]]]]],
                    "Me": ["type": "object", "required": ["name", "kind", "groups", "role"],
                           "properties": ["name": ["type": "string"], "kind": ["type": "string"], "role": ["type": "string"],
                                          "groups": ["type": "array", "items": ["type": "string"]],
                                          "rights": ["type": "array", "items": ["type": "string"]]]],
                    "SignIn": ["type": "object", "required": ["token"], "properties": ["token": ["type": "string"]]],
                ],
            ],
            "security": [["bearer": [String]()]],
        ]
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    }

    static func schema(for message: String) -> [String: Any] {
        if ["Me", "SignIn", "Error"].contains(message) { return ["$ref": "#/components/schemas/\(message)"] }
        return ["type": "object", "description": "JSON form of \(message)"]
    }

    static func pathParameters(_ path: String) -> [String] {
        path.split(separator: "/").compactMap { $0.hasPrefix("{") && $0.hasSuffix("}") ? String($0.dropFirst().dropLast()) : nil }
    }
}
