import Bus
import MCP

/// A tool call's arguments, read with the checks a request body gets: a missing or mistyped
/// argument is a `BusError.badRequest` naming it, so the agent sees what to fix.
struct ToolArguments: Sendable {
    let values: [String: Value]

    init(_ values: [String: Value]?) { self.values = values ?? [:] }

    func string(_ name: String) throws -> String? {
        guard let value = values[name], value != .null else { return nil }
        guard let text = value.stringValue else { throw BusError.badRequest("`\(name)` must be a string") }
        return text
    }

    func requiredString(_ name: String) throws -> String {
        guard let text = try string(name), !text.isEmpty else { throw BusError.badRequest("`\(name)` is required") }
        return text
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = values[name], value != .null else { return nil }
        let number: Int
        if let int = value.intValue {
            number = int
        } else if let double = value.doubleValue, double.rounded() == double, abs(double) < 1e15 {
            number = Int(double)
        } else {
            throw BusError.badRequest("`\(name)` must be a whole number")
        }
        guard range.contains(number) else { throw BusError.badRequest("`\(name)` must be \(range.lowerBound) to \(range.upperBound)") }
        return number
    }

    func bool(_ name: String) throws -> Bool? {
        guard let value = values[name], value != .null else { return nil }
        guard let flag = value.boolValue else { throw BusError.badRequest("`\(name)` must be true or false") }
        return flag
    }

    func strings(_ name: String) throws -> [String]? {
        guard let value = values[name], value != .null else { return nil }
        guard let items = value.arrayValue, let texts = Optional(items.compactMap(\.stringValue)), texts.count == items.count else {
            throw BusError.badRequest("`\(name)` must be a list of strings")
        }
        return texts
    }

    /// Refuses arguments the tool does not take (a misspelt name should not be ignored silently).
    func allowOnly(_ names: Set<String>) throws {
        let unknown = Set(values.keys).subtracting(names).sorted()
        guard unknown.isEmpty else { throw BusError.badRequest("unknown argument \(unknown.map { "`\($0)`" }.joined(separator: ", "))") }
    }
}
