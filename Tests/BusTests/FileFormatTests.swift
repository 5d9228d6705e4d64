import Foundation
import GRDB
import Testing
@testable import Bus
@testable import ConfigText

/// Config, key and certificate files are input from outside: bad ones get typed errors.
@Suite struct FileFormatTests {
    @Test func tomlRoundTripAndErrors() throws {
        let text = """
            # comment
            name = "a \\"quoted\\" name"
            n = 42
            flag = true
            list = ["x", "y",
              "z"]  # trailing
            [t.sub]
            k = 'literal'
            """
        let table = try TOML.parse(text)
        #expect(table["name"]?.string == "a \"quoted\" name")
        #expect(table["n"]?.integer == 42)
        #expect(table["list"]?.strings == ["x", "y", "z"])
        #expect(table.value(at: "t.sub.k")?.string == "literal")
        #expect(try TOML.parse(TOML.write(table)) == table)
        #expect(throws: TOMLError(line: 2, reason: "unterminated string")) { try TOML.parse("a = 1\nb = \"open\n") }
        #expect(throws: TOMLError.self) { try TOML.parse("a = 1\na = 2") }
        #expect(throws: TOMLError.self) { try TOML.parse("a = nope") }
        #expect(throws: TOMLError.self) { try TOML.parse("[[x]]") }
    }

    @Test func configRefusesBadEndpointsAndValues() throws {
        #expect(throws: HomeError.self) { try BusConfig.parse("[services.x]\nrpc = \"http://x\"\npub = \"tcp://a:1\"") }
        #expect(throws: HomeError.self) { try BusConfig.parse("[bus]\nmax_message_size = -5") }
        #expect(throws: TOMLError.self) { try BusConfig.parse("[bus\n") }
        #expect(throws: HomeError.self) { try BusConfig.parse("[bus]\nheartbeat_ms = 5") }
        #expect(throws: HomeError.self) { try BusConfig.parse("[bus]\nheartbeat_ms = \"fast\"") }
        #expect(throws: HomeError.self) { try BusConfig.parse("[bus]\ninstrumentation = \"yes\"") }
        #expect(throws: HomeError.self) { try BusConfig.parse("[services.d]\nrpc = \"tcp://a:1\"\npub = \"tcp://a:2\"\nhttp = \"nonsense\"") }
        #expect(throws: HomeError.self) { try BusConfig.parse("[services.d]\nrpc = \"tcp://a:1\"\npub = \"tcp://a:2\"\nhttp = \"127.0.0.1:70000\"") }
        #expect(try BusConfig.parse("[bus]\ninstrumentation = false\nheartbeat_ms = 250").instrumentation == false)
        var config = BusConfig()
        config.heartbeatMilliseconds = 250
        config.services = [.init(name: "echo", rpc: "tcp://10.0.0.1:1", pub: "tcp://10.0.0.1:2"),
                           .init(name: "diagnostics", rpc: "tcp://10.0.0.1:3", pub: "tcp://10.0.0.1:4", http: .init(host: "::1", port: 9768))]
        #expect(try BusConfig.parse(config.render()) == config)
    }

    @Test func keyFilesRoundTripAndRefuseBadOnes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-keys-\(UUID().uuidString)")
        let pair = CurveKeyPair.generate()
        try pair.write(name: "k", to: folder)
        #expect(try CurveKeyPair.read(from: folder.appendingPathComponent("k.key")) == pair)
        #expect(try CurveKeyPair.read(from: folder.appendingPathComponent("k.pub")).publicKey == pair.publicKey)
        chmod(folder.appendingPathComponent("k.key").path, 0o644)
        #expect(throws: HomeError.self) { try CurveKeyPair.read(from: folder.appendingPathComponent("k.key")) }
        #expect(throws: HomeError(code: .badLength, detail: "a Z85 key has 40 characters, got 3")) { try Z85.decodeKey("abc") }
        #expect(throws: HomeError.self) { try Z85.decodeKey(String(repeating: "~", count: 40).replacingOccurrences(of: "~", with: "\"")) }
        try? FileManager.default.removeItem(at: folder)
    }

    @Test func badCertificatesAreSkippedNotFatal() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-dir-\(UUID().uuidString)")
        let directory = Directory(folder: folder)
        try directory.write(Principal(name: "good", kind: .agent, publicKey: CurveKeyPair.generate().publicKey, groups: ["g"], role: .worker))
        try "name = \"evil\"\nkind = \"agent\"\nrole = \"god\"\npublic_key = \"x\"\n".write(to: folder.appendingPathComponent("evil.cert"), atomically: true, encoding: .utf8)
        try "garbage [[[".write(to: folder.appendingPathComponent("junk.cert"), atomically: true, encoding: .utf8)
        directory.reload()
        #expect(directory.principal(named: "good") != nil)
        #expect(directory.principal(named: "evil") == nil)
        #expect(directory.current.rejected.count == 2)
        #expect(throws: HomeError.self) { try directory.write(Principal(name: "../x", kind: .agent, publicKey: [], groups: [], role: .worker)) }
        #expect(Role(name: "admin") == .operator_)
        #expect(Role(name: "project") == .worker)
        try? FileManager.default.removeItem(at: folder)
    }

    @Test func databasesCommitAtTheAskedDurability() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agor-sync-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // The writer is the connection that commits: FULL fsyncs every commit, NORMAL does not.
        let full = try BusSchema.open(path: folder.appendingPathComponent("full.db").path, fsyncEveryCommit: true)
        #expect(try full.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        let normal = try BusSchema.open(path: folder.appendingPathComponent("normal.db").path, fsyncEveryCommit: false)
        #expect(try normal.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 1)
        #expect(try normal.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }
}
