/// The one error of what the Bus reads from the home: config.toml, key files and the directory of
/// certificates. A code to act on (the CLIs' exit statuses come from it), the file when one is to
/// blame, and a detail for people. (What crosses the wire is a `BusError`; what libzmq says, a
/// `ZMQError`.)
public struct HomeError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// config.toml: unreadable, or a value out of range.
        case badConfig
        // key files
        case badZ85, badLength, unreadable, badFile, insecurePermissions
        // the directory
        case badCertificate, badName, exists, notFound, badGroup
    }

    public let code: Code
    public let detail: String
    public let file: String?

    public init(code: Code, detail: String, file: String? = nil) {
        self.code = code
        self.detail = detail
        self.file = file
    }

    /// config.toml (or another config file) says something this build cannot use.
    public static func config(file: String, reason: String) -> HomeError {
        HomeError(code: .badConfig, detail: reason, file: file)
    }

    public var description: String {
        code == .badConfig ? "config error in \(file ?? "config.toml"): \(detail)" : "\(code.rawValue): \(detail)"
    }
}
