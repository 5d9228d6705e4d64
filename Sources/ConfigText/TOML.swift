import Foundation

/// A small TOML reader and writer for agor's own files (config.toml, certificates, key files).
///
/// It reads the subset those files use: comments, `[table]` and `[a.b]` headers, `key = value` with
/// basic strings, integers, floats, booleans and arrays of those (arrays may span lines). Anything
/// else is refused with the line number, so a hand-edited file never half-loads.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var integer: Int64? { if case .integer(let i) = self { i } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var table: TOMLTable? { if case .table(let t) = self { t } else { nil } }
    public var strings: [String]? {
        guard case .array(let items) = self else { return nil }
        let strings = items.compactMap(\.string)
        return strings.count == items.count ? strings : nil
    }
}

public struct TOMLTable: Sendable, Equatable {
    /// Keys in the order they were read or set, so written files stay stable.
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? {
        get { values[key] }
        set {
            if newValue != nil && values[key] == nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }

    /// Looks up a dotted path ("bus.max_message_size").
    public func value(at path: String) -> TOMLValue? {
        var table = self
        let parts = path.split(separator: ".").map(String.init)
        for part in parts.dropLast() {
            guard let next = table[part]?.table else { return nil }
            table = next
        }
        return parts.last.flatMap { table[$0] }
    }
}

public struct TOMLError: Error, Equatable, CustomStringConvertible, Sendable {
    public let line: Int
    public let reason: String
    public var description: String { "TOML error on line \(line): \(reason)" }
}

public enum TOML {
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = Parser(Array(text.utf8))
        return try parser.parseDocument()
    }

    public static func write(_ table: TOMLTable) -> String {
        var out = ""
        writeTable(table, path: [], into: &out)
        return out
    }

    private static func writeTable(_ table: TOMLTable, path: [String], into out: inout String) {
        for key in table.keys {
            guard let value = table[key], value.table == nil else { continue }
            out += "\(quoteKey(key)) = \(render(value))\n"
        }
        for key in table.keys {
            guard let sub = table[key]?.table else { continue }
            let subPath = path + [key]
            out += "\n[\(subPath.map(quoteKey).joined(separator: "."))]\n"
            writeTable(sub, path: subPath, into: &out)
        }
    }

    private static func quoteKey(_ key: String) -> String {
        let bare = !key.isEmpty && key.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
        return bare ? key : quote(key)
    }

    static func quote(_ s: String) -> String { QuotedString.literal(s) }

    private static func render(_ value: TOMLValue) -> String {
        switch value {
        case .string(let s): quote(s)
        case .integer(let i): String(i)
        case .float(let d): String(d)
        case .bool(let b): b ? "true" : "false"
        case .array(let items): "[" + items.map(render).joined(separator: ", ") + "]"
        case .table: "{}"
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0
        var line = 1

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String) -> TOMLError { TOMLError(line: line, reason: reason) }

        var atEnd: Bool { i >= bytes.count }
        var current: UInt8 { bytes[i] }

        mutating func skipSpaces() {
            while !atEnd && (current == 0x20 || current == 0x09) { i += 1 }
        }

        /// Skips spaces, newlines and comments (inside arrays).
        mutating func skipBlank() {
            while !atEnd {
                if current == 0x20 || current == 0x09 || current == 0x0D { i += 1 }
                else if current == 0x0A { i += 1; line += 1 }
                else if current == 0x23 { while !atEnd && current != 0x0A { i += 1 } }
                else { break }
            }
        }

        mutating func endOfLine() throws(TOMLError) {
            skipSpaces()
            if !atEnd && current == 0x23 { while !atEnd && current != 0x0A { i += 1 } }
            if !atEnd && current == 0x0D { i += 1 }
            if atEnd { return }
            guard current == 0x0A else { throw fail("unexpected text after value") }
            i += 1
            line += 1
        }

        mutating func parseDocument() throws(TOMLError) -> TOMLTable {
            var root = TOMLTable()
            var path: [String] = []
            var definedTables: Set<String> = []
            while true {
                skipBlank()
                if atEnd { break }
                if current == 0x5B {  // [table]
                    i += 1
                    if !atEnd && current == 0x5B { throw fail("arrays of tables are not supported") }
                    path = try parseKeyPath(terminator: 0x5D)
                    i += 1
                    let joined = path.joined(separator: ".")
                    guard definedTables.insert(joined).inserted else { throw fail("table [\(joined)] defined twice") }
                    try insert(into: &root, path: path, key: nil, value: .table(TOMLTable()))
                    try endOfLine()
                    continue
                }
                let keyPath = try parseKeyPath(terminator: 0x3D)
                i += 1  // '='
                skipSpaces()
                let value = try parseValue()
                try insert(into: &root, path: path + keyPath.dropLast(), key: keyPath.last!, value: value)
                try endOfLine()
            }
            return root
        }

        mutating func insert(into table: inout TOMLTable, path: [String], key: String?, value: TOMLValue) throws(TOMLError) {
            if let first = path.first {
                var sub: TOMLTable
                if let existing = table[first] {
                    guard let t = existing.table else { throw fail("\(first) is not a table") }
                    sub = t
                } else {
                    sub = TOMLTable()
                }
                try insert(into: &sub, path: Array(path.dropFirst()), key: key, value: value)
                table[first] = .table(sub)
                return
            }
            guard let key else { return }
            guard table[key] == nil else { throw fail("key \(key) defined twice") }
            table[key] = value
        }

        mutating func parseKeyPath(terminator: UInt8) throws(TOMLError) -> [String] {
            var parts: [String] = []
            while true {
                skipSpaces()
                guard !atEnd else { throw fail("unexpected end of file in key") }
                if current == 0x22 {
                    parts.append(try parseBasicString())
                } else {
                    let start = i
                    while !atEnd, isBareKeyByte(current) { i += 1 }
                    guard i > start else { throw fail("expected a key") }
                    parts.append(String(decoding: bytes[start..<i], as: UTF8.self))
                }
                skipSpaces()
                guard !atEnd else { throw fail("unexpected end of file in key") }
                if current == 0x2E { i += 1; continue }
                guard current == terminator else { throw fail("expected '\(Character(Unicode.Scalar(terminator)))'") }
                return parts
            }
        }

        func isBareKeyByte(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }

        mutating func parseValue() throws(TOMLError) -> TOMLValue {
            guard !atEnd else { throw fail("missing value") }
            switch current {
            case 0x22: return .string(try parseBasicString())
            case 0x27:  // 'literal'
                i += 1
                let start = i
                while !atEnd && current != 0x27 && current != 0x0A { i += 1 }
                guard !atEnd && current == 0x27 else { throw fail("unterminated literal string") }
                defer { i += 1 }
                return .string(String(decoding: bytes[start..<i], as: UTF8.self))
            case 0x5B:
                i += 1
                var items: [TOMLValue] = []
                while true {
                    skipBlank()
                    guard !atEnd else { throw fail("unterminated array") }
                    if current == 0x5D { i += 1; return .array(items) }
                    items.append(try parseValue())
                    skipBlank()
                    guard !atEnd else { throw fail("unterminated array") }
                    if current == 0x2C { i += 1; continue }
                    guard current == 0x5D else { throw fail("expected ',' or ']' in array") }
                }
            default:
                let start = i
                while !atEnd, current != 0x20, current != 0x09, current != 0x0A, current != 0x0D,
                      current != 0x23, current != 0x2C, current != 0x5D { i += 1 }
                let word = String(decoding: bytes[start..<i], as: UTF8.self)
                if word == "true" { return .bool(true) }
                if word == "false" { return .bool(false) }
                let digits = word.replacingOccurrences(of: "_", with: "")
                if let integer = Int64(digits) { return .integer(integer) }
                if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(digits) { return .float(double) }
                throw fail("unsupported value '\(word)'")
            }
        }

        mutating func parseBasicString() throws(TOMLError) -> String {
            i += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard !atEnd, current != 0x0A else { throw fail("unterminated string") }
                let c = current
                i += 1
                if c == 0x22 { break }
                if c != 0x5C { out.append(c); continue }
                guard !atEnd else { throw fail("unterminated escape") }
                let e = current
                i += 1
                switch e {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x6E: out.append(0x0A)
                case 0x74: out.append(0x09)
                case 0x72: out.append(0x0D)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x75, 0x55:
                    let width = e == 0x75 ? 4 : 8
                    guard i + width <= bytes.count,
                          let code = UInt32(String(decoding: bytes[i..<(i + width)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw fail("bad unicode escape") }
                    i += width
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("unknown escape")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
