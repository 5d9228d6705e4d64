import Foundation
import Testing

/// The layering in docs/ARCHITECTURE.md holds in the source: scripts/check-imports.py reads the
/// rules block and every import of an agor module under Sources/.
@Suite struct ArchitectureTests {
    static let script = AgorHome.packageRoot.appendingPathComponent("scripts/check-imports.py").path

    func check(_ root: String? = nil) async throws -> (status: Int32, output: String) {
        try await AgorHome.python([Self.script] + (root.map { [$0] } ?? []))
    }

    @Test func everyImportFollowsTheRules() async throws {
        let result = try await check()
        #expect(result.status == 0 && result.output.contains(" 0 problems"), "\(result.output)")
    }

    @Test func anImportAgainstTheRulesOrAModuleWithoutARuleFails() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arch-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        func write(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write("docs/ARCHITECTURE.md", "# rules\n\n```imports\nBus:\nbtmsg: Bus\nGateway: Bus, btmsg\n```\n")
        try write("Sources/Bus/A.swift", "import Foundation\n")
        try write("Sources/btmsg/B.swift", "import Bus\nimport Foundation\n")
        try write("Sources/Gateway/C.swift", "import btmsg\n")
        #expect(try await check(root.path).status == 0)
        try write("Sources/btmsg/D.swift", "@testable import Gateway\n")
        let upward = try await check(root.path)
        #expect(upward.status == 1 && upward.output.contains("btmsg may not import Gateway"), "\(upward.output)")
        try FileManager.default.removeItem(at: root.appendingPathComponent("Sources/btmsg/D.swift"))
        try write("Sources/Extra/E.swift", "import Bus\n")
        let unruled = try await check(root.path)
        #expect(unruled.status == 1 && unruled.output.contains("Extra: no rule"), "\(unruled.output)")
    }
}
