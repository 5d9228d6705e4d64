import Bus
import CSodium
import Foundation

/// Bearer tokens for people (the Gateway's sign-in): 32 random bytes, shown once as
/// `agor_<base64url>`; only a BLAKE2b-256 hash (libsodium's generichash) is kept, in the person's
/// certificate. The tokens carry 256 bits of entropy, so a fast hash is enough: nothing to guess,
/// and every request can be checked without a slow password hash.
public enum GatewayToken {
    public static let prefix = "agor_"

    /// A new token and the hash to store.
    public static func generate() -> (token: String, hash: String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeMutableBytes { RandomID.fill($0) }
        let token = prefix + base64url(bytes)
        return (token, hash(token))
    }

    /// "blake2b:" + hex of the token's BLAKE2b-256.
    public static func hash(_ token: String) -> String {
        let input = Array(token.utf8)
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&out, 32, input, UInt64(input.count), nil, 0)
        return "blake2b:" + out.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `text` has a token's shape (so that junk is refused before any lookup).
    public static func isWellFormed(_ text: String) -> Bool {
        text.hasPrefix(prefix) && text.utf8.count == prefix.utf8.count + 43
            && text.utf8.dropFirst(prefix.utf8.count).allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
            }
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
