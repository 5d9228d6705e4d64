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

    /// A value as compact JSON text, keys sorted (tool inputs). A string stays as it is.
    /// Written here rather than by JSONSerialization, which cost a third of the runner's CPU on
    /// tool-heavy output (measured with perf on `make bench-runner`).
    static func text(of value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "" }
        if let string = value as? String { return string }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func write(_ value: Any, to out: inout [UInt8]) {
        switch value {
        case let string as String:
            writeString(string, to: &out)
        case let dictionary as [String: Any]:
            out.append(0x7B)
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out.append(0x2C) }
                writeString(key, to: &out)
                out.append(0x3A)
                write(dictionary[key]!, to: &out)
            }
            out.append(0x7D)
        case let array as [Any]:
            out.append(0x5B)
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(0x2C) }
                write(element, to: &out)
            }
            out.append(0x5D)
        case is NSNull:
            out += Array("null".utf8)
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; tell them apart by their type.
            let type = String(cString: number.objCType)
            if type == "c" {   // JSONSerialization's booleans
                out += Array((number.boolValue ? "true" : "false").utf8)
            } else if type == "d" || type == "f" {
                out += Array("\(number.doubleValue)".utf8)
            } else {
                out += Array("\(number.int64Value)".utf8)
            }
        default:
            out += Array("null".utf8)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string literal: quotes, backslashes and control characters escaped; everything else
    /// (U+2028 included) as it is.
    private static func writeString(_ string: String, to out: inout [UInt8]) {
        out.append(0x22)
        for byte in string.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20: out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }

    /// The first bytes of a line, for error messages.
    static func excerpt(_ bytes: [UInt8], max: Int = 120) -> String {
        String(decoding: bytes.prefix(max), as: UTF8.self) + (bytes.count > max ? "…" : "")
    }
}
