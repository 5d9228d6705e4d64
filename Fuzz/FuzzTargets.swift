import AgentRunner
import AgorKit
import BtmsgAPI
import BttaskAPI
import Bus
import ConfigText
import Diagnostics
import DiagnosticsAPI
import Foundation
import RunnerAPI

/// What `make fuzz` feeds random bytes to: every decoder of input from outside. Each target must
/// return normally for any input (a refusal is a thrown, caught error); a trap, an out-of-bounds
/// access or a leak is a finding. The same functions replay a corpus in a normal build
/// (`agor-fuzz replay TARGET FILE...`), which is how a finding becomes a test.
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "envelope": envelope,
        "eventbatch": eventBatch,
        "requests": requests,
        "toml": toml,
        "profile": profile,
        "lines": lines,
        "claude": { adapter(ClaudeAdapter(), $0) },
        "codex": { adapter(CodexAdapter(), $0) },
        "ollama": { adapter(OllamaAdapter(), $0) },
        "ndjson": { adapter(NDJSONAdapter(), $0) },
    ]

    /// The bus envelope every frame carries.
    static func envelope(_ bytes: [UInt8]) {
        _ = try? Envelope(serializedBytes: bytes)
    }

    /// The body of an event batch frame as a subscriber reads it: split into items, each item's
    /// envelope decoded.
    static func eventBatch(_ bytes: [UInt8]) {
        for item in EventFrame.batchItems(bytes) ?? [] { _ = try? Envelope(serializedBytes: item.envelope) }
    }

    /// Every request type of every service, decoded as its server decodes it.
    static let methods: [any MethodDescription] = BusMethods.all + BtmsgMethods.all + BttaskMethods.all + RunnerAPI.all + DiagnosticsAPI.all

    static func requests(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        // The first byte picks the method, the rest is the body.
        let method = methods[Int(first) % methods.count]
        try? method.checkRequest(Array(bytes.dropFirst()))
    }

    /// config.toml, certificates, profiles and settings are read with this.
    static func toml(_ bytes: [UInt8]) {
        if let table = try? TOML.parse(String(decoding: bytes, as: UTF8.self)) { _ = TOML.write(table) }
    }

    /// A profile file planned for import into a home with a group, a person and an agent: the whole
    /// file is read and checked (nothing is applied). Without a passphrase, so a sealed section is
    /// refused before its key derivation (the derivation's own bounds are Sealing's, tested apart).
    static func profile(_ bytes: [UInt8]) {
        guard let home = profileHome else { return }
        let mode: Profile.Mode = bytes.first.map { $0 & 1 == 0 } == true ? .merge : .overwrite
        _ = try? Profile.plan(importing: String(decoding: bytes, as: UTF8.self), into: home, mode: mode, passphrase: nil)
    }

    /// A home made once per process in a temporary folder (removed by the system's tmp cleaning).
    static let profileHome: Home? = {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agor-fuzz-home-\(getpid())")
        let setup = HomeSetup(home: Home(root: root))
        do {
            _ = try setup.initialize(portBase: 20000)
            _ = try setup.addGroup("g1")
            _ = try setup.addAgent(name: "alice", group: "g1", role: .worker)
            _ = try setup.addUser(name: "ann", group: "g1", role: .manager, writeKey: false)
            return setup.home
        } catch {
            FileHandle.standardError.write(Data("cannot make the profile target's home: \(error)\n".utf8))
            return nil
        }
    }()

    /// The runner's bounded line reader over an agent's stdout, in pieces of random sizes.
    static func lines(_ bytes: [UInt8]) {
        var splitter = LineSplitter(limit: 256)
        var offset = 0, size = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + size)
            splitter.feed(Array(bytes[offset..<end])) { _ in }
            offset = end
            size = size * 3 % 97 + 1
        }
    }

    /// A provider adapter over the lines of the input, as the runner reads an agent's output.
    static func adapter(_ adapter: some ProviderAdapter, _ bytes: [UInt8]) {
        var adapter = adapter
        var splitter = LineSplitter(limit: 1 << 20)
        splitter.feed(bytes + [0x0A]) { piece in
            if case .line(let line) = piece { _ = adapter.events(for: line) }
        }
    }
}
