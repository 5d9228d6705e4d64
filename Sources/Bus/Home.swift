import Foundation

/// The agor home: configuration files, keys, the directory, databases and logs (DESIGN.md,
/// "Who owns what"). Resolved from `--home`, else `$AGOR_HOME`, else `$HOME/.local/share/agor`.
public struct Home: Sendable, Equatable {
    public let root: URL

    public init(root: URL) { self.root = root.standardizedFileURL }

    public static func resolve(_ explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> Home {
        if let explicit, !explicit.isEmpty { return Home(root: URL(fileURLWithPath: explicit)) }
        if let env = environment["AGOR_HOME"], !env.isEmpty { return Home(root: URL(fileURLWithPath: env)) }
        // Foundation's home directory on Linux ignores $HOME; read it ourselves.
        let home = environment["HOME"] ?? NSHomeDirectory()
        return Home(root: URL(fileURLWithPath: home).appendingPathComponent(".local/share/agor"))
    }

    public var configFile: URL { root.appendingPathComponent("config.toml") }
    public var keysFolder: URL { root.appendingPathComponent("keys") }
    public var directoryFolder: URL { root.appendingPathComponent("directory") }
    public var dataFolder: URL { root.appendingPathComponent("data") }
    public var logsFolder: URL { root.appendingPathComponent("logs") }
    public var runFolder: URL { root.appendingPathComponent("run") }

    public func secretKeyFile(_ name: String) -> URL { keysFolder.appendingPathComponent("\(name).key") }
    public func database(_ service: String) -> URL { dataFolder.appendingPathComponent("\(service).db") }
    public func logFile(_ service: String) -> URL { logsFolder.appendingPathComponent("\(service).log") }
    public var upStateFile: URL { runFolder.appendingPathComponent("up.json") }

    public var isInitialized: Bool { FileManager.default.fileExists(atPath: configFile.path) }

    /// The key a CLI uses: `--key`, else `$AGOR_KEY`, else the home's operator key.
    public func clientKeyFile(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let env = environment["AGOR_KEY"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return secretKeyFile("operator")
    }
}
