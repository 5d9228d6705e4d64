import Synchronization

/// Caps how many tasks run at once: `acquire` suspends while `limit` are running.
final class AsyncLimiter: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        if state.withLock({ s in
            if s.running < limit { s.running += 1; return true }
            return false
        }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { s -> Bool in
                if s.running < limit { s.running += 1; return true }
                s.waiters.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.running -= 1; return nil }
            return s.waiters.removeFirst()  // the slot passes straight to the waiter
        }
        next?.resume()
    }
}
