import Foundation
import GRDB

/// `bus.backup`: a consistent copy of a service's database, taken inside the process that owns it
/// with SQLite's backup API from one read transaction (everything committed before it began, none
/// of what commits during it), while the service keeps serving. Written to a temporary file and
/// renamed, so a copy that exists is whole.
public enum DatabaseBackup {
    public static func write(_ database: DatabasePool, to path: String) async throws -> Agor_Bus_V1_BackupReply {
        guard path.hasPrefix("/"), !path.contains("\0"), path.utf8.count <= 4096, !path.split(separator: "/").contains("..") else {
            throw BusError.badRequest("path must be an absolute path without '..'")
        }
        let target = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target.deletingLastPathComponent().path, isDirectory: &isFolder), isFolder.boolValue else {
            throw BusError.notFound("no folder \(target.deletingLastPathComponent().path) on this service's host")
        }
        guard !FileManager.default.fileExists(atPath: path) else { throw BusError.conflict("\(path) exists already") }
        let temporary = path + ".partial-\(getpid())"
        let started = Date()
        // The copy blocks a thread for its length: a thread of its own, off the cooperative pool and
        // off dispatch's global queues (as wide as the cores, so busy ones could hold it back).
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            Thread {
                do {
                    let copy = try DatabaseQueue(path: temporary)
                    try database.backup(to: copy)
                    try copy.close()
                    guard rename(temporary, path) == 0 else { throw BusError.internalError("cannot rename the copy: \(String(cString: strerror(errno)))") }
                    continuation.resume()
                } catch {
                    unlink(temporary)
                    continuation.resume(throwing: error)
                }
            }.start()
        }
        var reply = Agor_Bus_V1_BackupReply()
        reply.path = path
        reply.bytes = Int64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        reply.takenAtUs = Int64(started.timeIntervalSince1970 * 1_000_000)
        return reply
    }
}
