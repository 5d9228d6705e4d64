import CLibZMQ
import ConfigText
import CSodium
import Foundation

/// A CURVE key pair (Curve25519), written in Z85 (40 characters) in files and config.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: [UInt8]
    /// Empty for a public-only key (a peer's).
    public let secretKey: [UInt8]

    public init(publicKey: [UInt8], secretKey: [UInt8]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair from libsodium's random source.
    public static func generate() -> CurveKeyPair {
        _ = sodium_init()
        var pub = [UInt8](repeating: 0, count: 32)
        var sec = [UInt8](repeating: 0, count: 32)
        crypto_box_keypair(&pub, &sec)
        return CurveKeyPair(publicKey: pub, secretKey: sec)
    }

    /// The public key that belongs to a secret key.
    public static func publicKey(forSecret secret: [UInt8]) throws(HomeError) -> [UInt8] {
        guard secret.count == 32 else { throw HomeError(code: .badLength, detail: "secret key must be 32 bytes") }
        var pub = [UInt8](repeating: 0, count: 32)
        _ = sodium_init()
        crypto_scalarmult_base(&pub, secret)
        return pub
    }

    public var publicZ85: String { Z85.encode(publicKey) }
    public var secretZ85: String { Z85.encode(secretKey) }

    // MARK: files

    /// Writes `NAME.pub` (0644) and `NAME.key` (0600, holding both keys) into `directory`.
    public func write(name: String, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var pub = TOMLTable()
        pub["public_key"] = .string(publicZ85)
        try AtomicFile.write("# agor CURVE public key: \(name)\n" + TOML.write(pub),
                             to: directory.appendingPathComponent("\(name).pub"), mode: 0o644)
        try AtomicFile.write(secretFileText(name: name), to: directory.appendingPathComponent("\(name).key"), mode: 0o600)
    }

    /// The text of `NAME.key` (both keys), for a file written elsewhere (a spawned agent's session).
    public func secretFileText(name: String) -> String {
        var sec = TOMLTable()
        sec["public_key"] = .string(publicZ85)
        sec["secret_key"] = .string(secretZ85)
        return "# agor CURVE SECRET key: \(name). Keep this file private (0600).\n" + TOML.write(sec)
    }

    /// Reads a key file: a secret file (`.key`) gives both keys, a public file only the public one.
    /// A secret file readable by others is refused.
    public static func read(from file: URL) throws(HomeError) -> CurveKeyPair {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw HomeError(code: .unreadable, detail: "cannot read \(file.path)")
        }
        let table: TOMLTable
        do { table = try TOML.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw HomeError(code: .badFile, detail: "\(file.path): \(error)")
        }
        if let secretText = table["secret_key"]?.string {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
               let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw HomeError(code: .insecurePermissions, detail: "\(file.path) is readable by others (mode \(String(mode, radix: 8))); chmod 600 it")
            }
            let secret = try Z85.decodeKey(secretText)
            let derived = try publicKey(forSecret: secret)
            if let pubText = table["public_key"]?.string, try Z85.decodeKey(pubText) != derived {
                throw HomeError(code: .badFile, detail: "\(file.path): public key does not match the secret key")
            }
            return CurveKeyPair(publicKey: derived, secretKey: secret)
        }
        guard let pubText = table["public_key"]?.string else {
            throw HomeError(code: .badFile, detail: "\(file.path): no public_key")
        }
        return CurveKeyPair(publicKey: try Z85.decodeKey(pubText), secretKey: [])
    }
}

/// Z85 (ZeroMQ RFC 32) through libzmq's own encoder.
public enum Z85 {
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count % 4 == 0, "Z85 needs a multiple of 4 bytes")
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        _ = zmq_z85_encode(&out, bytes, bytes.count)
        return String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func decode(_ text: String) throws(HomeError) -> [UInt8] {
        guard text.utf8.count % 5 == 0 else { throw HomeError(code: .badZ85, detail: "length is not a multiple of 5") }
        var out = [UInt8](repeating: 0, count: text.utf8.count * 4 / 5)
        guard zmq_z85_decode(&out, text) != nil else { throw HomeError(code: .badZ85, detail: "not Z85") }
        return out
    }

    /// Decodes a 40-character key into 32 bytes.
    public static func decodeKey(_ text: String) throws(HomeError) -> [UInt8] {
        guard text.utf8.count == 40 else { throw HomeError(code: .badLength, detail: "a Z85 key has 40 characters, got \(text.utf8.count)") }
        return try decode(text)
    }
}

/// Writes a file whole or not at all: temp file in the same folder, fsync, rename.
public enum AtomicFile {
    public static func write(_ text: String, to url: URL, mode: Int) throws {
        try write(Data(text.utf8), to: url, mode: mode)
    }

    public static func write(_ data: Data, to url: URL, mode: Int) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temp.path]) }
        fchmod(fd, mode_t(mode))
        let ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        fsync(fd)
        close(fd)
        guard ok, rename(temp.path, url.path) == 0 else {
            unlink(temp.path)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}
