import Bus
import Testing

/// The one rule both consumers of sequenced streams (the Bus subscriber, the Gateway's stream
/// sessions) follow: what an arriving number means for a cursor.
@Suite struct StreamCursorsTests {
    @Test func theNextIsDeliveredWhatIsBehindIsSeenAndAJumpIsAGap() {
        var cursors = StreamCursors(["a": 3])
        #expect(cursors.verdict("a", 4) == .next)
        #expect(cursors.verdict("a", 3) == .seen)
        #expect(cursors.verdict("a", 1) == .seen)
        #expect(cursors.verdict("a", 7) == .gap(after: 3, through: 6))
        cursors.advance("a", to: 4)
        #expect(cursors["a"] == 4)
        cursors.advance("a", to: 2)   // never backwards
        #expect(cursors["a"] == 4)
    }

    @Test func aStreamWithoutACursorStartsAtItsFirstEventOrAtWhatArrives() {
        let owed = StreamCursors()
        #expect(owed.verdict("new", 1) == .next)
        #expect(owed.verdict("new", 5) == .gap(after: 0, through: 4))
        #expect(owed.verdict(head: "new", 5) == .gap(after: 0, through: 5))
        #expect(!owed.knows("new") && owed["new"] == 0)

        var live = StreamCursors(["named": 2], unknown: .fromWhatArrives)
        #expect(live.verdict("other", 900) == .next)
        #expect(live.verdict(head: "other", 900) == .seen)
        live.advance("other", to: 900)
        #expect(live.verdict("other", 902) == .gap(after: 900, through: 901))
        #expect(live.verdict("named", 5) == .gap(after: 2, through: 4))   // a named stream is owed its events
    }

    @Test func aHeadMarkerOnlyEverAsksForAGap() {
        let cursors = StreamCursors(["a": 5])
        #expect(cursors.verdict(head: "a", 5) == .seen)
        #expect(cursors.verdict(head: "a", 4) == .seen)
        #expect(cursors.verdict(head: "a", 8) == .gap(after: 5, through: 8))
    }

    @Test func aReplayPageIsTakenOnlyInOrderFromTheCursor() {
        var cursors = StreamCursors(["a": 2])
        // An overlapping, skipping page: 1 and 2 were delivered, 4 comes before 3.
        let taken = [1, 2, 3, 5, 4, 5].filter { cursors.takeReplayed("a", UInt64($0)) }
        #expect(taken == [3, 4, 5])
        #expect(cursors["a"] == 5)
        #expect(cursors.positions == ["a": 5])
    }
}
