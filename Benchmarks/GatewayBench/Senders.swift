import LoadKit
import BtmsgAPI
import Bus
import NIOCore
import Synchronization

/// Where the load's messages enter the system under test.
protocol LoadSender: Sendable {
    /// Sends `count` marked messages of `step` to group `group`; returns how many were accepted.
    func send(group: Int, step: Int, count: Int) async -> Int
    /// Returns once the system has everything accepted so far.
    func flush() async
}

/// agor: each message is a durable btmsg direct message (`btmsg.send` over CURVE, committed and
/// published by btmsg) from the group's sender agent to its sink; the Gateway pushes the group's
/// stream to the group's WebSocket clients.
struct AgorSender: LoadSender {
    let rpcs: [RPCClient]
    let recipients: [String]
    let bodyLength: Int
    let log: SentLog

    func send(group: Int, step: Int, count: Int) async -> Int {
        await withTaskGroup(of: Bool.self) { tasks in
            for _ in 0..<count {
                tasks.addTask {
                    var request = Agor_Btmsg_V1_SendRequest()
                    request.to = recipients[group]
                    request.body = String(repeating: "m", count: bodyLength)
                    let sentNs = monotonicNanos()
                    guard let reply = try? await rpcs[group].call(BtmsgMethods.send, request, options: .init(timeout: .seconds(10))),
                          let key = Keys.ofHex(reply.message.id.utf8) else { return false }
                    log.record(key, step: step, sentNs: sentNs, acknowledgedNs: monotonicNanos())
                    return true
                }
            }
            var accepted = 0
            for await ok in tasks where ok { accepted += 1 }
            return accepted
        }
    }

    func flush() async {}
}

/// nats-server: messages are published over one WebSocket connection with NATS's `PUB`, straight
/// to the group's subject; all messages due in one tick for a group go in one frame, as a NATS
/// client library would batch its writes.
final class NATSSender: LoadSender {
    let channel: Channel
    let tally: Tally
    let bodyLength: Int
    let log: SentLog
    let nextKey = Atomic<UInt64>(0)

    init(channel: Channel, tally: Tally, bodyLength: Int, log: SentLog) {
        self.channel = channel
        self.tally = tally
        self.bodyLength = bodyLength
        self.log = log
    }

    func send(group: Int, step: Int, count: Int) async -> Int {
        var buffer = ByteBuffer()
        let sentNs = monotonicNanos()
        for _ in 0..<count {
            let key = nextKey.add(1, ordering: .relaxed).newValue
            log.record(key, step: step, sentNs: sentNs, acknowledgedNs: sentNs)
            let body = Keys.payload(key, length: bodyLength)
            buffer.writeString("PUB bench.g\(group) \(body.utf8.count)\r\n\(body)\r\n")
        }
        WebSocketClient.send(buffer, on: channel)
        return count
    }

    /// A PING answered means nats-server has read every PUB written before it.
    func flush() async {
        let before = tally.state.withLock { $0.pongs }
        WebSocketClient.send(ByteBuffer(string: "PING\r\n"), on: channel)
        for _ in 0..<500 {
            if tally.state.withLock({ $0.pongs > before }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
