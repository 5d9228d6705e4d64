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

    /// Each (envelope, body) of a KIND_EVENT_BATCH frame's body, copied out; nil when malformed.
    /// For readers of batches that did not come off a socket (the fuzzer, tools).
    public static func batchItems(_ body: [UInt8]) -> [(envelope: [UInt8], body: [UInt8])]? {
        body.withUnsafeBytes { ProtoWire.packedPairs($0) }
    }
}
