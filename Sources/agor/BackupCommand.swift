import AgorKit
import ArgumentParser
import Bus
import Foundation

/// `agor backup DIR`: every service's database (copied inside the service while it serves) and the
/// home's configuration.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup",
                                                    abstract: "Back up a running system into DIR: each service's database (made by the service while it serves), config, directory, keys, vault.")
    @OptionGroup var homeOption: HomeOption
    @Argument var folder: String

    func run() async throws {
        let home = homeOption.resolved
        let target = URL(fileURLWithPath: folder).standardizedFileURL
        do {
            let manifest = try await Backup.run(home: home, to: target) { print($0) }
            print("backup of \(manifest.services.count) databases and \(manifest.files.count) config items in \(target.path)")
        } catch let failure as AgorKitError { throw failure.exit } catch {
            throw fail("\(error)")
        }
    }
}

/// `agor restore DIR`: puts a backup back (the system stopped).
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a backup into the home (refused while the system runs).")
    @OptionGroup var homeOption: HomeOption
    @Argument var folder: String

    func run() async throws {
        let home = homeOption.resolved
        do {
            let manifest = try await Backup.restore(from: URL(fileURLWithPath: folder).standardizedFileURL, into: home) {
                if let state = UpState.read(home), Down.isAgorUp(state.supervisorPid) { return "agor up is running (pid \(state.supervisorPid)); `agor down`" }
                guard home.isInitialized, let client = try? ServiceClient(home: home, keyFile: home.secretKeyFile("operator")) else { return nil }
                for service in client.config.services.map(\.name) where await client.ping(service, timeout: .milliseconds(300)) != nil {
                    return "\(service) answers"
                }
                return nil
            }
            print("restored \(manifest.services.count) databases and \(manifest.files.count) config items from the backup of \(manifest.takenAt)")
        } catch let failure as AgorKitError { throw failure.exit } catch {
            throw fail("\(error)")
        }
    }
}
