import Bus
import Foundation

/// What `agor up` writes to run/up.json for `agor status`.
public struct UpState: Codable, Sendable, Equatable {
    public struct Service: Codable, Sendable, Equatable {
        public var name: String
        public var pid: Int32
        public var state: String
        public var startedAt: Date?
        public var restarts: Int
        public var rpc: String
        public var pub: String
    }

    public var supervisorPid: Int32
    public var home: String
    public var services: [Service]

    public static func read(_ home: Home) -> UpState? {
        guard let data = FileManager.default.contents(atPath: home.upStateFile.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(UpState.self, from: data)
    }

    func write(_ home: Home) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        try? FileManager.default.createDirectory(at: home.runFolder, withIntermediateDirectories: true)
        try? AtomicFile.write(data, to: home.upStateFile, mode: 0o644)
    }
}

