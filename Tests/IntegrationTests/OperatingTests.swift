import Bus
import Foundation
import GRDB
import Testing

/// The operator's commands of issue 7, as real `agor` processes on a real home.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OperatingTests {
    @Test func theVaultKeepsSecretsEncryptedAndRefusesTheWrongUnlock() throws {
        let home = try AgorHome()
        defer { home.cleanUp() }
        func agor(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
            try AgorHome.run(args + ["--home", home.home.root.path], environment: environment)
        }
        let secret = "sk-live-\(UUID().uuidString)"
        #expect(try agor(["vault", "get", "provider/anthropic"]).status == 4)   // no vault yet
        #expect(try agor(["vault", "set", "provider/anthropic", secret]).status == 0)
        #expect(try agor(["vault", "get", "provider/anthropic"]).output == secret + "\n")
        #expect(try agor(["vault", "list"]).output.hasPrefix("provider/anthropic\t"))
        #expect(try agor(["vault", "set", "bad name", "x"]).status == 2)
        #expect(try agor(["vault", "get", "missing"]).status == 4)
        // The vault was made with the key file: a passphrase does not open it.
        #expect(try agor(["vault", "get", "provider/anthropic"], environment: ["AGOR_VAULT_PASSPHRASE": "guess"]).status == 3)
        var onDisk = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: home.home.root.path) where name.hasPrefix("vault.db") {
            onDisk += try Data(contentsOf: home.home.root.appendingPathComponent(name))
        }
        #expect(!onDisk.isEmpty && onDisk.range(of: Data(secret.utf8)) == nil)
        #expect(try agor(["vault", "remove", "provider/anthropic"]).status == 0)
        #expect(try agor(["vault", "remove", "provider/anthropic"]).status == 4)
    }
}

/// A service refuses, at start, a database written by a newer agor, with a clear error.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct NewerDatabaseTests {
    @Test func aServiceRefusesADatabaseFromANewerAgor() throws {
        let home = try AgorHome()
        defer { home.cleanUp() }
        try FileManager.default.createDirectory(at: home.home.dataFolder, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: home.home.database("btmsg").path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('btmsg.v99.future')")
        }
        try queue.close()
        let result = try AgorHome.run(["serve", "btmsg", "--home", home.home.root.path])
        #expect(result.status != 0 && result.output.contains("newer agor"), "\(result.output)")
    }
}

/// Profiles: export a home, import it into another; refusals change nothing.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ProfileTests {
    @Test func aProfileMovesAHomesConfigurationAndRefusesWhatItCannotTrust() throws {
        let source = try AgorHome(), target = try AgorHome()
        defer { source.cleanUp(); target.cleanUp() }
        func agor(_ home: AgorHome, _ args: [String], _ environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
            try AgorHome.run(args + ["--home", home.home.root.path], environment: environment)
        }
        let folder = source.home.root.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let token = String(try agor(source, ["user", "add", "ann", "--group", "web", "--role", "manager"]).output.split(separator: "\n").last ?? "")
        #expect(try agor(source, ["agent", "add", "bot", "--group", "web"]).status == 0)
        #expect(try agor(source, ["project", "add", "site", "--group", "web", "--root", folder.path]).status == 0)
        #expect(try agor(source, ["settings", "set", "theme", "dark"]).status == 0)
        #expect(try agor(source, ["settings", "set", "retention.keep_days", "30", "--group", "web"]).status == 0)
        #expect(try agor(source, ["settings", "set", "keybinding.palette.open", "Ctrl+Shift+P"]).status == 0)
        let secret = "sk-profile-\(UUID().uuidString)"
        #expect(try agor(source, ["vault", "set", "provider/anthropic", secret]).status == 0)

        let file = source.home.root.appendingPathComponent("team.profile.toml").path
        let sealedBy = ["AGOR_PROFILE_PASSPHRASE": "a long team passphrase"]
        #expect(try agor(source, ["profile", "export", file]).status == 3)   // secrets need a passphrase
        #expect(try agor(source, ["profile", "export", file, "--secret-keys"], sealedBy).status == 0)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let botKey = try String(contentsOf: source.home.secretKeyFile("bot"), encoding: .utf8)
        let annHash = try #require(Directory(folder: source.home.directoryFolder).principal(named: "ann")?.tokenHash)
        #expect(text.contains("format = 1") && text.contains("[principals.ann]") && text.contains("[sealed.secret_keys]"))
        #expect(!text.contains(secret) && !text.contains(annHash) && !text.contains("token_hash") && !text.contains(token))
        #expect(!text.contains(String(botKey.split(separator: "\n").last { $0.contains("secret") } ?? "none")))

        // Refusals first: nothing in the target changes.
        func snapshot() throws -> [String] {
            let files = try FileManager.default.subpathsOfDirectory(atPath: target.home.root.path).filter { !$0.hasPrefix("logs") && !$0.hasPrefix("run") }
            return files.sorted().map { "\($0):\((try? Data(contentsOf: target.home.root.appendingPathComponent($0)).hashValue) ?? 0)" }
        }
        let before = try snapshot()
        #expect(try agor(target, ["profile", "import", file, "--merge"], ["AGOR_PROFILE_PASSPHRASE": "wrong"]).status == 3)
        #expect(try agor(target, ["profile", "import", file, "--merge"]).status == 3)
        let newer = source.home.root.appendingPathComponent("newer.toml").path
        try text.replacingOccurrences(of: "format = 1", with: "format = 99").write(toFile: newer, atomically: true, encoding: .utf8)
        let refusedNewer = try agor(target, ["profile", "import", newer, "--merge"], sealedBy)
        #expect(refusedNewer.status == 2 && refusedNewer.output.contains("newer"))
        let damaged = source.home.root.appendingPathComponent("damaged.toml").path
        try String(text.prefix(text.count / 2)).write(toFile: damaged, atomically: true, encoding: .utf8)
        #expect(try agor(target, ["profile", "import", damaged, "--merge"], sealedBy).status == 2)
        let tampered = source.home.root.appendingPathComponent("tampered.toml").path
        let sealedLine = try #require(text.split(separator: "\n").first { $0.hasPrefix("\"provider/anthropic\" = ") })
        let changed = sealedLine.replacingOccurrences(of: "= \"A", with: "= \"B").replacingOccurrences(of: "= \"", with: "= \"AAAA")
        try text.replacingOccurrences(of: sealedLine, with: changed).write(toFile: tampered, atomically: true, encoding: .utf8)
        #expect(try agor(target, ["profile", "import", tampered, "--merge"], sealedBy).status == 2)
        #expect(try agor(target, ["profile", "import", file], sealedBy).status == 2)   // neither --merge nor --overwrite
        let dryRun = try agor(target, ["profile", "import", file, "--merge", "--dry-run"], sealedBy)
        #expect(dryRun.status == 0 && dryRun.output.contains("+ group web") && dryRun.output.contains("+ principal ann")
                && dryRun.output.contains("+ project site") && dryRun.output.contains("~ setting theme (global): system → dark") == false
                && dryRun.output.contains("~ setting theme (global): unset → dark") && dryRun.output.contains("+ vault secret provider/anthropic"))
        #expect(try snapshot() == before)

        // The real import.
        #expect(try agor(target, ["profile", "import", file, "--merge"], sealedBy).status == 0)
        #expect(try agor(target, ["settings", "get", "retention.keep_days", "--group", "web"]).output.contains("30\t(group web)"))
        #expect(try agor(target, ["settings", "get", "keybinding.palette.open"]).output.contains("Ctrl+Shift+P"))
        #expect(try agor(target, ["vault", "get", "provider/anthropic"]).output == secret + "\n")
        let ann = try #require(Directory(folder: target.home.directoryFolder).principal(named: "ann"))
        #expect(ann.publicKey == Directory(folder: source.home.directoryFolder).principal(named: "ann")?.publicKey && ann.tokenHash.isEmpty)
        #expect(try String(contentsOf: target.home.secretKeyFile("bot"), encoding: .utf8) == botKey)
        #expect(try agor(target, ["project", "list"]).output.contains("site\tweb"))
        // Importing again changes nothing; a local difference is kept by --merge, replaced by --overwrite.
        #expect(try agor(target, ["settings", "set", "theme", "light"]).status == 0)
        #expect(try agor(target, ["agent", "add", "helper", "--group", "web"]).status == 0)
        let merged = try agor(target, ["profile", "import", file, "--merge", "--dry-run"], sealedBy)
        #expect(merged.output.contains("~ setting theme (global): light → dark"))
        #expect(try agor(target, ["profile", "import", file, "--overwrite"], sealedBy).status == 0)
        #expect(try agor(target, ["settings", "get", "theme"]).output.contains("theme = dark"))
        #expect(Directory(folder: target.home.directoryFolder).principal(named: "helper") != nil)   // never removed
    }
}
