import Foundation
import Testing
@testable import Bus

/// Ids from the pooled generator: well formed, distinct across threads and refills, time-ordered
/// where they say so.
struct RandomIDTests {
    @Test func idsAreWellFormedDistinctAndTimeOrdered() async {
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { (0..<3000).map { $0 % 2 == 0 ? RandomID.uuid() : RandomID.timeOrdered() } } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(ids.count == 12_000 && Set(ids).count == 12_000)   // several refills of the pool, four threads
        for id in ids {
            let bytes = Array(id.utf8)
            #expect(bytes.count == 36 && bytes[8] == 0x2D && bytes[13] == 0x2D && bytes[18] == 0x2D && bytes[23] == 0x2D)
            #expect(bytes[14] == UInt8(ascii: "4") || bytes[14] == UInt8(ascii: "7"))
            #expect("89ab".utf8.contains(bytes[19]))
        }
        let before = RandomID.timeOrdered()
        try? await Task.sleep(for: .milliseconds(3))
        let after = RandomID.timeOrdered()
        #expect(before.prefix(13) < after.prefix(13))   // the millisecond time leads
    }
}
