/// The one error of the home's configuration (settings and their schema, keybindings, projects,
/// the vault and sealing): a code to act on (the CLI's exit statuses and the Gateway's HTTP
/// statuses come from it) and a message for people.
public struct HomeConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        // settings.toml and what is kept beside it
        case unknownKey = "unknown_key", badValue = "bad_value", conflict, badFile = "bad_file"
        // the vault
        case locked, missing, badName = "bad_name"
        // sealing: bad parameters, or data that does not open with this key
        case sealing
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
