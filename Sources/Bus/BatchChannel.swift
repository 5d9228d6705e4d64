import Synchronization

/// The hand-over from a socket thread to async code: a bounded queue of batches with one consumer.
///
/// The producer never blocks: when the queue holds `capacity` batches it reports "full" and the
/// socket thread stops reading, so libzmq's own high-water marks apply further back. The consumer
/// calls `onSpace` when it takes a batch from a full queue, to resume reading.
final class BatchChannel<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var head = 0
        var waiter: CheckedContinuation<Element?, Never>?
        var finished = false
        var producerPaused = false
    }

    private let state = Mutex(State())
    let capacity: Int
    private let onSpace: @Sendable () -> Void

    init(capacity: Int, onSpace: @escaping @Sendable () -> Void) {
        self.capacity = capacity
        self.onSpace = onSpace
    }

    /// Hands a batch over. Returns false when the queue is now full and the producer should pause.
    func push(_ element: Element) -> Bool {
        let (waiter, hasRoom): (CheckedContinuation<Element?, Never>?, Bool) = state.withLock { s in
            if s.finished { return (nil, true) }
            if let w = s.waiter {
                s.waiter = nil
                return (w, true)
            }
            s.buffer.append(element)
            let full = s.buffer.count - s.head >= capacity
            if full { s.producerPaused = true }
            return (nil, !full)
        }
        waiter?.resume(returning: element)
        return hasRoom
    }

    /// Whether the producer was told to pause and has not been resumed.
    var isPaused: Bool { state.withLock { $0.producerPaused } }

    /// Number of batches waiting for the consumer.
    var depth: Int { state.withLock { $0.buffer.count - $0.head } }

    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Element?, Never>? in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: nil)
    }

    func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let (immediate, resumeProducer): (Element??, Bool) = state.withLock { s in
                    if s.head < s.buffer.count {
                        let e = s.buffer[s.head]
                        s.head += 1
                        compact(&s)
                        let paused = s.producerPaused
                        s.producerPaused = false
                        return (.some(e), paused)
                    }
                    if s.finished || Task.isCancelled { return (.some(nil), false) }
                    s.waiter = continuation
                    return (.none, false)
                }
                if resumeProducer { onSpace() }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Element?, Never>? in
                let w = s.waiter
                s.waiter = nil
                return w
            }
            waiter?.resume(returning: nil)
        }
    }

    private func compact(_ s: inout State) {
        if s.head == s.buffer.count {
            s.buffer.removeAll(keepingCapacity: true)
            s.head = 0
        } else if s.head > 64 && s.head * 2 > s.buffer.count {
            s.buffer.removeFirst(s.head)
            s.head = 0
        }
    }
}
