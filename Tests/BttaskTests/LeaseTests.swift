import AgorTestSupport
import BttaskAPI
import Bus
import Foundation
import GRDB
import Testing
@testable import bttask

/// File leases on a real bttask over tcp + CURVE: conflicts named, shared and exclusive, renew,
/// release, expiry, the end with a task, and every refusal.
@Suite("file leases", .serialized, .timeLimit(.minutes(2)))
struct LeaseTests {
    func acquire(_ paths: [String], exclusive: Bool = true, ttl: Int32 = 0, task: String = "", project: String = "site") -> Agor_Bttask_V1_LeaseRequest {
        var r = Agor_Bttask_V1_LeaseRequest()
        r.project = project; r.paths = paths; r.exclusive = exclusive; r.ttlS = ttl; r.task = task
        return r
    }

    func ref(_ id: String, ttl: Int32 = 0) -> Agor_Bttask_V1_LeaseRef {
        var r = Agor_Bttask_V1_LeaseRef()
        r.id = id; r.ttlS = ttl
        return r
    }

    @Test("the rules: which paths overlap, and which are not lease paths")
    func rules() {
        #expect(LeaseRules.overlap("src/a.swift", "src/a.swift"))
        #expect(!LeaseRules.overlap("src/a.swift", "src/b.swift"))
        #expect(LeaseRules.overlap("src/", "src/deep/a.swift") && LeaseRules.overlap("src/deep/a.swift", "src/"))
        #expect(!LeaseRules.overlap("src/", "srcs/a.swift"))
        #expect(LeaseRules.overlap("src/*.swift", "src/a.swift") && !LeaseRules.overlap("src/*.swift", "src/a.md"))
        #expect(LeaseRules.overlap("src/*.swift", "src/") && LeaseRules.overlap("docs/*", "docs/x/"))
        #expect(LeaseRules.overlap("src/*.swift", "src/a*") && !LeaseRules.overlap("src/*.swift", "docs/*.md"))
        #expect(LeaseRules.covers("src/", file: "src/a/b.c") && LeaseRules.covers("*.md", file: "a/b.md") && !LeaseRules.covers("src/a", file: "src/ab"))
        for bad in ["", "/etc/passwd", "../x", "a/../b", "./a", "a/./b", "a\u{1}b", String(repeating: "x", count: 513)] {
            #expect(LeaseRules.problem(with: bad) != nil, "\(bad.prefix(20)) is refused")
        }
        #expect(LeaseRules.problem(with: "src/a b/c-d.swift") == nil)
    }

    @Test("exclusive holds are refused to others naming holder and expiry; shared ones coexist; the holder renews; release and expiry free them")
    func conflicts() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let held = try await bed.call("wes", "bttask.lease.acquire", acquire(["src/", "README.md"]), as: Agor_Bttask_V1_LeaseList.self)
            #expect(held.leases.count == 2 && held.leases.allSatisfy { $0.holder == "wes" && $0.exclusive && $0.expiresUs > BusProtocol.nowMicros() })
            // Another worker: refused for an overlapping file, naming wes, the lease and the expiry; nothing written.
            let refused = await bed.refusal("wade", "bttask.lease.acquire", acquire(["docs/x.md", "src/main.swift"]))
            #expect(refused?.errorCode == .conflict)
            #expect(refused?.message.contains("src/main.swift is held exclusively by wes (src/") == true && refused?.message.contains("until") == true)
            var everyone = Agor_Bttask_V1_LeaseListRequest()
            everyone.project = "site"
            #expect(try await bed.call("mia", "bttask.lease.list", everyone, as: Agor_Bttask_V1_LeaseList.self).leases.map(\.holder) == ["wes", "wes"])
            // Shared leases of two holders coexist; an exclusive one over them is refused.
            _ = try await bed.call("wade", "bttask.lease.acquire", acquire(["docs/"], exclusive: false), as: Agor_Bttask_V1_LeaseList.self)
            _ = try await bed.call("ari", "bttask.lease.acquire", acquire(["docs/guide.md"], exclusive: false), as: Agor_Bttask_V1_LeaseList.self)
            #expect(await bed.refusal("tess", "bttask.lease.acquire", acquire(["docs/*.md"]))?.errorCode == .conflict)
            // Another project, or another group, is another namespace.
            _ = try await bed.call("wade", "bttask.lease.acquire", acquire(["src/"], project: "other"), as: Agor_Bttask_V1_LeaseList.self)
            #expect(try await bed.call("tom", "bttask.lease.list", everyone, as: Agor_Bttask_V1_LeaseList.self).leases.isEmpty)
            // Leasing again what one holds renews it (same id, later expiry).
            let again = try await bed.call("wes", "bttask.lease.acquire", acquire(["README.md"], ttl: 3600), as: Agor_Bttask_V1_LeaseList.self)
            let readme = try #require(held.leases.first { $0.path == "README.md" })
            #expect(again.leases.first?.id == readme.id && again.leases.first!.expiresUs > readme.expiresUs)
            // Renew and release: the holder; release also a manager; not another worker.
            #expect(await bed.refusal("wade", "bttask.lease.renew", ref(readme.id))?.errorCode == .forbidden)
            #expect(await bed.refusal("wade", "bttask.lease.release", ref(readme.id))?.errorCode == .forbidden)
            #expect(await bed.refusal("tom", "bttask.lease.release", ref(readme.id))?.errorCode == .notFound)
            _ = try await bed.call("wes", "bttask.lease.renew", ref(readme.id, ttl: 60), as: Agor_Bttask_V1_Lease.self)
            _ = try await bed.call("mia", "bttask.lease.release", ref(readme.id), as: Agor_Bttask_V1_Lease.self)
            _ = try await bed.call("wade", "bttask.lease.acquire", acquire(["README.md"]), as: Agor_Bttask_V1_LeaseList.self)
            // A lease past its time holds nothing: wes's one-second hold on src/ is free after it.
            let src = try #require(held.leases.first { $0.path == "src/" })
            _ = try await bed.call("wes", "bttask.lease.renew", ref(src.id, ttl: 1), as: Agor_Bttask_V1_Lease.self)
            try await Task.sleep(for: .milliseconds(1200))
            _ = try await bed.call("wade", "bttask.lease.acquire", acquire(["src/main.swift"]), as: Agor_Bttask_V1_LeaseList.self)
            #expect(await bed.refusal("wes", "bttask.lease.renew", ref(src.id))?.errorCode == .notFound)
            // The list says who holds what, by path.
            var byPath = Agor_Bttask_V1_LeaseListRequest()
            byPath.project = "site"; byPath.path = "docs/guide.md"
            #expect(Set(try await bed.call("mia", "bttask.lease.list", byPath, as: Agor_Bttask_V1_LeaseList.self).leases.map(\.holder)) == ["wade", "ari"])
        }
    }

    @Test("a lease tied to a task ends when the task is done, with an event on the group's stream")
    func tiedToATask() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let task = try await bed.create("mia", "refactor the parser")
            let claimed = try await bed.call("wes", "bttask.claim", bed.claim(task)).task
            let lease = try await bed.call("wes", "bttask.lease.acquire", acquire(["parser/"], task: task.id), as: Agor_Bttask_V1_LeaseList.self).leases[0]
            #expect(lease.task == task.id)
            let review = try await bed.call("wes", "bttask.move", bed.move("wes", claimed, to: .review)).task
            #expect(try await bed.runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM leases") } == 1)
            _ = try await bed.call("mia", "bttask.move", bed.move("mia", review, to: .done))
            #expect(try await bed.runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM leases") } == 0)
            var since = Agor_Bttask_V1_ChangesRequest()
            since.group = "default"
            let kinds = try await bed.call("mia", "bttask.changes", since, as: Agor_Bttask_V1_ChangeList.self).changes.map(\.kind)
            #expect(Array(kinds.suffix(4)) == ["lease.acquired", "task.moved", "task.moved", "lease.released"], "\(kinds)")
        }
    }

    @Test("bad input is refused with its reason and writes nothing")
    func badInput() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed throws in
            for (request, words) in [(acquire([]), "paths"), (acquire(["/etc/passwd"]), "relative"), (acquire(["a/../b"]), ".."),
                                     (acquire(Array(repeating: "a", count: 65)), "paths"), (acquire(["a"], ttl: 86_401), "ttl_s"),
                                     (acquire(["a"], ttl: -1), "ttl_s"), (acquire(["a"], task: "nope"), "task"),
                                     (acquire(["a"], project: String(repeating: "p", count: 129)), "project")] {
                let error = await bed.refusal("wes", "bttask.lease.acquire", request)
                #expect(error?.errorCode == .badRequest && error?.message.contains(words) == true, "\(String(describing: error))")
            }
            var other = acquire(["a"])
            other.group = "team"
            #expect(await bed.refusal("wes", "bttask.lease.acquire", other)?.errorCode == .forbidden)
            #expect(await bed.refusal("wes", "bttask.lease.renew", ref("not-an-id"))?.errorCode == .badRequest)
            #expect(await bed.refusal("wes", "bttask.lease.release", ref(RandomID.uuid()))?.errorCode == .notFound)
            #expect(try await bed.runtime.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM leases") } == 0)
        }
    }
}
