import Foundation
import Testing

/// Every fuzz target's committed corpus (its seeds, and every finding of `make fuzz`, kept as
/// crash-* until fixed) replayed through the normal build of `agor-fuzz`: each input must return.
@Suite struct FuzzCorpusTests {
    static let fuzz = AgorHome.packageRoot.appendingPathComponent(".build/debug/agor-fuzz")
    static let corpus = AgorHome.packageRoot.appendingPathComponent("Fuzz/corpus")

    @Test(arguments: ["envelope", "eventbatch", "requests", "toml", "profile", "lines", "claude", "codex", "ollama", "ndjson"])
    func corpusReplays(target: String) throws {
        let folder = Self.corpus.appendingPathComponent(target)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { folder.appendingPathComponent($0).path }
        #expect(!files.isEmpty, "no seeds for \(target)")
        let result = try AgorHome.run(["replay", target] + files, program: Self.fuzz)
        #expect(result.status == 0 && result.output.contains("\(files.count) input(s) through \(target): all returned"), "\(result.output)")
    }

    @Test func anUnknownTargetIsRefused() throws {
        #expect(try AgorHome.run(["replay", "nope", "/dev/null"], program: Self.fuzz).status == 2)
    }
}
