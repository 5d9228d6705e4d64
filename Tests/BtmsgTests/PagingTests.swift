import AgorTestSupport
import BtmsgAPI
import Bus
import Foundation
import SwiftProtobuf
import Testing
@testable import btmsg

@Suite("btmsg paging", .serialized, .timeLimit(.minutes(3)))
struct PagingTests {
    /// Follows `next_cursor` until a page comes without one; returns the pages' bodies.
    func pages(_ bed: BtmsgBed, _ viewer: String, _ method: String, limit: Int32,
               request make: (String, Int32) -> any SwiftProtobuf.Message) async throws -> [[String]] {
        var pages: [[String]] = []
        var cursor = ""
        repeat {
            let reply = try await bed.call(viewer, method, make(cursor, limit), as: Agor_Btmsg_V1_MessageList.self)
            pages.append(reply.messages.map(\.body))
            cursor = reply.nextCursor
        } while !cursor.isEmpty && pages.count < 20
        return pages
    }

    @Test("history, inbox and search page with cursors: each message once, none skipped, and a new one does not shift them")
    func listsPageWithCursors() async throws {
        try await withBed(BtmsgBed()) { bed in
            for i in 0..<25 { _ = try await bed.send("mia", to: "wes", "note \(i)") }

            // History: newest page first, each page oldest first.
            let history = try await pages(bed, "wes", "btmsg.history", limit: 10) { cursor, limit in
                var request = Agor_Btmsg_V1_HistoryRequest()
                request.with = "mia"; request.limit = limit; request.cursor = cursor
                return request
            }
            #expect(history.map(\.count) == [10, 10, 5])
            #expect(history.reversed().flatMap { $0 } == (0..<25).map { "note \($0)" })

            // Unread inbox: oldest first, pages continue toward newer; a message sent between pages
            // arrives at the end, once.
            var inbox = Agor_Btmsg_V1_InboxRequest()
            inbox.limit = 10
            let first = try await bed.call("wes", "btmsg.inbox", inbox, as: Agor_Btmsg_V1_MessageList.self)
            #expect(first.messages.map(\.body) == (0..<10).map { "note \($0)" } && !first.nextCursor.isEmpty)
            _ = try await bed.send("mia", to: "wes", "late")
            var seen = first.messages.map(\.body)
            var cursor = first.nextCursor
            while !cursor.isEmpty {
                inbox.cursor = cursor
                let page = try await bed.call("wes", "btmsg.inbox", inbox, as: Agor_Btmsg_V1_MessageList.self)
                seen += page.messages.map(\.body)
                cursor = page.nextCursor
            }
            #expect(seen == (0..<25).map { "note \($0)" } + ["late"])

            // Search: ranked pages, together every match once.
            let found = try await pages(bed, "wes", "btmsg.search", limit: 7) { cursor, limit in
                var request = Agor_Btmsg_V1_SearchRequest()
                request.query = "note"; request.limit = limit; request.cursor = cursor
                return request
            }
            #expect(Set(found.flatMap { $0 }) == Set((0..<25).map { "note \($0)" }) && found.flatMap { $0 }.count == 25)
        }
    }

    @Test("a cursor that is damaged, foreign or from another list is refused as a bad request")
    func badCursorsAreRefused() async throws {
        try await withBed(BtmsgBed()) { bed in
            for i in 0..<3 { _ = try await bed.send("mia", to: "wes", "n\(i)") }
            var history = Agor_Btmsg_V1_HistoryRequest()
            history.with = "mia"; history.limit = 2
            let page = try await bed.call("wes", "btmsg.history", history, as: Agor_Btmsg_V1_MessageList.self)
            #expect(!page.nextCursor.isEmpty)
            var inbox = Agor_Btmsg_V1_InboxRequest()
            inbox.all = true
            for bad in ["%%%", "not-a-cursor", page.nextCursor + "x", PageCursor.encode(list: "history", keys: ["seven"]), String(repeating: "A", count: 2000)] {
                history.cursor = bad
                #expect(await bed.refusal("wes", "btmsg.history", history)?.errorCode == .badRequest)
            }
            inbox.cursor = page.nextCursor   // a history cursor is not an inbox cursor
            #expect(await bed.refusal("wes", "btmsg.inbox", inbox)?.errorCode == .badRequest)
            // The service still answers.
            history.cursor = page.nextCursor
            #expect(try await bed.call("wes", "btmsg.history", history, as: Agor_Btmsg_V1_MessageList.self).messages.map(\.body) == ["n0"])
        }
    }
}
