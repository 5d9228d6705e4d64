import ArgumentParser
import Bus
import Foundation
import HomeConfig

/// `agor vault set/get/list/remove`: the home's encrypted credential vault.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Secrets for remote systems and providers, encrypted at rest (vault.db).",
        discussion: """
            Unlocked by keys/vault.key (0600, made when the vault is created), or, for a vault created with one, by a
            passphrase from --passphrase-file or $AGOR_VAULT_PASSPHRASE (Argon2id).
            """,
        subcommands: [Set.self, Get.self, List.self, Remove.self])

    struct Unlocking: ParsableArguments {
        @Option(help: "A file whose first line is the vault's passphrase (else $AGOR_VAULT_PASSPHRASE, else keys/vault.key).")
        var passphraseFile: String?

        func open(_ home: Home, create: Bool = false) throws -> Vault {
            var unlock = Vault.Unlock.keyFile(Vault.keyFile(in: home))
            if let passphraseFile {
                guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8),
                      let line = text.split(separator: "\n", omittingEmptySubsequences: false).first, !line.isEmpty else {
                    throw fail("cannot read a passphrase from \(passphraseFile)", code: 2)
                }
                unlock = .passphrase(String(line))
            } else if let passphrase = ProcessInfo.processInfo.environment["AGOR_VAULT_PASSPHRASE"], !passphrase.isEmpty {
                unlock = .passphrase(passphrase)
            }
            do { return try Vault.open(home: home, unlock: unlock, create: create) } catch let failure as HomeConfigError {
                throw VaultCommand.exit(failure)
            }
        }
    }

    static func exit(_ failure: HomeConfigError) -> ExitCode {
        switch failure.code {
        case .locked: fail(failure.description, code: 3)
        case .missing: fail(failure.description, code: 4)
        case .badName: fail(failure.description, code: 2)
        case .badFile, .sealing: fail(failure.description, code: 1)
        case .unknownKey, .badValue, .conflict: fail(failure.description, code: 2)   // settings', not thrown by the vault
        }
    }

    static func guarding<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as HomeConfigError { throw exit(failure) } catch let exit as ExitCode { throw exit } catch {
            throw fail("\(error)")
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a secret (read from stdin when VALUE is left out, so it stays out of shell history).")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var unlocking: Unlocking
        @Argument var name: String
        @Argument var value: String?

        func run() async throws {
            var secret = value
            if secret == nil {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            guard let secret, !secret.isEmpty else { throw fail("an empty secret; give VALUE or pipe it on stdin", code: 2) }
            let vault = try unlocking.open(homeOption.resolved, create: true)
            try VaultCommand.guarding { try vault.set(name, secret) }
            print("\(name) stored")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a secret.")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var unlocking: Unlocking
        @Argument var name: String

        func run() async throws {
            let vault = try unlocking.open(homeOption.resolved)
            guard let secret = try VaultCommand.guarding({ try vault.get(name) }) else { throw fail("no secret \(name)", code: 4) }
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The secrets' names and when each was set (never the secrets).")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var unlocking: Unlocking

        func run() async throws {
            let vault = try unlocking.open(homeOption.resolved)
            let formatter = ISO8601DateFormatter()
            for item in try VaultCommand.guarding({ try vault.list() }) {
                print("\(item.name)\t\(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(item.updatedAt))))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a secret.")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var unlocking: Unlocking
        @Argument var name: String

        func run() async throws {
            let vault = try unlocking.open(homeOption.resolved)
            guard try VaultCommand.guarding({ try vault.remove(name) }) else { throw fail("no secret \(name)", code: 4) }
            print("\(name) removed")
        }
    }
}
