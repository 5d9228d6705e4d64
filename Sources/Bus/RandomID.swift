import CSodium
import Foundation
import Synchronization

/// Random identifiers (UUID version 4, lowercase). Foundation's `UUID()` on Linux opens
/// /dev/urandom for every id; this draws from the system generator (getrandom) instead, which
/// matters on paths that make one id per message.
public enum RandomID {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A time-ordered id (UUID version 7: milliseconds since 1970, then random bits). Request ids
    /// use it: the server's dedup index then grows at its end instead of at random pages.
    public static func timeOrdered() -> String {
        let ms = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let (random, next) = pool.two()
        let high = (ms << 16) | 0x7000 | (random & 0x0FFF)
        var low = next
        low = (low & ~(0xC000 << 48)) | (0x8000 << 48)
        return format(high: high, low: low)
    }

    /// A new lowercase UUIDv4 string, e.g. `7253dc78-2678-41c8-b333-bf127a109fdc`.
    public static func uuid() -> String {
        var (high, low) = pool.two()
        high = (high & ~0xF000) | 0x4000                           // version 4
        low = (low & ~(0xC000 << 48)) | (0x8000 << 48)             // variant 10xx
        return format(high: high, low: low)
    }

    /// Ids draw from the system generator through a pool (one getrandom per 256 ids, not two
    /// syscalls per id: a request and a message each make one). Secrets do not use it.
    static let pool = RandomPool()

    /// Fills `buffer` from the system generator (secrets: tokens, session ids).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var generator = SystemRandomNumberGenerator()
        for i in 0..<buffer.count { buffer[i] = UInt8.random(in: 0...255, using: &generator) }
    }

    /// `count` random bytes as lowercase hex.
    public static func hexSecret(bytes count: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { fill($0) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    private static func format(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var index = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[index] = hex[Int((value >> UInt64(shift)) & 0xF)]
                    index += 1
                }
            }
            func dash() { buffer[index] = 0x2D; index += 1 }
            put(high >> 32, nibbles: 8); dash()
            put((high >> 16) & 0xFFFF, nibbles: 4); dash()
            put(high & 0xFFFF, nibbles: 4); dash()
            put(low >> 48, nibbles: 4); dash()
            put(low & 0xFFFF_FFFF_FFFF, nibbles: 12)
            return 36
        }
    }
}

/// Bytes from the system generator, read 4 KiB at a time and handed out once each.
final class RandomPool: Sendable {
    private let state = Mutex((bytes: [UInt64](repeating: 0, count: 512), next: 512))

    /// Two fresh 64-bit random words.
    func two() -> (UInt64, UInt64) {
        state.withLock { state in
            if state.next + 2 > state.bytes.count {
                // One getrandom(2) for the whole buffer (libsodium's system generator).
                _ = sodium_init()
                state.bytes.withUnsafeMutableBytes { raw in randombytes_buf(raw.baseAddress!, raw.count) }
                state.next = 0
            }
            defer { state.next += 2 }
            return (state.bytes[state.next], state.bytes[state.next + 1])
        }
    }
}
