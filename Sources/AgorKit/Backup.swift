import Bus
import Foundation
import GRDB
import HomeConfig

/// `agor backup DIR` and `agor restore DIR`. A backup asks each running service over the Bus for a
/// consistent copy of its own database (`bus.backup`, made inside the service while it serves) and
/// adds the home's configuration: config.toml, settings.toml, projects.toml, the directory, the
/// keys and the vault. A restore puts it all back into a home whose services are stopped.
public enum Backup {
    public struct Manifest: Codable, Sendable {
        public var format = 1
        public var takenAt: Date
        public var services: [String: Int64]      // service → bytes of its database copy
        public var files: [String]
    }

    static let configFiles = ["config.toml", "settings.toml", "projects.toml"]
    static let configFolders = ["directory", "keys"]

    /// Backs up every configured service; a service that does not answer fails the backup (and
    /// the partial folder is removed), since a backup that silently lacks a database is worse
    /// than none.
    public static func run(home: Home, to folder: URL, say: (String) -> Void) async throws -> Manifest {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.path) {
            guard ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? ["x"]).isEmpty else {
                throw AgorKitError(.conflict, "\(folder.path) exists and is not empty")
            }
        }
        try fm.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        var succeeded = false
        defer { if !succeeded { try? fm.removeItem(at: folder) } }

        let config = try BusConfig.load(from: home.configFile)
        let client = try ServiceClient(home: home, keyFile: home.secretKeyFile("operator"))
        var services: [String: Int64] = [:]
        for service in config.services.map(\.name) {
            let rpc = try client.rpc(service)
            var request = Agor_Bus_V1_BackupRequest()
            request.path = folder.appendingPathComponent("data/\(service).db").standardizedFileURL.path
            do {
                let reply = try await rpc.call(BusMethods.backup, request, options: .init(timeout: .seconds(120)))
                services[service] = reply.bytes
                say("\(service): \(reply.bytes) bytes")
            } catch let error as BusError {
                await rpc.close()
                throw AgorKitError(.unavailable, "\(service) did not back up its database (\(error.message)); is `agor up` running?")
            }
            await rpc.close()
        }

        var files: [String] = []
        for name in configFiles where fm.fileExists(atPath: home.root.appendingPathComponent(name).path) {
            try fm.copyItem(at: home.root.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            files.append(name)
        }
        for name in configFolders where fm.fileExists(atPath: home.root.appendingPathComponent(name).path) {
            try fm.copyItem(at: home.root.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            files.append(name + "/")
        }
        // The vault through SQLite too: a plain copy could catch it mid-write.
        if fm.fileExists(atPath: Vault.file(in: home).path) {
            let source = try DatabaseQueue(path: Vault.file(in: home).path)
            let copy = try DatabaseQueue(path: folder.appendingPathComponent("vault.db").path)
            try source.backup(to: copy)
            try copy.close()
            chmod(folder.appendingPathComponent("vault.db").path, 0o600)
            files.append("vault.db")
        }
        let manifest = Manifest(takenAt: Date(), services: services, files: files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(manifest).write(to: folder.appendingPathComponent("manifest.json"))
        chmod(folder.path, 0o700)
        succeeded = true
        return manifest
    }

    /// Puts a backup back into `home` (created if needed). Refused while `agor up` runs or any
    /// service of the home answers.
    public static func restore(from folder: URL, into home: Home, isRunning: () async -> String?) async throws -> Manifest {
        let fm = FileManager.default
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let data = fm.contents(atPath: folder.appendingPathComponent("manifest.json").path),
              let manifest = try? decoder.decode(Manifest.self, from: data) else {
            throw AgorKitError(.damaged, "\(folder.path) is not an agor backup (no readable manifest.json)")
        }
        guard manifest.format == 1 else { throw AgorKitError(.damaged, "backup format \(manifest.format) is not one this agor reads") }
        for service in manifest.services.keys where !fm.fileExists(atPath: folder.appendingPathComponent("data/\(service).db").path) {
            throw AgorKitError(.damaged, "the backup lacks data/\(service).db")
        }
        if let running = await isRunning() { throw AgorKitError(.conflict, "stop the system first: \(running)") }

        try fm.createDirectory(at: home.dataFolder, withIntermediateDirectories: true)
        for service in manifest.services.keys {
            let target = home.database(service)
            for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: target.path + suffix) }
            try fm.copyItem(at: folder.appendingPathComponent("data/\(service).db"), to: target)
        }
        for name in manifest.files {
            let source = folder.appendingPathComponent(name), target = home.root.appendingPathComponent(name)
            if name.hasSuffix("/") {
                try? fm.removeItem(at: target)
                try fm.copyItem(at: source, to: target)
            } else {
                try? fm.removeItem(at: target)
                for suffix in ["-wal", "-shm"] { try? fm.removeItem(atPath: target.path + suffix) }
                try fm.copyItem(at: source, to: target)
            }
        }
        return manifest
    }
}
