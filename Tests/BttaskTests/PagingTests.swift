import AgorTestSupport
import BttaskAPI
import Bus
import Foundation
import Testing
@testable import bttask

@Suite("bttask paging", .serialized, .timeLimit(.minutes(3)))
struct TaskPagingTests {
    func allPages(_ bed: BttaskBed, _ method: String, limit: Int32) async throws -> [[String]] {
        var pages: [[String]] = []
        var request = Agor_Bttask_V1_ListRequest()
        request.limit = limit
        repeat {
            let reply = try await bed.call("mia", method, request, as: Agor_Bttask_V1_TaskList.self)
            pages.append(reply.tasks.map(\.title))
            request.cursor = reply.nextCursor
        } while !request.cursor.isEmpty && pages.count < 20
        return pages
    }

    @Test("the board and the ready list page with cursors in their own order, each task once")
    func boardPagesWithCursors() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            let priorities: [Agor_Bttask_V1_Priority] = [.low, .high, .medium]
            for i in 0..<23 { _ = try await bed.create("mia", "task \(i)", priority: priorities[i % 3]) }
            var whole = Agor_Bttask_V1_ListRequest()
            whole.limit = 1000
            let unpaged = try await bed.call("mia", "bttask.list", whole, as: Agor_Bttask_V1_TaskList.self)
            #expect(unpaged.tasks.count == 23 && unpaged.nextCursor.isEmpty)

            let pages = try await allPages(bed, "bttask.list", limit: 5)
            #expect(pages.map(\.count) == [5, 5, 5, 5, 3])
            #expect(pages.flatMap { $0 } == unpaged.tasks.map(\.title))

            let ready = try await bed.call("mia", "bttask.ready", whole, as: Agor_Bttask_V1_TaskList.self)
            let readyPages = try await allPages(bed, "bttask.ready", limit: 6)
            #expect(readyPages.flatMap { $0 } == ready.tasks.map(\.title) && ready.tasks.count == 23)
        }
    }

    @Test("a damaged or foreign cursor is refused as a bad request")
    func badCursorsAreRefused() async throws {
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            for i in 0..<3 { _ = try await bed.create("mia", "t\(i)") }
            var request = Agor_Bttask_V1_ListRequest()
            request.limit = 2
            let page = try await bed.call("mia", "bttask.list", request, as: Agor_Bttask_V1_TaskList.self)
            #expect(!page.nextCursor.isEmpty)
            for bad in ["***", PageCursor.encode(list: "tasks", keys: ["x", "1", "1", "1", "id"]), PageCursor.encode(list: "tasks", keys: ["1"])] {
                request.cursor = bad
                #expect(await bed.refusal("mia", "bttask.list", request)?.errorCode == .badRequest)
            }
            request.cursor = page.nextCursor
            #expect(await bed.refusal("mia", "bttask.ready", request)?.errorCode == .badRequest)
            let rest = try await bed.call("mia", "bttask.list", request, as: Agor_Bttask_V1_TaskList.self)
            #expect(rest.tasks.count == 1 && rest.nextCursor.isEmpty)
        }
    }
}
