import Foundation

/// A position in a paged list: handed out as a reply's `next_cursor`, taken back as the next
/// request's `cursor`. Opaque to clients (base64url); it names the list it belongs to, so a cursor
/// from one list is refused by another, and holds the sort keys of the last item already returned,
/// so pages neither repeat nor skip items when rows are added meanwhile.
public enum PageCursor {
    private static let separator: Character = "\u{1F}"

    public static func encode(list: String, keys: [String]) -> String {
        let text = ([list] + keys).joined(separator: String(separator))
        return Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The keys of a cursor of `list` with exactly `count` keys; a bad request otherwise.
    public static func decode(_ cursor: String, list: String, count: Int) throws -> [String] {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard cursor.utf8.count <= 1024, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else {
            throw BusError.badRequest("cursor is not one this service handed out (pass next_cursor back as given)")
        }
        let parts = text.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count + 1, parts[0] == list else {
            throw BusError.badRequest("cursor belongs to another list or version (pass next_cursor back as given)")
        }
        return Array(parts.dropFirst())
    }

    /// Integer keys, or a bad request.
    public static func integers(_ cursor: String, list: String, count: Int) throws -> [Int64] {
        let keys = try decode(cursor, list: list, count: count)
        let values = keys.compactMap { Int64($0) }
        guard values.count == count else { throw BusError.badRequest("cursor is damaged (pass next_cursor back as given)") }
        return values
    }
}
