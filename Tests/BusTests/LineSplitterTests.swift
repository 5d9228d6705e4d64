import Foundation
import Testing
import Bus

@Suite struct LineSplitterTests {
    func split(_ chunks: [[UInt8]], limit: Int = 64) -> [LineSplitter.Piece] {
        var splitter = LineSplitter(limit: limit)
        var pieces: [LineSplitter.Piece] = []
        for chunk in chunks { splitter.feed(chunk) { pieces.append($0) } }
        if let last = splitter.finish() { pieces.append(last) }
        return pieces
    }

    @Test func splitsOnNewlineBytesOnlyAcrossAnyChunking() {
        let text = Array("{\"a\":\"x\u{2028}y\u{2029}z\"}\n\n{\"b\":1}\nlast".utf8)
        let expected: [LineSplitter.Piece] = [.line(Array("{\"a\":\"x\u{2028}y\u{2029}z\"}".utf8)), .line([]),
                                               .line(Array("{\"b\":1}".utf8)), .line(Array("last".utf8))]
        #expect(split([text]) == expected)
        // One byte at a time, and in uneven chunks: the same lines.
        #expect(split(text.map { [$0] }) == expected)
        #expect(split([Array(text[0..<5]), Array(text[5..<31]), Array(text[31...])]) == expected)
    }

    @Test func aLineOverTheLimitIsDroppedAndReportedAndReadingGoesOn() {
        var splitter = LineSplitter(limit: 10)
        var pieces: [LineSplitter.Piece] = []
        splitter.feed(Array("short\n0123456789".utf8)) { pieces.append($0) }
        #expect(splitter.pendingBytes == 10)
        splitter.feed(Array("ABCDEF".utf8)) { pieces.append($0) }
        #expect(splitter.pendingBytes == 0)   // never more than the limit held
        splitter.feed(Array("GH\nnext\n".utf8)) { pieces.append($0) }
        #expect(pieces == [.line(Array("short".utf8)), .tooLong(18), .line(Array("next".utf8))])
        // Exactly the limit is a line.
        #expect(split([Array("0123456789\n".utf8)], limit: 10) == [.line(Array("0123456789".utf8))])
        // An unfinished oversized line at the end is reported too.
        #expect(split([Array(repeating: 0x41, count: 30)], limit: 10) == [.tooLong(30)])
    }

    @Test func aFiftyMegabyteLineHoldsNoMoreThanTheLimit() {
        var splitter = LineSplitter(limit: 1 << 20)
        let chunk = [UInt8](repeating: 0x78, count: 1 << 16)
        var pieces: [LineSplitter.Piece] = []
        var peak = 0
        for _ in 0..<(50 * 16) {
            splitter.feed(chunk) { pieces.append($0) }
            peak = max(peak, splitter.pendingBytes)
        }
        splitter.feed(Array("\n{\"ok\":1}\n".utf8)) { pieces.append($0) }
        #expect(peak <= 1 << 20)
        #expect(pieces == [.tooLong(50 << 20), .line(Array("{\"ok\":1}".utf8))])
    }
}
