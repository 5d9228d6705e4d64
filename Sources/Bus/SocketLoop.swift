import CLibZMQ
import Foundation
import SwiftProtobuf

/// One socket's part of its thread's loop (`SocketThread`): read everything readable as one batch,
/// write everything queued, run control operations. Nothing here runs on the cooperative pool.
struct SocketLoop {
    let core: SocketCore
    let raw: RawSocket
    let configuration: Socket.Configuration
    let linger: Int32

    private var pending: [Outbound] = []
    private var pendingHead = 0
    /// Bytes of pending[pendingHead...]: what libzmq has not accepted yet (for Diagnostics).
    private var pendingBytes = 0
    private var builder: BatchBuilder

    init(core: SocketCore, raw: RawSocket, configuration: Socket.Configuration, linger: Int32) {
        self.core = core
        self.raw = raw
        self.configuration = configuration
        self.linger = linger
        self.builder = BatchBuilder(readUserId: configuration.readUserId)
    }

    /// Whether the last `pollRequest` asked to read (the receive queue had room).
    private var reading = false

    /// Runs queued control operations and writes what is queued until libzmq would block. False when
    /// the socket is to close (closed by its owner, or the context ended).
    mutating func service() -> Bool {
        let before = pending.count
        let work = core.takeWork(into: &pending, takeOutbound: pendingHead == pending.count)
        for index in before..<pending.count { pendingBytes += pending[index].byteCount }
        for operation in work.operations { operation(raw) }
        for waiter in work.resumed { waiter.resume() }
        let alive = flushPending()
        return alive && !work.closing
    }

    /// What to poll the socket for, and whether the thread may sleep as far as this socket goes
    /// (nothing queued; the socket is then marked asleep so that its producers signal the eventfd).
    /// While blocked on POLLOUT the eventfd still wakes the thread for new work or a close.
    mutating func pollRequest() -> (events: Int16, maySleep: Bool) {
        let stillBlocked = pendingHead < pending.count
        reading = raw.type.canReceive && !core.inbound.isPaused
        var events: Int16 = 0
        if reading { events |= Int16(ZMQ_POLLIN) }
        if stillBlocked { events |= Int16(ZMQ_POLLOUT) }
        return (events, core.prepareToSleep(blocked: stillBlocked))
    }

    /// The socket polled readable: reads what is there. False when the context ended.
    mutating func polled() -> Bool {
        reading ? receiveAvailable() : true
    }

    /// Writes what it still can, then closes the socket (with its linger) and ends its sequences.
    mutating func finish() {
        _ = flushPending()
        // Stop the monitor first: libzmq sends its last events blocking, and nobody may read them.
        if core.monitor != nil { zmq_socket_monitor(raw.handle, nil, 0) }
        raw.close(linger: linger)
        core.finishClose()
    }

    /// Reads up to a batch of whole messages and hands them over. False when the context ended.
    private mutating func receiveAvailable() -> Bool {
        if let gate = configuration.subscriptionGate { return applySubscriptions(gate) }
        var bytes = 0
        do {
            while builder.count < configuration.maxBatchMessages {
                guard try builder.receiveOne(from: raw, dontWait: true) else { break }
                bytes = builder.bytes.count
                if bytes > 4 << 20 { break }
            }
        } catch {
            if !error.isTerminated { core.counters.sendErrors.add(1, ordering: .relaxed) }
            if error.isTerminated { return false }
        }
        guard let batch = builder.finish() else { return true }
        core.counters.messagesIn.add(batch.count, ordering: .relaxed)
        core.counters.bytesIn.add(bytes, ordering: .relaxed)
        core.counters.batchesIn.add(1, ordering: .relaxed)
        guard let inline = configuration.inlineHandler else {
            _ = core.inbound.push(batch)
            return true
        }
        let (replies, rest) = inline(batch)
        for reply in replies {
            pending.append(.message(reply))
            pendingBytes += reply.byteCount
        }
        for batch in rest { _ = core.inbound.push(batch) }
        return true
    }

    /// XPUB in manual mode: each subscription must be passed on with ZMQ_SUBSCRIBE before the next
    /// read (libzmq applies it to the pipe of the message read last), so they are decided one by one
    /// here, on the socket's thread. False when the context ended.
    private mutating func applySubscriptions(_ gate: Socket.SubscriptionGate) -> Bool {
        var reader = BatchBuilder(readUserId: true)
        for _ in 0..<configuration.maxBatchMessages {
            do {
                guard try reader.receiveOne(from: raw, dontWait: true) else { return true }
            } catch {
                return !error.isTerminated
            }
            guard let batch = reader.finish(), let message = batch.first else { continue }
            let frame = message.frame(0)
            guard let kind = frame.first, kind == 0 || kind == 1 else { continue }
            let topic = Array(frame.dropFirst())
            core.counters.messagesIn.add(1, ordering: .relaxed)
            if kind == 1 {
                if gate(topic, message.userId) {
                    try? raw.set(.subscribe(topic))
                } else {
                    core.counters.subscriptionsRefused.add(1, ordering: .relaxed)
                }
            } else {
                try? raw.set(.unsubscribe(topic))
            }
        }
        return true
    }

    /// Writes queued messages until libzmq would block. False when the context ended.
    private mutating func flushPending() -> Bool {
        var sent = 0
        var sentBytes = 0
        defer {
            if pendingHead == pending.count {
                pending.removeAll(keepingCapacity: pending.capacity < 65536)
                pendingHead = 0
            }
            core.counters.queuedOut.store(pending.count - pendingHead, ordering: .relaxed)
            pendingBytes = pendingHead == 0 && pending.isEmpty ? 0 : pendingBytes
            core.counters.pendingBytes.store(pendingBytes, ordering: .relaxed)
            if sent > 0 {
                core.counters.messagesOut.add(sent, ordering: .relaxed)
                core.counters.bytesOut.add(sentBytes, ordering: .relaxed)
            }
        }
        while pendingHead < pending.count {
            do {
                // A run of queued items leaves as one frame: a single message or event as it is,
                // several requests as a request batch, several events of one topic as an event batch.
                let run: Int
                let frame: OutgoingMessage
                switch pending[pendingHead] {
                case .message(let message):
                    run = configuration.packRequests ? requestRun(from: pendingHead) : 1
                    frame = run == 1 ? message : buildRequestBatch(pendingHead..<(pendingHead + run))
                case .event(let topic, let envelope, let body):
                    run = coalescibleRun(from: pendingHead)
                    frame = run == 1 ? OutgoingMessage(frames: [topic, envelope, body]) : buildBatch(pendingHead..<(pendingHead + run))
                }
                guard try raw.send(frame) else { return true }
                sentBytes += frame.byteCount
                if run > 1 { core.counters.messagesCoalesced.add(run, ordering: .relaxed) }
                for index in pendingHead..<(pendingHead + run) { pendingBytes -= pending[index].byteCount }
                pendingHead += run
                sent += run
            } catch {
                if error.isTerminated { return false }
                // Unroutable or refused message: dropped and counted, the socket goes on.
                core.counters.sendErrors.add(1, ordering: .relaxed)
                pendingBytes -= pending[pendingHead].byteCount
                pendingHead += 1
                sent += 1
            }
        }
        return true
    }

    /// How many queued events from `start` share its topic and fit in one batch frame.
    private func coalescibleRun(from start: Int) -> Int {
        guard configuration.maxCoalescedBytes > 0, case .event(let topic, let e0, let b0) = pending[start] else { return 1 }
        var bytes = e0.count + b0.count
        var index = start + 1
        while index < pending.count, case .event(let t, let e, let b) = pending[index], t == topic {
            bytes += e.count + b.count + 8
            if bytes > configuration.maxCoalescedBytes { break }
            index += 1
        }
        return index - start
    }

    /// How many queued requests ([envelope, body] each) from `start` fit in one request batch frame.
    private func requestRun(from start: Int) -> Int {
        guard configuration.maxCoalescedBytes > 0 else { return 1 }
        var bytes = 0
        var index = start
        while index < pending.count, case .message(let message) = pending[index], case .multi(let frames) = message.storage,
              frames.count == 2 {
            bytes += message.byteCount + 8
            if bytes > configuration.maxCoalescedBytes && index > start { break }
            index += 1
        }
        return max(1, index - start)
    }

    /// [envelope(KIND_REQUEST_BATCH), packed (envelope, body) pairs] for the queued requests in `range`.
    private func buildRequestBatch(_ range: Range<Int>) -> OutgoingMessage {
        var body: [UInt8] = []
        body.reserveCapacity(range.count * 128)
        for index in range {
            guard case .message(let message) = pending[index], case .multi(let frames) = message.storage else { continue }
            ProtoWire.appendPacked(envelope: frames[0], body: frames[1], to: &body)
        }
        var header = Envelope(kind: .requestBatch)
        header.batchCount = UInt32(range.count)
        return OutgoingMessage(frames: [header.bytes(), body])
    }

    /// [topic, envelope(KIND_EVENT_BATCH), EventBatch] for the queued events in `range`.
    private func buildBatch(_ range: Range<Int>) -> OutgoingMessage {
        guard case .event(let topic, _, _) = pending[range.lowerBound] else { fatalError("not an event") }
        var body: [UInt8] = []
        body.reserveCapacity(range.count * 96)
        for index in range {
            guard case .event(_, let envelope, let eventBody) = pending[index] else { continue }
            ProtoWire.appendPacked(envelope: envelope, body: eventBody, to: &body)
        }
        var header = Envelope(kind: .eventBatch)
        header.batchCount = UInt32(range.count)
        return OutgoingMessage(frames: [topic, header.bytes(), body])
    }
}
