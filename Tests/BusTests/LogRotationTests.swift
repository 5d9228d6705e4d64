import Bus
import Foundation
import Logging
import Testing

@Suite("log rotation")
struct LogRotationTests {
    @Test("past its size a log becomes NAME.log.1, older ones shift, and only KEEP old files stay")
    func rotatesBySize() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("logs-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("svc.log")
        let make = FileLogHandler.factory(file: file, echoToStderr: false, maxBytes: 4096, keep: 2)
        let logger = Logger(label: "test", factory: make)
        for i in 0..<400 { logger.info("line \(i) \(String(repeating: "x", count: 60))") }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["svc.log", "svc.log.1", "svc.log.2"])
        for name in names {
            let size = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.size] as? Int ?? 0
            #expect(size > 0 && size <= 4096)
        }
        // The newest line is in the current file, the lines just before it in .1.
        let current = try String(contentsOf: file, encoding: .utf8)
        #expect(current.contains("line 399 "))
        let previous = try String(contentsOf: folder.appendingPathComponent("svc.log.1"), encoding: .utf8)
        let firstLine = try #require(current.split(separator: "\n").first)
        let marker = try #require(firstLine.range(of: "line "))
        let number = try #require(Int(firstLine[marker.upperBound...].prefix { $0.isNumber }))
        #expect(previous.contains("line \(number - 1) "))
    }
}
