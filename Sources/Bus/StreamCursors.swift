/// Where a consumer of sequenced streams stands: per stream, the number of the last event it has
/// delivered, and what an arriving number means (deliver it, drop it, or replay a gap first).
/// Pure, no I/O: `SequencedSubscriber` and the Gateway's stream sessions decide with it and do the
/// replays themselves, so the two consumers cannot disagree on what is a duplicate or a gap.
public struct StreamCursors: Sendable, Equatable {
    /// Where a stream without a cursor starts.
    public enum Unknown: Sendable, Equatable {
        /// At its first event: anything later arriving first is a gap to replay (a Bus subscriber
        /// owes its consumer every event).
        case fromFirstEvent
        /// Wherever its first live event is (a WebSocket client that gave no cursor for it wants
        /// what comes from now on).
        case fromWhatArrives
    }

    /// What to do with an arriving event (or a head marker).
    public enum Verdict: Sendable, Equatable {
        /// The next one of its stream: deliver it, then `advance`.
        case next
        /// At or behind the cursor: delivered already.
        case seen
        /// Events `after + 1 ... through` are missing: replay them first (then the event, if one
        /// came, is the next).
        case gap(after: UInt64, through: UInt64)
    }

    public private(set) var positions: [String: UInt64]
    public let unknown: Unknown

    public init(_ positions: [String: UInt64] = [:], unknown: Unknown = .fromFirstEvent) {
        self.positions = positions
        self.unknown = unknown
    }

    /// The last number delivered on `stream` (0: none).
    public subscript(stream: String) -> UInt64 { positions[stream] ?? 0 }

    /// Whether `stream` has a cursor (a start point, given or reached).
    public func knows(_ stream: String) -> Bool { positions[stream] != nil }

    /// What event `seq` of `stream` means here.
    public func verdict(_ stream: String, _ seq: UInt64) -> Verdict {
        guard let cursor = positions[stream] else {
            switch unknown {
            case .fromWhatArrives: return .next
            case .fromFirstEvent: return seq == 1 ? .next : .gap(after: 0, through: seq - 1)
            }
        }
        if seq <= cursor { return .seen }
        return seq == cursor + 1 ? .next : .gap(after: cursor, through: seq - 1)
    }

    /// What a head marker ("`stream` has reached `seq`") means: a gap through `seq`, or nothing.
    /// A marker is never delivered; for a stream starting where events arrive it says nothing.
    public func verdict(head stream: String, _ seq: UInt64) -> Verdict {
        let cursor: UInt64
        switch (positions[stream], unknown) {
        case (let known?, _): cursor = known
        case (nil, .fromFirstEvent): cursor = 0
        case (nil, .fromWhatArrives): return .seen
        }
        return seq > cursor ? .gap(after: cursor, through: seq) : .seen
    }

    /// Records `seq` as delivered on `stream` (never moves a cursor back).
    public mutating func advance(_ stream: String, to seq: UInt64) {
        positions[stream] = max(seq, self[stream])
    }

    /// A replayed event: taken (and the cursor advanced) only when it is the next of its stream,
    /// so a replay page that overlaps what was delivered, or skips, cannot deliver twice or out of order.
    public mutating func takeReplayed(_ stream: String, _ seq: UInt64) -> Bool {
        guard seq == self[stream] + 1 else { return false }
        positions[stream] = seq
        return true
    }
}
