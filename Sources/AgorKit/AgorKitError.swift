/// The one error of the operator's tools (profiles, backups): a code, from which `agor` takes its
/// exit status, and a message for people.
public struct AgorKitError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The input (a profile, a backup folder) is not what it claims or is unreadable.
        case damaged
        /// Written by a newer agor.
        case newer
        /// The passphrase is missing or wrong.
        case passphrase
        /// It would overwrite something, or the system is running.
        case conflict
        /// Valid, but not usable in this home.
        case unusable
        /// A service did not do its part (a database copy).
        case unavailable
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
