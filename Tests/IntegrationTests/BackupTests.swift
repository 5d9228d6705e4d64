import AgorKit
import btmsg
import BtmsgAPI
import bttask
import BttaskAPI
import Bus
import Foundation
import GRDB
import Synchronization
import Testing

/// `agor backup` under load and `agor restore`, with real processes and real databases.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct BackupTests {
    final class Acknowledged: Sendable {
        let messages = Mutex<[String]>([])
        let tasks = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
    }

    @Test func aBackupUnderLoadRestoresEverythingAcknowledgedBeforeItBegan() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        let path = it.home.root.path
        #expect(try AgorHome.run(["agent", "add", "mia", "--group", "default", "--role", "manager", "--home", path]).status == 0)
        #expect(try AgorHome.run(["agent", "add", "wes", "--group", "default", "--role", "worker", "--home", path]).status == 0)
        let up = try it.start(["up", "--home", path])
        #expect(try await it.waitUntilAnswers("btmsg"))
        #expect(try await it.waitUntilAnswers("bttask"))
        #expect(try await it.waitUntilAnswers("gateway"))

        // Four writers: two sending messages, two creating tasks, until told to stop.
        let client = try ServiceClient(home: it.home, keyFile: it.home.secretKeyFile("mia"))
        let acknowledged = Acknowledged()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        guard let rpc = try? client.rpc(writer < 2 ? "btmsg" : "bttask") else { return }
                        var n = 0
                        while !acknowledged.stop.load(ordering: .relaxed) {
                            n += 1
                            if writer < 2 {
                                var send = Agor_Btmsg_V1_SendRequest()
                                send.to = "wes"; send.body = "load \(writer)-\(n)"
                                if let reply = try? await rpc.call("btmsg.send", send, as: Agor_Btmsg_V1_SendReply.self) {
                                    acknowledged.messages.withLock { $0.append(reply.message.id) }
                                }
                            } else {
                                var create = Agor_Bttask_V1_CreateRequest()
                                create.title = "task \(writer)-\(n)"
                                if let reply = try? await rpc.call("bttask.create", create, as: Agor_Bttask_V1_TaskReply.self) {
                                    acknowledged.tasks.withLock { $0.append(reply.task.id) }
                                }
                            }
                        }
                        await rpc.close()
                    }
                }
            }
        }
        try await Task.sleep(for: .seconds(1))
        // What was acknowledged before the backup began must all be in it.
        let messagesBefore = acknowledged.messages.withLock { $0 }
        let tasksBefore = acknowledged.tasks.withLock { $0 }
        #expect(messagesBefore.count > 10 && tasksBefore.count > 10)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-backup-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let backup = try AgorHome.run(["backup", folder.path, "--home", path])
        #expect(backup.status == 0, "\(backup.output)")
        let duringBackup = acknowledged.messages.withLock { $0.count }
        try await Task.sleep(for: .milliseconds(300))
        acknowledged.stop.store(true, ordering: .relaxed)
        await load.value
        #expect(acknowledged.messages.withLock { $0.count } > duringBackup)   // the services kept serving
        #expect(try AgorHome.run(["backup", folder.path, "--home", path]).status == 5)   // not into a non-empty folder
        // Restoring over a running system is refused.
        #expect(try AgorHome.run(["restore", folder.path, "--home", path]).status == 5)
        #expect(try AgorHome.run(["down", "--home", path]).status == 0)
        up.waitUntilExit()

        // Restore into a new home and count.
        let restoredRoot = FileManager.default.temporaryDirectory.appendingPathComponent("agor-restored-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: restoredRoot) }
        let restore = try AgorHome.run(["restore", folder.path, "--home", restoredRoot.path])
        #expect(restore.status == 0, "\(restore.output)")
        let restored = Home(root: restoredRoot)
        let messageIds = try await DatabaseQueue(path: restored.database("btmsg").path).read { try Set(String.fetchAll($0, sql: "SELECT id FROM messages")) }
        let taskIds = try await DatabaseQueue(path: restored.database("bttask").path).read { try Set(String.fetchAll($0, sql: "SELECT id FROM tasks")) }
        #expect(messagesBefore.allSatisfy(messageIds.contains))
        #expect(tasksBefore.allSatisfy(taskIds.contains))
        #expect(FileManager.default.fileExists(atPath: restored.directoryFolder.appendingPathComponent("mia.cert").path))
        #expect(try AgorHome.run(["restore", "/nonexistent-backup", "--home", restoredRoot.path]).status == 2)

        // The restored btmsg serves, and a cursor resumes: events after it, in order, none missing.
        let serve = Process()
        serve.executableURL = AgorHome.agor
        serve.arguments = ["serve", "btmsg", "--home", restoredRoot.path]
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { serve.terminate(); serve.waitUntilExit() }
        let restoredClient = try ServiceClient(home: restored, keyFile: restored.secretKeyFile("mia"))
        var answered = false
        for _ in 0..<100 where !answered {
            answered = await restoredClient.ping("btmsg", timeout: .milliseconds(300)) != nil
        }
        #expect(answered)
        let rpc = try restoredClient.rpc("btmsg")
        var replay = Agor_Bus_V1_ReplayRequest()
        replay.stream = "btmsg/default/"
        replay.afterSeq = 5
        let events = try await rpc.call("bus.replay", replay, as: Agor_Bus_V1_ReplayReply.self, options: .init(timeout: .seconds(10)))
        let seqs = events.events.compactMap { BusEvent(packed: $0)?.seq }
        #expect(seqs.first == 6 && seqs == Array(6..<(6 + UInt64(seqs.count))))
        #expect(events.headSeq >= UInt64(messagesBefore.count))
        await rpc.close()
    }
}
