/// Splits an agent's output into lines on the byte 0x0A, and nothing else: JSON allows the raw
/// characters U+2028 and U+2029 inside strings, and a Unicode line splitter would cut there.
///
/// Bounded: a line longer than `limit` bytes is not kept. Its bytes are dropped as they arrive
/// (memory never holds more than `limit` of it), and when its newline comes it is reported as
/// `.tooLong(bytes)`; the next line is read as usual. A final line without a newline is handed
/// out by `finish()`.
///
/// Not thread-safe: one reader owns it.
public struct LineSplitter {
    public enum Piece: Equatable, Sendable {
        case line([UInt8])
        /// A line past the limit, dropped; its length without the newline.
        case tooLong(Int)
    }

    public let limit: Int
    private var current: [UInt8] = []
    /// Bytes of the current line dropped so far (it is over the limit), or 0.
    private var dropped = 0

    public init(limit: Int) {
        precondition(limit > 0, "a line limit is at least one byte")
        self.limit = limit
    }

    /// Bytes of the current, unfinished line held now (at most `limit`).
    public var pendingBytes: Int { current.count }

    /// Feeds bytes as they come from the pipe; calls `emit` for each finished line, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (Piece) -> Void) {
        var start = 0
        let count = bytes.count
        while start < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            guard let newline = rest.firstIndex(of: 0x0A) else {
                take(rest)
                return
            }
            take(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<newline]))
            emit(finishLine())
            start += newline - rest.startIndex + 1
        }
    }

    /// Convenience for arrays (tests, small inputs).
    public mutating func feed(_ bytes: [UInt8], _ emit: (Piece) -> Void) {
        bytes.withUnsafeBytes { feed($0, emit) }
    }

    /// The last line when the stream ended without a newline (nil when nothing is pending).
    public mutating func finish() -> Piece? {
        guard !current.isEmpty || dropped > 0 else { return nil }
        return finishLine()
    }

    private mutating func take(_ part: UnsafeRawBufferPointer) {
        guard !part.isEmpty else { return }
        if dropped > 0 {
            dropped += part.count
        } else if current.count + part.count > limit {
            dropped = current.count + part.count
            current = []
        } else {
            current.append(contentsOf: part)
        }
    }

    private mutating func finishLine() -> Piece {
        defer {
            current.removeAll(keepingCapacity: current.capacity <= 1 << 16)
            dropped = 0
        }
        return dropped > 0 ? .tooLong(dropped) : .line(current)
    }
}
