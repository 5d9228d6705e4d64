import AgorKit
import ArgumentParser
import Bus
import ConfigText
import Foundation
import HomeConfig

/// `agor profile export/import`: a home's configuration as one TOML file, secrets sealed.
struct ProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile", abstract: "Export or import groups, projects, principals, settings and (sealed) secrets.",
        subcommands: [Export.self, Import.self])

    struct Passphrase: ParsableArguments {
        @Option(help: "A file whose first line is the profile's passphrase (else $AGOR_PROFILE_PASSPHRASE).") var passphraseFile: String?

        func read() throws -> String? {
            if let passphraseFile {
                guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8),
                      let line = text.split(separator: "\n", omittingEmptySubsequences: false).first, !line.isEmpty else {
                    throw fail("cannot read a passphrase from \(passphraseFile)", code: 2)
                }
                return String(line)
            }
            return ProcessInfo.processInfo.environment["AGOR_PROFILE_PASSPHRASE"].flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the home's profile to FILE (0600). Token hashes are never written.")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var passphrase: Passphrase
        @Flag(help: "Leave the vault's secrets out (then no passphrase is needed).") var noSecrets = false
        @Flag(help: "Also write principals' secret keys (sealed with the passphrase).") var secretKeys = false
        @Argument var file: String

        func run() async throws {
            let home = homeOption.resolved
            var vaultUnlock: Vault.Unlock?
            if let vaultPassphrase = ProcessInfo.processInfo.environment["AGOR_VAULT_PASSPHRASE"], !vaultPassphrase.isEmpty { vaultUnlock = .passphrase(vaultPassphrase) }
            let options = Profile.ExportOptions(passphrase: try passphrase.read(), includeSecrets: !noSecrets,
                                                includeSecretKeys: secretKeys, vaultUnlock: vaultUnlock)
            do {
                let text = try Profile.export(home: home, options: options)
                try AtomicFile.write(text, to: URL(fileURLWithPath: file), mode: 0o600)
            } catch let failure as AgorKitError { throw failure.exit } catch let failure as HomeConfigError {
                throw fail("the vault: \(failure.description)", code: 3)
            } catch { throw fail("\(error)") }
            print("profile written to \(file)")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a profile: --merge adds what is missing, --overwrite also replaces what differs. Nothing changes on any error.")
        @OptionGroup var homeOption: HomeOption
        @OptionGroup var passphrase: Passphrase
        @Flag(help: "Add what is missing; keep principals and projects that differ here.") var merge = false
        @Flag(help: "Also replace principals, projects and settings levels that differ.") var overwrite = false
        @Flag(help: "List what would change, change nothing.") var dryRun = false
        @Argument var file: String

        func run() async throws {
            guard merge != overwrite else { throw fail("choose --merge or --overwrite", code: 2) }
            guard let data = FileManager.default.contents(atPath: file) else { throw fail("cannot read \(file)", code: 4) }
            let home = homeOption.resolved
            let plan: Profile.Plan
            do {
                plan = try Profile.plan(importing: String(decoding: data, as: UTF8.self), into: home, mode: overwrite ? .overwrite : .merge,
                                        passphrase: try passphrase.read())
            } catch let failure as AgorKitError { throw failure.exit } catch let exit as ExitCode { throw exit } catch {
                throw fail("\(error)", code: 2)
            }
            for line in plan.lines { print(line) }
            if plan.isEmpty { print("nothing to change") }
            guard !dryRun else { return }
            do { try plan.apply() } catch { throw fail("applying the profile failed part way: \(error)") }
            print("profile applied")
        }
    }
}
