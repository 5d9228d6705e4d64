import LoadKit
import NIOCore

/// An agor Gateway stream client (`batch=true`: a frame holds one event per line): each event is
/// noted by its message id; the first
/// (`hello`) says the client is registered with the Gateway's hub, so it will receive everything
/// published after. Other events (presence) carry no message id and are not counted.
final class AgorStreamReader: FrameReader {
    let tally: Tally
    init(tally: Tally) { self.tally = tally }

    func read(_ payload: inout ByteBuffer, reply: (ByteBuffer) -> Void) {
        let now = monotonicNanos()
        payload.withUnsafeReadableBytes { bytes in
            // A batch frame holds several events, one per line.
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != 10 { end += 1 }
                let event = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                // The hello frame's keys are sorted, so it alone starts with "person".
                if event.starts(with: #"{"person""#.utf8) {
                    tally.state.withLock { $0.ready = true }
                } else if let key = Keys.inFrame(event) {
                    tally.arrived(key, at: now)
                }
                start = end + 1
            }
        }
    }

    func closed(code: Int?) { tally.state.withLock { $0.closed = true; $0.closeCode = code } }
}

/// A NATS client over nats-server's WebSocket listener, speaking its text protocol: answers INFO
/// with CONNECT and a subscription (or none, for the publisher), PING with PONG, and counts the
/// payloads of MSG. A PONG after its own PING says the server has seen everything sent before it.
final class NATSReader: FrameReader {
    let tally: Tally
    let subject: String?
    private var pending = ByteBuffer()

    init(tally: Tally, subject: String?) {
        self.tally = tally
        self.subject = subject
    }

    func read(_ payload: inout ByteBuffer, reply: (ByteBuffer) -> Void) {
        let now = monotonicNanos()
        pending.writeBuffer(&payload)
        while let line = nextLine() {
            if line.starts(with: "MSG ".utf8) {
                // MSG <subject> <sid> [reply-to] <#bytes>
                guard let size = line.split(separator: UInt8(ascii: " ")).last.flatMap({ Int(String(decoding: $0, as: UTF8.self)) }) else { continue }
                guard pending.readableBytes >= size + 2 else {
                    // The payload has not all arrived: put the line back and wait for more.
                    pending.moveReaderIndex(to: pending.readerIndex - line.count - 2)
                    break
                }
                if let key = pending.withUnsafeReadableBytes({ Keys.inPayload(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }) {
                    tally.arrived(key, at: now)
                }
                pending.moveReaderIndex(forwardBy: size + 2)
            } else if line.starts(with: "PING".utf8) {
                reply(ByteBuffer(string: "PONG\r\n"))
            } else if line.starts(with: "PONG".utf8) {
                tally.state.withLock { $0.ready = true; $0.pongs += 1 }
            } else if line.starts(with: "INFO".utf8) {
                var hello = #"CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":false}"# + "\r\n"
                if let subject { hello += "SUB \(subject) 1\r\n" }
                reply(ByteBuffer(string: hello + "PING\r\n"))
            } else if line.starts(with: "-ERR".utf8) {
                print("nats-server: \(String(decoding: line, as: UTF8.self))")
            }
        }
        pending.discardReadBytes()
    }

    /// The next CRLF-terminated line, consumed; nil when no whole line is buffered.
    private func nextLine() -> [UInt8]? {
        let found: Int? = pending.withUnsafeReadableBytes { bytes in
            guard bytes.count >= 2 else { return nil }
            for i in 0..<(bytes.count - 1) where bytes[i] == 13 && bytes[i + 1] == 10 { return i }
            return nil
        }
        guard let end = found, let line = pending.readBytes(length: end) else { return nil }
        pending.moveReaderIndex(forwardBy: 2)
        return line
    }

    func closed(code: Int?) { tally.state.withLock { $0.closed = true; $0.closeCode = code } }
}
