import Foundation
import LoadKit
import NIOCore
import NIOPosix
import Synchronization

/// Reads the Gateway's stream frames (`batch=true`: one event per line) into a ledger. The event's
/// own fields come last in each line (`..."seq":N,"stream":"S","time_us":...}`, after the body), so
/// they are found from the end without parsing the body.
final class LedgerReader: FrameReader {
    let ledger: StreamLedger
    let onClose: @Sendable (Int?) -> Void

    init(ledger: StreamLedger, onClose: @escaping @Sendable (Int?) -> Void) {
        self.ledger = ledger
        self.onClose = onClose
    }

    func read(_ payload: inout ByteBuffer, reply: (ByteBuffer) -> Void) {
        guard let text = payload.readString(length: payload.readableBytes) else { return }
        for line in text.split(separator: "\n") {
            guard let seqRange = line.range(of: "\"seq\":", options: .backwards),
                  let streamRange = line.range(of: "\"stream\":\"", options: .backwards) else { continue }   // hello
            let digits = line[seqRange.upperBound...].prefix { $0.isNumber }
            let name = line[streamRange.upperBound...].prefix { $0 != "\"" }
            guard let seq = UInt64(digits) else { continue }
            ledger.note(stream: String(name), seq: seq)
        }
    }

    func closed(code: Int?) { onClose(code) }
}

/// Many WebSocket clients on the Gateway's stream, each resuming with its own cursors whenever its
/// connection ends (the Gateway killed, a slow-client close), as a dashboard does.
final class WebSocketFleet: Sendable {
    let ledgers: [StreamLedger]
    private let reconnects = Atomic<Int>(0)
    private let closeCodes = Mutex<[Int: Int]>([:])
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(clients: Int) {
        ledgers = (0..<clients).map { StreamLedger(name: "ws\($0)") }
    }

    var reconnectCount: Int { reconnects.load(ordering: .relaxed) }
    var closes: [Int: Int] { closeCodes.withLock { $0 } }

    /// Keeps client `index` connected until `stop`: connect with every stream's cursor (`initial`
    /// for streams it has not seen yet), wait for the close, connect again.
    func run(index: Int, host: String, port: Int, token: String, initial: [String: UInt64], stop: StopSignal) async {
        let ledger = ledgers[index]
        var first = true
        while !stop.isSet {
            if !first { reconnects.add(1, ordering: .relaxed) }
            first = false
            var cursors = initial
            cursors.merge(ledger.cursors) { _, seen in seen }
            let cursor = cursors.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
            let uri = "/v1/stream?batch=true&services=btmsg,bttask,runner&cursor=\(cursor)"
            let (closed, closedFeed) = AsyncStream<Int?>.makeStream()
            do {
                let channel = try await WebSocketClient.connect(group: group, host: host, port: port, uri: uri,
                                                                headers: [("Authorization", "Bearer \(token)")]) {
                    LedgerReader(ledger: ledger) { code in
                        closedFeed.yield(code)
                        closedFeed.finish()
                    }
                }
                // Wait for the close, looking up now and then to leave when the load stops.
                let watcher = Task {
                    while !stop.isSet {
                        do { try await Task.sleep(for: .milliseconds(200)) } catch { return }   // cancelled: the connection closed
                    }
                    try? await channel.close()
                }
                for await code in closed {
                    closeCodes.withLock { $0[code ?? 0, default: 0] += 1 }
                    break
                }
                watcher.cancel()
            } catch {
                // Refused (the Gateway is down or starting): try again shortly.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 100...400)))
            }
        }
    }

    func shutdown() async { try? await group.shutdownGracefully() }
}
