import AgentRunner
import BtmsgAPI
import BttaskAPI
import Bus
import Diagnostics
import Foundation

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
