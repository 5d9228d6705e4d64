import AgorTestSupport
import Bus
import Foundation
import GRDB
import Testing
@testable import btmsg

@Suite("bus.backup", .serialized, .timeLimit(.minutes(2)))
struct BackupMethodTests {
    @Test("an operator gets a whole copy; others, relative or '..' paths, missing folders and existing files are refused")
    func backupMethod() async throws {
        try await withBed(BtmsgBed()) { bed in
            for i in 0..<5 { _ = try await bed.send("mia", to: "wes", "kept \(i)") }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bk-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            var request = Agor_Bus_V1_BackupRequest()
            request.path = folder.appendingPathComponent("copy.db").path
            #expect(await bed.refusal("mia", "bus.backup", request)?.errorCode == .forbidden)
            let reply = try await bed.call("operator", "bus.backup", request, as: Agor_Bus_V1_BackupReply.self)
            #expect(reply.bytes > 0)
            let count = try await DatabaseQueue(path: request.path).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM messages") }
            #expect(count == 5)
            #expect(await bed.refusal("operator", "bus.backup", request)?.errorCode == .conflict)
            for bad in ["relative.db", "/tmp/../etc/x.db", "/no/such/folder/x.db", ""] {
                request.path = bad
                #expect(await bed.refusal("operator", "bus.backup", request)?.errorCode != nil, "\(bad)")
            }
            // Still serving.
            _ = try await bed.send("mia", to: "wes", "after")
        }
    }
}
