import Bus
import Foundation
import HomeConfig
import Testing

@Suite("credential vault")
struct VaultTests {
    func tempHome() -> Home {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vault-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return Home(root: root)
    }

    /// Every byte the vault left on disk (the database and any WAL or journal beside it).
    func bytesOnDisk(_ home: Home) throws -> Data {
        var all = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: home.root.path) where name.hasPrefix("vault.db") {
            all += try Data(contentsOf: home.root.appendingPathComponent(name))
        }
        return all
    }

    @Test("secrets round-trip under the key file, and the file never holds one in the clear")
    func keyFileVault() throws {
        let home = tempHome()
        defer { try? FileManager.default.removeItem(at: home.root) }
        let unlock = Vault.Unlock.keyFile(Vault.keyFile(in: home))
        #expect(throws: HomeConfigError.self) { try Vault.open(home: home, unlock: unlock, create: false) }
        let vault = try Vault.open(home: home, unlock: unlock, create: true)
        let secret = "sk-ant-PLAINTEXT-\(UUID().uuidString)"
        try vault.set("provider/anthropic", secret)
        try vault.set("gateway/host-b", "agor_second-secret-value")
        #expect(try vault.get("provider/anthropic") == secret)
        #expect(try vault.get("nothing") == nil)
        #expect(try vault.list().map(\.name) == ["gateway/host-b", "provider/anthropic"])
        #expect(throws: HomeConfigError.self) { try vault.set("bad name!", "x") }
        let disk = try bytesOnDisk(home)
        #expect(!disk.isEmpty)
        #expect(disk.range(of: Data(secret.utf8)) == nil && disk.range(of: Data("second-secret".utf8)) == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: Vault.keyFile(in: home).path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Reopened (as a service would), it reads the same; a different key file is refused.
        #expect(try Vault.open(home: home, unlock: unlock, create: false).get("provider/anthropic") == secret)
        let otherKey = home.root.appendingPathComponent("other.key")
        try (Data(Sealing.randomBytes(32)).base64EncodedString() + "\n").write(to: otherKey, atomically: true, encoding: .utf8)
        #expect(throws: HomeConfigError.self) { try Vault.open(home: home, unlock: .keyFile(otherKey), create: false) }
        #expect(try vault.remove("gateway/host-b"))
        #expect(try !vault.remove("gateway/host-b"))
    }

    @Test("a passphrase vault refuses a wrong passphrase and the key file; a secret moved to another name does not open")
    func passphraseVault() throws {
        let home = tempHome()
        defer { try? FileManager.default.removeItem(at: home.root) }
        let vault = try Vault.open(home: home, unlock: .passphrase("correct horse"), create: true)
        try vault.set("provider/openai", "sk-openai-PLAINTEXT")
        #expect(!FileManager.default.fileExists(atPath: Vault.keyFile(in: home).path))
        for unlock in [Vault.Unlock.passphrase("wrong horse"), .keyFile(Vault.keyFile(in: home))] {
            do {
                _ = try Vault.open(home: home, unlock: unlock, create: false)
                Issue.record("opened with the wrong unlock")
            } catch let failure as HomeConfigError {
                #expect(failure.code == .locked)
            }
        }
        #expect(try Vault.open(home: home, unlock: .passphrase("correct horse"), create: false).get("provider/openai") == "sk-openai-PLAINTEXT")
        #expect(try bytesOnDisk(home).range(of: Data("sk-openai-PLAINTEXT".utf8)) == nil)
        // Each sealed value is bound to its name.
        let sealed = Sealing.seal(Array("v".utf8), key: Sealing.randomBytes(32), context: "secret:a")
        #expect(throws: HomeConfigError.self) { try Sealing.open(sealed, key: Sealing.randomBytes(32), context: "secret:a") }
        let key = Sealing.randomBytes(32)
        let bound = Sealing.seal(Array("v".utf8), key: key, context: "secret:a")
        #expect(try Sealing.open(bound, key: key, context: "secret:a") == Array("v".utf8))
        #expect(throws: HomeConfigError.self) { try Sealing.open(bound, key: key, context: "secret:b") }
        var flipped = bound
        flipped[flipped.count - 1] ^= 1
        #expect(throws: HomeConfigError.self) { try Sealing.open(flipped, key: key, context: "secret:a") }
    }
}
