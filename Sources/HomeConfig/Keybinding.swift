import Bus

/// A keybinding setting, `keybinding.CONTEXT.ACTION = "CHORD"`: in one context (the whole app,
/// the terminal, an agent pane, the command palette) an action is bound to a chord of one to
/// three key strokes, each modifiers and a key (`Ctrl+K Ctrl+S`).
public struct Keybinding: Sendable, Equatable {
    public static let contexts = ["global", "terminal", "agent", "palette"]
    static let modifierOrder = ["Ctrl", "Alt", "Shift", "Meta"]
    static let namedKeys = ["Enter", "Tab", "Esc", "Space", "Backspace", "Delete", "Insert", "Home", "End", "PageUp", "PageDown",
                            "Up", "Down", "Left", "Right"] + (1...12).map { "F\($0)" }

    public let context: String
    public let action: String

    /// The binding a settings key names; nil when the key is not a keybinding key.
    public init?(key: String) {
        let parts = key.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts[0] == "keybinding", Keybinding.contexts.contains(parts[1]),
              Principal.isValidName(parts[2]) else { return nil }
        context = parts[1]
        action = parts[2]
    }

    /// A chord in its one written form: modifiers in a fixed order, keys capitalised, strokes
    /// separated by one space. Anything else is a `bad_value` error.
    public static func normalize(_ chord: String) throws -> String {
        let strokes = chord.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...3).contains(strokes.count) else {
            throw HomeConfigError(.badValue, "a chord is 1 to 3 strokes separated by spaces, like \"Ctrl+K Ctrl+S\"")
        }
        return try strokes.map { stroke -> String in
            let parts = stroke.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            guard let keyPart = parts.last, !keyPart.isEmpty else { throw HomeConfigError(.badValue, "\(stroke.prefix(40)) has no key") }
            var modifiers: Set<String> = []
            for part in parts.dropLast() {
                guard let modifier = modifierOrder.first(where: { $0.lowercased() == part.lowercased() }) ?? (part.lowercased() == "control" ? "Ctrl" : nil) else {
                    throw HomeConfigError(.badValue, "\(part.prefix(20)) is not a modifier (\(modifierOrder.joined(separator: ", ")))")
                }
                guard modifiers.insert(modifier).inserted else { throw HomeConfigError(.badValue, "\(stroke.prefix(40)) repeats \(modifier)") }
            }
            let key: String
            if keyPart.count == 1, let scalar = keyPart.unicodeScalars.first, scalar.isASCII, scalar.value > 32, scalar.value < 127 {
                key = keyPart.uppercased()
            } else if let named = namedKeys.first(where: { $0.lowercased() == keyPart.lowercased() }) {
                key = named
            } else {
                throw HomeConfigError(.badValue, "\(keyPart.prefix(20)) is not a key (a letter, digit or sign, or \(namedKeys.prefix(15).joined(separator: ", ")), F1-F12)")
            }
            return (modifierOrder.filter(modifiers.contains) + [key]).joined(separator: "+")
        }.joined(separator: " ")
    }
}
