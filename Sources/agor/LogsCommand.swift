import AgorKit
import ArgumentParser
import Bus
import Foundation

/// `agor logs [SERVICE] [-n N] [-f]`: the services' logs (rotated by size into NAME.log.1…).
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the last lines of a service's log (or of every service's), and follow with -f.")
    @OptionGroup var homeOption: HomeOption
    @Option(name: [.customShort("n"), .long], help: "How many lines from the end.") var lines: Int = 50
    @Flag(name: [.customShort("f"), .long], help: "Keep printing new lines as they are written.") var follow = false
    @Argument(help: "A service (default: every service, each line prefixed with its name).") var service: String?

    func run() async throws {
        let home = homeOption.resolved
        let names: [String]
        if let service {
            guard ServiceCatalog.names.contains(service) else { throw fail("no service \(service) (\(ServiceCatalog.names.joined(separator: ", ")))", code: 2) }
            names = [service]
        } else {
            names = ServiceCatalog.names.filter { FileManager.default.fileExists(atPath: home.logFile($0).path) }
        }
        guard lines >= 0 else { throw fail("-n is a count of lines", code: 2) }
        let prefix = service == nil
        var followers: [LogFollower] = []
        for name in names {
            let follower = LogFollower(url: home.logFile(name))
            for line in follower.tail(lines) { print(prefix ? "[\(name)] \(line)" : line) }
            followers.append(follower)
        }
        if service != nil, followers.first?.exists == false, !follow { throw fail("no log yet for \(service!)", code: 4) }
        fflush(nil)
        while follow {
            for (name, follower) in zip(names, followers) {
                for line in follower.newLines() { print(prefix ? "[\(name)] \(line)" : line) }
            }
            fflush(nil)
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// Reads a log file's end, then what is appended; starts again from the top when the file was
/// rotated (a new file, or one shorter than what was read).
final class LogFollower {
    let url: URL
    private var offset: UInt64 = 0
    private var inode: UInt64 = 0
    private var partial = Data()

    init(url: URL) { self.url = url }

    var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    func tail(_ count: Int) -> [String] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        offset = UInt64(data.count)
        inode = currentInode() ?? 0
        let text = String(decoding: data, as: UTF8.self)
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
        return all.suffix(count).map(String.init)
    }

    func newLines() -> [String] {
        guard let node = currentInode() else { return [] }
        if node != inode {
            inode = node
            offset = 0
            partial = Data()
        }
        guard let handle = try? FileHandle(forReadingFrom: url) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        if size < offset { offset = 0; partial = Data() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        offset += UInt64(data.count)
        partial += data
        guard let last = partial.lastIndex(of: 0x0A) else { return [] }
        let complete = partial[partial.startIndex...last]
        partial = Data(partial[partial.index(after: last)...])
        return String(decoding: complete, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    private func currentInode() -> UInt64? {
        var info = stat()
        return stat(url.path, &info) == 0 ? UInt64(info.st_ino) : nil
    }
}
