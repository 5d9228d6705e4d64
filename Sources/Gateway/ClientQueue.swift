import Synchronization

/// One stream client's bounded queue of frames, for while the client catches up (its replay, then
/// what arrived meanwhile). The hub pushes from its subscriber task; the session takes everything
/// queued at once. Once the session has caught up it switches the queue to direct: the hub then
/// writes frames straight to the client's connection, and the queue only says how the client ends.
/// Past `limit` queued frames the queue overflows and finishes.
final class ClientQueue<Element: Sendable>: Sendable {
    enum Push { case queued, direct, refused }
    enum End: Sendable { case closed, overflowed, revoked }

    private struct State {
        var items: [Element] = []
        var waiter: CheckedContinuation<[Element]?, Never>?
        var direct = false
        var end: End?
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Queues `item`, or says to deliver it directly (or not at all: the queue has ended).
    func push(_ item: Element) -> Push {
        // A waiting session is resumed outside the lock.
        let (result, waiter, handOver): (Push, CheckedContinuation<[Element]?, Never>?, [Element]?) = state.withLock { state in
            guard state.end == nil else { return (.refused, nil, nil) }
            if state.direct { return (.direct, nil, nil) }
            guard state.items.count < limit else {
                state.end = .overflowed
                defer { state.waiter = nil }
                return (.refused, state.waiter, nil)
            }
            state.items.append(item)
            guard let waiter = state.waiter else { return (.queued, nil, nil) }
            state.waiter = nil
            defer { state.items = [] }
            return (.queued, waiter, state.items)
        }
        waiter?.resume(returning: handOver)
        return result
    }

    /// Everything queued, oldest first, waiting for at least one item; nil once the queue has
    /// ended (an ordinary close still hands out what was queued before it).
    func next() async -> [Element]? {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                if state.end == .overflowed || state.end == .revoked {
                    continuation.resume(returning: nil)
                } else if !state.items.isEmpty {
                    let batch = state.items
                    state.items = []
                    continuation.resume(returning: batch)
                } else if state.end != nil {
                    continuation.resume(returning: nil)
                } else {
                    state.waiter = continuation
                }
            }
        }
    }

    /// What is queued, or, when nothing is, switches to direct delivery and returns nil. Frames
    /// the session wrote before the switch were handed to the connection first, so order holds.
    func takeOrGoDirect() -> [Element]? {
        state.withLock { state in
            guard state.items.isEmpty else {
                defer { state.items = [] }
                return state.items
            }
            state.direct = true
            return nil
        }
    }

    /// Ends the queue (the first reason given wins): a waiting `next()` returns nil.
    func finish(_ reason: End = .closed) {
        let waiter = state.withLock { state -> CheckedContinuation<[Element]?, Never>? in
            if state.end == nil { state.end = reason }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    var end: End? { state.withLock { $0.end } }
}
