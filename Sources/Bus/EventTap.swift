import Foundation

/// A plain CURVE SUB socket that records exactly what a publisher writes to it: every frame set
/// as its items (events and head markers, batch items one by one), with the time each arrived, no
/// replay and no filtering. What a subscriber really receives: for tests of what must not arrive
/// and for the revocation benchmark.
public final class EventTap: Sendable {
    public struct Item: Sendable, Equatable {
        public var stream: String
        public var seq: UInt64
        public var kind: EnvelopeKind
        /// The envelope kind of the frame set the item came in (`.eventBatch` for batch items).
        public var frameKind: EnvelopeKind
        public var received: ContinuousClock.Instant
    }

    public let socket: Socket
    public let items = Locked<[Item]>([])
    private let reader: Task<Void, Never>

    public init(context: Context, endpoint: String, serverKey: [UInt8], key: CurveKeyPair, prefix: String) throws {
        var configuration = Socket.Configuration(
            options: [.curveClient(publicKey: key.publicKey, secretKey: key.secretKey, serverKey: serverKey),
                      .linger(0), .reconnectInterval(100), .subscribe(prefix)],
            connect: [endpoint])
        configuration.thread = context.clientThread
        socket = try Socket(context: context, type: .sub, configuration)
        let items = self.items
        reader = Task { [messages = socket.messages] in
            for await message in messages {
                guard message.frameCount >= 2, let outer = try? Envelope(serializedBytes: message.frame(1)) else { continue }
                var found: [Item] = []
                let now = ContinuousClock.now
                _ = EventFrame.forEach(in: message) { envelope, _ in
                    guard let e = try? Envelope(serializedBytes: Array(envelope)) else { return }
                    found.append(Item(stream: e.stream, seq: e.seq, kind: e.kind, frameKind: outer.kind, received: now))
                }
                items.withLock { $0.append(contentsOf: found) }
            }
        }
    }

    /// Sequence numbers of the events received (head markers left out).
    public var eventSeqs: [UInt64] { items.withLock { $0.filter { $0.kind == .event }.map(\.seq) } }

    public func close() async {
        await socket.close()
        reader.cancel()
    }
}
