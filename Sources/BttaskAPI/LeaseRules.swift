import Bus
import Glibc

/// The rules of file leases as pure functions, shared by bttask, the Gateway's file save and the
/// tests. A lease path is relative to its project: a file (`src/a.swift`), a directory with a
/// closing slash (`src/`, everything under it), or a glob (`src/*.swift`; `*`, `?` and `[...]`,
/// where `*` also crosses `/`).
public enum LeaseRules {
    public static let maxPaths = 64
    public static let maxPathBytes = 512
    public static let defaultTTLSeconds: Int32 = 600
    public static let maxTTLSeconds: Int32 = 86_400

    /// Why `path` is not a lease path, or nil when it is one.
    public static func problem(with path: String) -> String? {
        if path.isEmpty { return "a lease path is not empty" }
        if path.utf8.count > maxPathBytes { return "a lease path is at most \(maxPathBytes) bytes" }
        if path.hasPrefix("/") { return "a lease path is relative to its project (no leading /)" }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." }) {
            return "a lease path has no . or .. parts"
        }
        if path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "a lease path has no control characters" }
        return nil
    }

    static func isGlob(_ path: String) -> Bool { path.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// The part before the first wildcard (all of it for a file or a directory).
    static func fixedPrefix(_ path: String) -> Substring {
        guard let wildcard = path.firstIndex(where: { $0 == "*" || $0 == "?" || $0 == "[" }) else { return Substring(path) }
        return path[..<wildcard]
    }

    /// Whether a lease on `a` and a lease on `b` can cover a common file. Exact for files and
    /// directories and for a glob against either; two globs are taken to overlap when one's fixed
    /// prefix starts the other's (conservative: it may refuse two globs that never meet).
    public static func overlap(_ a: String, _ b: String) -> Bool {
        switch (isGlob(a), isGlob(b)) {
        case (false, false):
            return a == b || (a.hasSuffix("/") && b.hasPrefix(a)) || (b.hasSuffix("/") && a.hasPrefix(b))
        case (true, false):
            return globCovers(a, b)
        case (false, true):
            return globCovers(b, a)
        case (true, true):
            let pa = fixedPrefix(a), pb = fixedPrefix(b)
            return pa.hasPrefix(pb) || pb.hasPrefix(pa)
        }
    }

    /// A glob against a file or a directory: the file matches, or the directory holds what the glob may name.
    static func globCovers(_ glob: String, _ path: String) -> Bool {
        if path.hasSuffix("/") {
            let prefix = fixedPrefix(glob)
            return prefix.hasPrefix(path) || path.hasPrefix(prefix)
        }
        return fnmatch(glob, path, 0) == 0
    }

    /// Whether a lease on `path` (file or directory) covers the file `file`: for the Gateway's save.
    public static func covers(_ lease: String, file: String) -> Bool {
        isGlob(lease) ? fnmatch(lease, file, 0) == 0 : (lease == file || (lease.hasSuffix("/") && file.hasPrefix(lease)))
    }

    /// Two live leases conflict when they overlap, belong to different holders, and either is exclusive.
    public static func conflict(path: String, exclusive: Bool, holder: String,
                                with other: (path: String, exclusive: Bool, holder: String)) -> Bool {
        other.holder != holder && (exclusive || other.exclusive) && overlap(path, other.path)
    }
}
