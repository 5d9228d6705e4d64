import Bus
import Foundation
import HomeConfig

/// A provider's secrets from the home's vault, for its agents' environment only: the vault entry
/// `provider/NAME/VARIABLE` becomes `VARIABLE` in the environment of NAME's sessions, so one
/// provider's key never reaches another provider's agent. The vault is opened with its key file,
/// or with `AGOR_VAULT_PASSPHRASE` when the runner has it.
enum ProviderSecrets {
    static func environment(for provider: String, home: Home) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: Vault.file(in: home).path) else { return [:] }
        let passphrase = ProcessInfo.processInfo.environment["AGOR_VAULT_PASSPHRASE"] ?? ""
        let unlock: Vault.Unlock = passphrase.isEmpty ? .keyFile(Vault.keyFile(in: home)) : .passphrase(passphrase)
        let vault = try Vault.open(home: home, unlock: unlock, create: false)
        let prefix = "provider/\(provider)/"
        var environment: [String: String] = [:]
        for entry in try vault.list() where entry.name.hasPrefix(prefix) {
            let variable = String(entry.name.dropFirst(prefix.count))
            guard isVariableName(variable), let secret = try vault.get(entry.name) else { continue }
            environment[variable] = secret
        }
        return environment
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == 0x5F || (0x41...0x5A).contains(first) || (0x61...0x7A).contains(first) else { return false }
        return name.utf8.allSatisfy { $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }
}
