import CLibZMQ
import Glibc

/// A message to send: one or more frames.
public struct OutgoingMessage: Sendable {
    enum Storage: Sendable {
        case single([UInt8])
        case multi([[UInt8]])
    }
    var storage: Storage

    public init(_ frame: [UInt8]) { storage = .single(frame) }
    public init(frames: [[UInt8]]) {
        storage = frames.count == 1 ? .single(frames[0]) : .multi(frames)
    }

    public var frames: [[UInt8]] {
        switch storage {
        case .single(let f): [f]
        case .multi(let fs): fs
        }
    }

    public var byteCount: Int {
        switch storage {
        case .single(let f): f.count
        case .multi(let fs): fs.reduce(0) { $0 + $1.count }
        }
    }
}

/// Everything one wake-up of a socket's thread read: several messages in one contiguous buffer,
/// so handing them to async code costs one allocation per batch, not per message.
public final class ReceivedBatch: Sendable, RandomAccessCollection {
    let bytes: [UInt8]
    /// End offset of each frame in `bytes`.
    let frameEnds: [Int]
    /// End index (exclusive) in `frameEnds` of each message's frames.
    let messageEnds: [Int]
    /// The authenticated sender of each message (ZMQ User-Id), when the socket reads it.
    let userIds: [String?]
    /// The messages of the batch this one shows, when it shows only some of them (`selecting`).
    let selected: [Int]?

    init(bytes: [UInt8], frameEnds: [Int], messageEnds: [Int], userIds: [String?], selected: [Int]? = nil) {
        self.bytes = bytes
        self.frameEnds = frameEnds
        self.messageEnds = messageEnds
        self.userIds = userIds
        self.selected = selected
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { selected?.count ?? messageEnds.count }
    public subscript(position: Int) -> ReceivedMessage {
        ReceivedMessage(batch: self, index: selected?[position] ?? position)
    }

    /// A batch made of messages given frame by frame (requests unpacked from a request batch, for
    /// the async handlers), each with its sender's User-Id.
    static func assembled(_ messages: [[[UInt8]]], userIds: [String?]) -> ReceivedBatch {
        var bytes: [UInt8] = [], frameEnds: [Int] = [], messageEnds: [Int] = []
        for frames in messages {
            for frame in frames {
                bytes.append(contentsOf: frame)
                frameEnds.append(bytes.count)
            }
            messageEnds.append(frameEnds.count)
        }
        return ReceivedBatch(bytes: bytes, frameEnds: frameEnds, messageEnds: messageEnds, userIds: userIds)
    }

    /// The same batch showing only the messages at `positions` (shares the bytes, copies nothing).
    func selecting(_ positions: [Int]) -> ReceivedBatch {
        ReceivedBatch(bytes: bytes, frameEnds: frameEnds, messageEnds: messageEnds, userIds: userIds,
                      selected: positions.map { selected?[$0] ?? $0 })
    }

    /// Total bytes of all frames.
    public var byteCount: Int { bytes.count }
}

/// One received message: a view into its batch.
public struct ReceivedMessage: Sendable {
    let batch: ReceivedBatch
    let index: Int

    private var firstFrame: Int { index == 0 ? 0 : batch.messageEnds[index - 1] }

    public var frameCount: Int { batch.messageEnds[index] - firstFrame }

    /// The authenticated identity of the peer that sent it (ZAP User-Id), if any.
    public var userId: String? { batch.userIds.isEmpty ? nil : batch.userIds[index] }

    private func range(ofFrame frame: Int) -> Range<Int> {
        let global = firstFrame + frame
        let start = global == 0 ? 0 : batch.frameEnds[global - 1]
        return start..<batch.frameEnds[global]
    }

    /// A copy of one frame's bytes.
    public func frame(_ i: Int) -> [UInt8] { Array(batch.bytes[range(ofFrame: i)]) }

    /// One frame's bytes without a copy.
    public func withFrame<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let r = range(ofFrame: i)
        return try batch.bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    public func frameSize(_ i: Int) -> Int { range(ofFrame: i).count }

    public var frames: [[UInt8]] { (0..<frameCount).map(frame) }
}

/// Fills one `ReceivedBatch` from a socket on its owning thread.
struct BatchBuilder {
    var bytes: [UInt8] = []
    var frameEnds: [Int] = []
    var messageEnds: [Int] = []
    var userIds: [String?] = []
    let readUserId: Bool
    /// Last User-Id seen, reused to avoid a String allocation per message from the same peer.
    var lastUserIdBytes: [UInt8] = []
    var lastUserId: String?

    init(readUserId: Bool) {
        self.readUserId = readUserId
    }

    var count: Int { messageEnds.count }

    /// Receives one whole message into the batch. Returns false when nothing is waiting.
    mutating func receiveOne(from socket: RawSocket, dontWait: Bool) throws(ZMQError) -> Bool {
        var msg = zmq_msg_t()
        var first = true
        // ROUTER's routing-id frame carries no metadata: take the User-Id from the first frame that has one.
        var userIdPending = readUserId
        while true {
            zmq_msg_init(&msg)
            let flags = (first && dontWait) ? ZMQ_DONTWAIT : 0
            var rc: Int32
            repeat { rc = zmq_msg_recv(&msg, socket.handle, flags) } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 {
                let error = zmq_errno()
                zmq_msg_close(&msg)
                if error == EAGAIN && first { return false }
                throw ZMQError(code: error)
            }
            if userIdPending && noteUserId(&msg) { userIdPending = false }
            let size = zmq_msg_size(&msg)
            if size > 0, let data = zmq_msg_data(&msg) {
                bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size))
            }
            frameEnds.append(bytes.count)
            let more = zmq_msg_more(&msg) != 0
            zmq_msg_close(&msg)
            first = false
            if !more { break }
        }
        if userIdPending { userIds.append(nil) }
        messageEnds.append(frameEnds.count)
        return true
    }

    /// Records the frame's User-Id; false when the frame has none.
    private mutating func noteUserId(_ msg: inout zmq_msg_t) -> Bool {
        guard let cString = zmq_msg_gets(&msg, "User-Id") else { return false }
        let length = strlen(cString)
        let same = length > 0 && length == lastUserIdBytes.count && lastUserIdBytes.withUnsafeBytes {
            memcmp($0.baseAddress!, cString, length) == 0
        }
        if !same {
            lastUserIdBytes = Array(UnsafeRawBufferPointer(start: cString, count: length))
            lastUserId = String(decoding: lastUserIdBytes, as: UTF8.self)
        }
        userIds.append(lastUserId)
        return true
    }

    mutating func finish() -> ReceivedBatch? {
        guard !messageEnds.isEmpty else { return nil }
        let batch = ReceivedBatch(bytes: bytes, frameEnds: frameEnds, messageEnds: messageEnds,
                                  userIds: readUserId ? userIds : [])
        // Size the next batch's buffers like this one, so filling it does not grow them step by step.
        let (byteCount, frameCount, messageCount) = (bytes.count, frameEnds.count, messageEnds.count)
        bytes = []
        frameEnds = []
        messageEnds = []
        userIds = []
        if messageCount > 1 {
            bytes.reserveCapacity(byteCount)
            frameEnds.reserveCapacity(frameCount)
            messageEnds.reserveCapacity(messageCount)
            if readUserId { userIds.reserveCapacity(messageCount) }
        }
        return batch
    }
}
