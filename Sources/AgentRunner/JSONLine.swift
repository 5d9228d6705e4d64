import Foundation

/// One line of an agent's output read as a JSON object, with typed accessors that never trap on
/// a field of another type (providers add and change fields between versions).
struct JSONLine {
    let object: [String: Any]

    /// Nil when the bytes are not a JSON object.
    init?(_ bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) as? [String: Any] else { return nil }
        self.object = object
    }

    init(object: [String: Any]) { self.object = object }

    func string(_ key: String) -> String? { object[key] as? String }
    func bool(_ key: String) -> Bool? { object[key] as? Bool }
    func int(_ key: String) -> Int64? { (object[key] as? NSNumber).map { $0.int64Value } }
    func double(_ key: String) -> Double? { (object[key] as? NSNumber).map { $0.doubleValue } }
    func child(_ key: String) -> JSONLine? { (object[key] as? [String: Any]).map(JSONLine.init(object:)) }
    func children(_ key: String) -> [JSONLine] { ((object[key] as? [Any]) ?? []).compactMap { ($0 as? [String: Any]).map(JSONLine.init(object:)) } }

    /// A value as compact JSON text (tool inputs are kept as the provider gave them).
    static func text(of value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "" }
        if let string = value as? String { return string }
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The first bytes of a line, for error messages.
    static func excerpt(_ bytes: [UInt8], max: Int = 120) -> String {
        String(decoding: bytes.prefix(max), as: UTF8.self) + (bytes.count > max ? "…" : "")
    }
}
