import Foundation
import Logging
import Synchronization

/// A swift-log handler that appends lines to a file (the home's logs/<service>.log) and, when
/// asked, to stderr. Lines: time, level, label, message, metadata as key=value. The file is rotated
/// by size: past `maxBytes` it becomes NAME.log.1 (older ones shift up to NAME.log.KEEP, the
/// oldest dropped) and a new NAME.log starts.
public struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        private struct File {
            var fd: Int32
            var size: Int
        }
        private let file: Mutex<File>
        let path: String
        let echo: Bool
        let maxBytes: Int
        let keep: Int

        init(path: String, echo: Bool, maxBytes: Int, keep: Int) {
            self.path = path
            self.echo = echo
            self.maxBytes = maxBytes
            self.keep = keep
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            var info = stat()
            let size = fd >= 0 && fstat(fd, &info) == 0 ? Int(info.st_size) : 0
            file = Mutex(File(fd: fd, size: size))
        }

        func write(_ line: String) {
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            file.withLock { file in
                if file.fd >= 0, file.size > 0, file.size + bytes.count > maxBytes { rotate(&file) }
                if file.fd >= 0, Glibc.write(file.fd, bytes, bytes.count) > 0 { file.size += bytes.count }
            }
            if echo { _ = Glibc.write(2, bytes, bytes.count) }
        }

        private func rotate(_ file: inout File) {
            close(file.fd)
            unlink("\(path).\(keep)")
            if keep > 1 { for n in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(n)", "\(path).\(n + 1)") } }
            rename(path, "\(path).1")
            file.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            file.size = 0
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
    public static func factory(file: URL, echoToStderr: Bool, level: Logger.Level = .info,
                               maxBytes: Int = 10 << 20, keep: Int = 3) -> @Sendable (String) -> any LogHandler {
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let sink = Sink(path: file.path, echo: echoToStderr, maxBytes: max(maxBytes, 4096), keep: max(keep, 1))
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
