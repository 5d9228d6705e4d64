import SwiftProtobuf

/// Checks every service makes on a request, each failing with the BusError a client expects.
public enum RequestChecks {
    /// Decodes a protobuf request body, or fails with 400.
    public static func decode<T: SwiftProtobuf.Message>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do { return try T(serializedBytes: body) } catch {
            throw BusError.badRequest("body is not a valid \(T.protoMessageName)")
        }
    }

    /// Whether `id` is a full id as the wire takes them: a 36-character lowercase UUID.
    public static func isFullId(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard bytes.count == 36 else { return false }
        for (i, c) in bytes.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != 0x2D { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
                return false
            }
        }
        return true
    }

    public static func requireFullId(_ id: String, _ what: String) throws {
        guard isFullId(id) else {
            throw BusError.badRequest("\(what) must be a full id (36-character lowercase UUID), got '\(id.prefix(40))'")
        }
    }

    /// The group a caller acts in: the one it names (it must be a member), else its only group.
    public static func group(of principal: Principal, named: String) throws -> String {
        if !named.isEmpty {
            guard principal.isMember(of: named) else { throw BusError.forbidden("\(principal.name) is not in group \(named)") }
            return named
        }
        guard principal.groups.count == 1 else {
            throw BusError.badRequest(principal.groups.isEmpty ? "\(principal.name) is in no group"
                                      : "\(principal.name) is in several groups (\(principal.groups.joined(separator: ", "))); name one with group")
        }
        return principal.groups[0]
    }
}
