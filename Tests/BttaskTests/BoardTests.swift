import AgorTestSupport
import btmsg
import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import Testing
@testable import bttask

@Suite("bttask board", .serialized, .timeLimit(.minutes(3)))
struct BoardTests {
    @Test("rights per role: each refusal changes nothing")
    func rights() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            // Workers, testers and reviewers do not create.
            for who in ["wes", "tess", "rita"] {
                var r = Agor_Bttask_V1_CreateRequest(); r.title = "by \(who)"
                #expect(await bed.refusal(who, "bttask.create", r)?.errorCode == .forbidden, "\(who)")
            }
            #expect(try await bed.taskCount() == 0)
            let task = try await bed.create("ari", "architected")
            // A worker moves only its own tasks; a manager assigns.
            #expect(await bed.refusal("wes", "bttask.move", bed.move("wes", task, to: .inProgress))?.errorCode == .forbidden)
            var assign = Agor_Bttask_V1_AssignRequest(); assign.id = task.id; assign.expectedVersion = task.version; assign.assignee = "wes"
            #expect(await bed.refusal("ari", "bttask.assign", assign)?.errorCode == .forbidden)
            let assigned = try await bed.call("mia", "bttask.assign", assign).task
            #expect(try await bed.stored(task.id)?.version == assigned.version)
            let moving = try await bed.call("wes", "bttask.move", bed.move("wes", assigned, to: .inProgress)).task
            let inReview = try await bed.call("wes", "bttask.move", bed.move("wes", moving, to: .review)).task
            // A reviewer moves review→done/rejected/in_progress only.
            #expect(await bed.refusal("rita", "bttask.move", bed.move("rita", inReview, to: .todo))?.errorCode == .forbidden)
            let done = try await bed.call("rita", "bttask.move", bed.move("rita", inReview, to: .done)).task
            #expect(done.status == .done)
            // Another group sees nothing.
            var show = Agor_Bttask_V1_TaskRef(); show.id = task.id
            #expect(await bed.refusal("tom", "bttask.show", show)?.errorCode == .notFound)
            #expect(await bed.refusal("tom", "bttask.claim", bed.claim(task))?.errorCode == .notFound)
            // Workers comment only on their own tasks; others comment anywhere.
            let other = try await bed.create("mia", "someone else's")
            var comment = Agor_Bttask_V1_CommentRequest(); comment.id = other.id; comment.body = "hi"
            #expect(await bed.refusal("wade", "bttask.comment", comment)?.errorCode == .forbidden)
            _ = try await bed.call("rita", "bttask.comment", comment, as: Agor_Bttask_V1_CommentReply.self)
        }
    }

    @Test("show lists a task's children, and only its own; deleting the parent frees them")
    func children() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let parent = try await bed.create("mia", "parent")
            let other = try await bed.create("mia", "another parent")
            var child = Agor_Bttask_V1_CreateRequest(); child.title = "first child"; child.parent = parent.id
            let first = try await bed.call("mia", "bttask.create", child).task
            child.title = "second child"
            let second = try await bed.call("mia", "bttask.create", child).task
            child.title = "not a child of parent"; child.parent = other.id
            _ = try await bed.call("mia", "bttask.create", child).task
            var ref = Agor_Bttask_V1_TaskRef(); ref.id = parent.id
            let shown = try await bed.call("mia", "bttask.show", ref, as: Agor_Bttask_V1_ShowReply.self)
            #expect(shown.children.map(\.id) == [first.id, second.id])
            // A task with no children (parent '' of the top-level tasks is not a parent).
            ref.id = first.id
            #expect(try await bed.call("mia", "bttask.show", ref, as: Agor_Bttask_V1_ShowReply.self).children.isEmpty)
            var delete = Agor_Bttask_V1_DeleteRequest(); delete.id = parent.id; delete.expectedVersion = parent.version
            _ = try await bed.call("mia", "bttask.delete", delete)
            #expect(try await bed.stored(first.id)?.parent == "")
            #expect(try await bed.stored(second.id)?.parent == "")
        }
    }

    @Test("the docs show the rights table the code uses")
    func docsTable() throws {
        let docs = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/BTTASK.md"), encoding: .utf8)
        #expect(docs.contains(BttaskRules.markdownTable()))
        #expect(BttaskRules.status(named: "progress") == .inProgress)
    }

    @Test("versions: a stale update is a conflict with the current task and changes nothing")
    func versions() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let task = try await bed.create("mia", "v1")
            var update = Agor_Bttask_V1_UpdateRequest(); update.id = task.id; update.expectedVersion = task.version; update.title = "v2"
            let v2 = try await bed.call("mia", "bttask.update", update).task
            #expect(v2.version == task.version + 1 && v2.title == "v2")
            update.title = "stale"
            let refused = await bed.refusal("mia", "bttask.update", update)
            #expect(refused?.errorCode == .conflict && refused?.message.contains("\"title\":\"v2\"") == true)
            #expect(try await bed.stored(task.id)?.title == "v2")
        }
    }

    @Test("claims: N concurrent clients claim one task, exactly one wins; blocked and taken tasks are refused")
    func claims() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let blocker = try await bed.create("mia", "first")
            let blocked = try await bed.create("mia", "second", blockedBy: [blocker.id])
            #expect(await bed.refusal("wes", "bttask.claim", bed.claim(blocked))?.errorCode == .conflict)
            // Many real clients at once (each its own CURVE connection as a worker or tester).
            let claimers = ["wes", "wade", "tess", "ari", "mia", "operator"]
            let results = await withTaskGroup(of: (String, Bool).self) { group in
                for who in claimers {
                    group.addTask { (who, await bed.refusal(who, "bttask.claim", bed.claim(blocker)) == nil) }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = results.filter(\.1).map(\.0)
            #expect(winners.count == 1)
            let stored = try #require(try await bed.stored(blocker.id))
            #expect(stored.assignee == winners.first && stored.status == .inProgress)
        }
    }

    @Test("claim without an id takes the best ready task; concurrent claims never share one")
    func claimNext() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            var created: [String] = []
            for i in 0..<12 { created.append(try await bed.create("mia", "t\(i)", priority: i == 5 ? .critical : .medium).id) }
            let first = try await bed.call("wes", "bttask.claim", Agor_Bttask_V1_ClaimRequest()).task
            #expect(first.title == "t5" && first.assignee == "wes")
            let claimed = await withTaskGroup(of: [String].self) { group in
                for who in ["wes", "wade", "tess", "ari"] {
                    group.addTask {
                        var mine: [String] = []
                        while let t = try? await bed.call(who, "bttask.claim", Agor_Bttask_V1_ClaimRequest()).task { mine.append(t.id) }
                        return mine
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claimed.count == 11 && Set(claimed).count == 11)
            #expect(Set(claimed + [first.id]) == Set(created))
            #expect(await bed.refusal("wes", "bttask.claim", Agor_Bttask_V1_ClaimRequest())?.errorCode == .notFound)
        }
    }

    @Test("dependencies: ready lists what is unblocked, best first; a cycle is refused")
    func dependencies() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let a = try await bed.create("mia", "a", priority: .low)
            let b = try await bed.create("mia", "b", priority: .critical, blockedBy: [a.id])
            let c = try await bed.create("mia", "c", priority: .high)
            var ready = Agor_Bttask_V1_ListRequest()
            #expect(try await bed.call("wes", "bttask.ready", ready, as: Agor_Bttask_V1_TaskList.self).tasks.map(\.title) == ["c", "a"])
            var cycle = Agor_Bttask_V1_DependencyRequest(); cycle.id = a.id; cycle.blockedBy = b.id
            #expect(await bed.refusal("mia", "bttask.deps", cycle)?.errorCode == .conflict)
            cycle.blockedBy = a.id
            #expect(await bed.refusal("mia", "bttask.deps", cycle)?.errorCode == .conflict)   // itself
            // a done: b becomes ready and comes first.
            let aDone = try await bed.call("operator", "bttask.move", bed.move("operator", a, to: .done)).task
            #expect(aDone.status == .done)
            ready.limit = 10
            #expect(try await bed.call("wes", "bttask.ready", ready, as: Agor_Bttask_V1_TaskList.self).tasks.map(\.title) == ["b", "c"])
            _ = c
        }
    }

    @Test("the board revision grows with every change, and changes since R are the ones after R")
    func revisions() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let created = try await bed.call("mia", "bttask.create", { var r = Agor_Bttask_V1_CreateRequest(); r.title = "x"; return r }())
            let r1 = created.revision
            let claimed = try await bed.call("wes", "bttask.claim", bed.claim(created.task))
            #expect(claimed.revision == r1 + 1)
            var since = Agor_Bttask_V1_ChangesRequest(); since.sinceRevision = r1
            let changes = try await bed.call("rita", "bttask.changes", since, as: Agor_Bttask_V1_ChangeList.self)
            #expect(changes.changes.map(\.kind) == ["task.claimed"] && changes.changes.first?.revision == r1 + 1)
            #expect(changes.revision == r1 + 1)
        }
    }

    @Test("moving to review posts to btmsg's review-queue for the mover; with btmsg down it waits and is delivered later")
    func reviewPosts() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let task = try await bed.create("mia", "needs review", assignee: "wes")
            let started = try await bed.call("wes", "bttask.move", bed.move("wes", task, to: .inProgress)).task
            _ = try await bed.call("wes", "bttask.move", bed.move("wes", started, to: .review))
            #expect(try await bed.service.outbox.pending() == 1)   // btmsg is down: queued, not lost
            try bed.startBtmsg()
            bed.service.outbox.nudge()
            var history: [Agor_Btmsg_V1_Message] = []
            for _ in 0..<300 {
                if let queue = try? await bed.rpc("rita", service: "btmsg").call("btmsg.channel.list", Agor_Btmsg_V1_ChannelListRequest(),
                                                                                  as: Agor_Btmsg_V1_ChannelList.self).channels.first(where: { $0.name == "review-queue" }) {
                    var request = Agor_Btmsg_V1_HistoryRequest(); request.channelID = queue.id
                    history = (try? await bed.rpc("rita", service: "btmsg").call("btmsg.history", request, as: Agor_Btmsg_V1_MessageList.self).messages) ?? []
                    if !history.isEmpty { break }
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(history.count == 1)
            #expect(history.first?.sender == "wes" && history.first?.body.contains("needs review") == true)
            // The outbox row goes once btmsg's answer is in.
            #expect(try await eventually(every: .milliseconds(10)) { try await bed.service.outbox.pending() == 0 })
        }
    }

    @Test("a review post btmsg refuses for good is kept with the reason, and later posts still go")
    func refusedReviewPost() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            for (who, title) in [("wade", "first"), ("wes", "second")] {
                let task = try await bed.create("mia", title, assignee: who)
                let started = try await bed.call(who, "bttask.move", bed.move(who, task, to: .inProgress)).task
                _ = try await bed.call(who, "bttask.move", bed.move(who, started, to: .review))
            }
            // wade leaves before btmsg comes back: btmsg will refuse a post on his behalf.
            try Directory(folder: bed.home.directoryFolder).revoke("wade", reason: "left")
            bed.runtime.directory.reload()
            try bed.startBtmsg()
            bed.service.outbox.nudge()
            var refused: [String] = []
            var pending = 2
            _ = try await eventually(every: .milliseconds(10)) {
                pending = try await bed.service.outbox.pending()
                refused = try await bed.service.outbox.refused()
                return pending == 0 && !refused.isEmpty
            }
            #expect(pending == 0)
            #expect(refused.count == 1)
        }
    }

    @Test("bad input gets a typed error and the service keeps serving")
    func badInput() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let rpc = try bed.rpc("mia")
            func code(_ method: String, _ body: [UInt8]) async -> Agor_Bus_V1_ErrorCode? {
                do { _ = try await rpc.call(method, body); return nil } catch let e as BusError { return e.errorCode } catch { return .internal }
            }
            #expect(await code("bttask.create", [0xFF, 0xFF]) == .badRequest)
            #expect(await code("bttask.create", try Agor_Bttask_V1_CreateRequest().serializedBytes()) == .badRequest)   // no title
            var move = Agor_Bttask_V1_MoveRequest(); move.id = "abc"
            #expect(await code("bttask.move", try move.serializedBytes()) == .badRequest)
            move.id = RandomID.uuid(); move.status = .done
            #expect(await code("bttask.move", try move.serializedBytes()) == .notFound)
            var resolve = Agor_Bttask_V1_ResolveRequest(); resolve.prefix = "xyz"
            #expect(await code("bttask.resolve", try resolve.serializedBytes()) == .badRequest)
            #expect(try await bed.taskCount() == 0)
            _ = try await bed.create("mia", "still serving")
            #expect(try await bed.taskCount() == 1)
        }
    }
}
