import Foundation
import Logging
import Synchronization

/// A swift-log handler that appends lines to a file (the home's logs/<service>.log) and, when
/// asked, to stderr. Lines: time, level, label, message, metadata as key=value.
public struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        let fd: Int32
        let echo: Bool
        init(path: String, echo: Bool) {
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            self.echo = echo
        }
        func write(_ line: String) {
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            if fd >= 0 { _ = Glibc.write(fd, bytes, bytes.count) }
            if echo { _ = Glibc.write(2, bytes, bytes.count) }
        }
    }

    private let sink: Sink
    private let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    init(label: String, sink: Sink) {
        self.label = label
        self.sink = sink
    }

    /// Makes a factory for `LoggingSystem.bootstrap`.
    public static func factory(file: URL, echoToStderr: Bool, level: Logger.Level = .info) -> @Sendable (String) -> any LogHandler {
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let sink = Sink(path: file.path, echo: echoToStderr)
        return { label in
            var handler = FileLogHandler(label: label, sink: sink)
            handler.logLevel = level
            return handler
        }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        sink.write("\(time) \(event.level) \(label): \(event.message)\(meta)")
    }
}
