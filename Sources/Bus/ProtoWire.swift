/// Hand-written protobuf encoding and decoding for the hot path of batch frames, where going through
/// generated message types would allocate per item. The layout is `EventBatch` from envelope.proto.
enum ProtoWire {
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func varintSize(_ value: Int) -> Int {
        var v = UInt64(value), n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// Appends field 1 of EventBatch: a PackedEvent{envelope = 1, body = 2}. Request and reply
    /// batches use the same layout.
    static func appendPacked(envelope: [UInt8], body: [UInt8], to out: inout [UInt8]) {
        let inner = 1 + varintSize(envelope.count) + envelope.count + 1 + varintSize(body.count) + body.count
        out.append(0x0A)
        appendVarint(UInt64(inner), to: &out)
        out.append(0x0A)
        appendVarint(UInt64(envelope.count), to: &out)
        out.append(contentsOf: envelope)
        out.append(0x12)
        appendVarint(UInt64(body.count), to: &out)
        out.append(contentsOf: body)
    }

    /// Reads a varint at `offset`, advancing it; nil when the bytes end or it is too long.
    static func readVarint(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count && shift < 64 {
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    /// Splits an EventBatch body into (envelope, body) byte ranges. Nil when malformed.
    static func splitEventBatch(_ bytes: UnsafeRawBufferPointer) -> [(envelope: Range<Int>, body: Range<Int>)]? {
        var items: [(Range<Int>, Range<Int>)] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes[offset] == 0x0A else { return nil }
            offset += 1
            guard let length = readVarint(bytes, &offset), length <= UInt64(bytes.count - offset) else { return nil }
            let end = offset + Int(length)
            var envelope = 0..<0, body = 0..<0
            while offset < end {
                let tag = bytes[offset]
                offset += 1
                // The length's own varint may run past the item's end: check before measuring
                // what is left (end - offset would be negative).
                guard tag == 0x0A || tag == 0x12,
                      let fieldLength = readVarint(bytes, &offset), offset <= end, fieldLength <= UInt64(end - offset) else { return nil }
                let range = offset..<(offset + Int(fieldLength))
                if tag == 0x0A { envelope = range } else { body = range }
                offset = range.upperBound
            }
            items.append((envelope, body))
        }
        return items
    }

    /// The envelope's kind (field 2) and method (field 4), read without decoding the rest: what the
    /// writer loop needs to route a request. Nil when the bytes are not a well-formed message.
    static func envelopeHead(_ bytes: UnsafeRawBufferPointer) -> (kind: UInt64, method: String)? {
        var offset = 0
        var kind: UInt64 = 0
        var method = 0..<0
        while offset < bytes.count {
            guard let key = readVarint(bytes, &offset) else { return nil }
            switch key & 7 {
            case 0:
                guard let value = readVarint(bytes, &offset) else { return nil }
                if key >> 3 == 2 { kind = value }
            case 1:
                guard bytes.count - offset >= 8 else { return nil }
                offset += 8
            case 2:
                guard let length = readVarint(bytes, &offset), length <= UInt64(bytes.count - offset) else { return nil }
                if key >> 3 == 4 { method = offset..<(offset + Int(length)) }
                offset += Int(length)
            case 5:
                guard bytes.count - offset >= 4 else { return nil }
                offset += 4
            default:
                return nil
            }
        }
        return (kind, String(decoding: UnsafeRawBufferPointer(rebasing: bytes[method]), as: UTF8.self))
    }

    /// The (envelope, body) pairs of a body in the EventBatch layout, copied out. Nil when malformed.
    static func packedPairs(_ bytes: UnsafeRawBufferPointer) -> [(envelope: [UInt8], body: [UInt8])]? {
        splitEventBatch(bytes).map { ranges in ranges.map { (Array(bytes[$0.envelope]), Array(bytes[$0.body])) } }
    }
}
