import Synchronization

/// Which step each message belongs to and when it was sent, by its key: btmsg's message id (known
/// from the reply) or the NATS payload's own counter. Receivers only note keys and arrival times;
/// the step loop matches them here afterwards, so the receive path stays a parse and an append.
final class SentLog: Sendable {
    struct Entry { let step: Int; let sentNs: UInt64; let acknowledgedNs: UInt64 }
    private let entries = Mutex<[UInt64: Entry]>([:])
    /// `acknowledgedNs`: when the system answered the send (btmsg's reply), or `sentNs` when it does not answer (NATS).
    func record(_ key: UInt64, step: Int, sentNs: UInt64, acknowledgedNs: UInt64) {
        entries.withLock { $0[key] = Entry(step: step, sentNs: sentNs, acknowledgedNs: acknowledgedNs) }
    }
    func entries(step: Int) -> [Entry] { entries.withLock { $0.values.filter { $0.step == step } } }
    func lookup(_ keys: [UInt64]) -> [Entry?] { entries.withLock { table in keys.map { table[$0] } } }
}

enum Keys {
    /// The key of a btmsg message id (a UUID): its first 16 hex digits.
    static func ofHex<C: Collection>(_ bytes: C) -> UInt64? where C.Element == UInt8 {
        var key: UInt64 = 0, digits = 0
        for byte in bytes {
            let value: UInt8
            switch byte {
            case 48...57: value = byte - 48
            case 97...102: value = byte - 87
            case 45: continue
            default: return digits == 16 ? key : nil
            }
            key = key << 4 | UInt64(value)
            digits += 1
            if digits == 16 { return key }
        }
        return nil
    }

    /// The id in a Gateway event frame: the value of its first `"id":"` (a message's own id).
    static func inFrame(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        let needle = Array(#""id":""#.utf8)
        let n = bytes.count, m = needle.count
        guard n > m else { return nil }
        var i = 0
        while i + m < n {
            var match = true
            for j in 0..<m where bytes[i + j] != needle[j] { match = false; break }
            if match { return ofHex(UnsafeRawBufferPointer(rebasing: bytes[(i + m)...])) }
            i += 1
        }
        return nil
    }

    /// A NATS payload: `id=KEY;` then padding.
    static func payload(_ key: UInt64, length: Int) -> String {
        let head = "id=\(key);"
        return head.count >= length ? head : head + String(repeating: "m", count: length - head.count)
    }

    static func inPayload(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count > 3, bytes[0] == UInt8(ascii: "i"), bytes[1] == UInt8(ascii: "d"), bytes[2] == UInt8(ascii: "=") else { return nil }
        var key: UInt64 = 0
        for byte in bytes[3...] {
            guard byte >= 48, byte <= 57 else { break }
            key = key &* 10 &+ UInt64(byte - 48)
        }
        return key
    }
}
