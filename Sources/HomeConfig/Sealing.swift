import Bus
import CSodium
import Foundation

/// Secret-key encryption for what agor keeps at rest (the vault, secrets in exported profiles):
/// XChaCha20-Poly1305 with a random 24-byte nonce per message, the associated data binding each
/// ciphertext to its name, and keys from a 32-byte key file or a passphrase through Argon2id.
public enum Sealing {
    public static let keyBytes = 32
    public static let saltBytes = 16

    /// Argon2id parameters, kept with what they protect so they can be raised later.
    public struct KDF: Sendable, Equatable {
        public var opsLimit: UInt64
        public var memLimit: Int
        public static let standard = KDF(opsLimit: UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE), memLimit: Int(crypto_pwhash_MEMLIMIT_INTERACTIVE))
        public init(opsLimit: UInt64, memLimit: Int) {
            self.opsLimit = opsLimit
            self.memLimit = memLimit
        }
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        _ = sodium_init()
        var bytes = [UInt8](repeating: 0, count: count)
        randombytes_buf(&bytes, count)
        return bytes
    }

    /// A key from a passphrase (Argon2id13).
    public static func key(passphrase: String, salt: [UInt8], kdf: KDF = .standard) throws -> [UInt8] {
        _ = sodium_init()
        guard salt.count == saltBytes, !passphrase.isEmpty else { throw HomeConfigError(.sealing, "an empty passphrase or a bad salt") }
        guard kdf.opsLimit >= UInt64(crypto_pwhash_OPSLIMIT_MIN), kdf.opsLimit <= 16, kdf.memLimit >= Int(crypto_pwhash_MEMLIMIT_MIN),
              kdf.memLimit <= 1 << 31 else { throw HomeConfigError(.sealing, "key derivation parameters out of range") }
        var key = [UInt8](repeating: 0, count: keyBytes)
        let length = passphrase.utf8.count
        let status = passphrase.withCString { pass in
            crypto_pwhash(&key, UInt64(keyBytes), pass, UInt64(length), salt, kdf.opsLimit, kdf.memLimit, crypto_pwhash_ALG_ARGON2ID13)
        }
        guard status == 0 else { throw HomeConfigError(.sealing, "the passphrase could not be turned into a key (out of memory)") }
        return key
    }

    /// nonce ‖ ciphertext ‖ tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], context: String) -> [UInt8] {
        _ = sodium_init()
        precondition(key.count == keyBytes)
        let nonce = randomBytes(Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES))
        var sealed = [UInt8](repeating: 0, count: plaintext.count + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES))
        var length: UInt64 = 0
        let ad = Array(context.utf8)
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(&sealed, &length, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, nonce, key)
        return nonce + sealed.prefix(Int(length))
    }

    /// The plaintext, or a failure when the key is wrong or the bytes were changed.
    public static func open(_ sealed: [UInt8], key: [UInt8], context: String) throws -> [UInt8] {
        _ = sodium_init()
        let nonceBytes = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES), tagBytes = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        guard key.count == keyBytes, sealed.count >= nonceBytes + tagBytes else { throw HomeConfigError(.sealing, "damaged sealed data") }
        let nonce = Array(sealed.prefix(nonceBytes)), body = Array(sealed.dropFirst(nonceBytes))
        var plaintext = [UInt8](repeating: 0, count: body.count)
        var length: UInt64 = 0
        let ad = Array(context.utf8)
        guard crypto_aead_xchacha20poly1305_ietf_decrypt(&plaintext, &length, nil, body, UInt64(body.count), ad, UInt64(ad.count), nonce, key) == 0 else {
            throw HomeConfigError(.sealing, "wrong key or passphrase, or damaged data")
        }
        return Array(plaintext.prefix(Int(length)))
    }
}
