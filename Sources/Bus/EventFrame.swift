/// Reading event frames [topic, envelope, body] as a subscriber sees them, without copies: a single
/// event, or each item of a KIND_EVENT_BATCH frame.
public enum EventFrame {
    /// Calls `body` with (envelope bytes, body bytes) of each event in `message`.
    /// Returns false when the message is not a well-formed event frame.
    @discardableResult
    public static func forEach(in message: ReceivedMessage,
                               _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> Bool {
        guard message.frameCount == 3 else { return false }
        let kind: Envelope? = message.withFrame(1) { try? Envelope(serializedBytes: Array($0)) }
        guard let kind else { return false }
        if kind.kind != .eventBatch {
            message.withFrame(1) { envelope in message.withFrame(2) { body(envelope, $0) } }
            return true
        }
        return message.withFrame(2) { raw -> Bool in
            guard let items = ProtoWire.splitEventBatch(raw) else { return false }
            for item in items {
                body(UnsafeRawBufferPointer(rebasing: raw[item.envelope]), UnsafeRawBufferPointer(rebasing: raw[item.body]))
            }
            return true
        }
    }
}
