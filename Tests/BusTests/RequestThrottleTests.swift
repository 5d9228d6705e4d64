@testable import Bus
import Testing

/// The per-principal request limit alone, on a clock the test moves (the admission path that uses
/// it is exercised end to end by HostileClientTests).
@Suite("request throttle")
struct RequestThrottleTests {
    @Test("a tenth of a second's worth in a burst, then refused until the bucket refills at the rate; principals apart")
    func tokenBucket() {
        let throttle = RequestThrottle(perSecond: 1000)
        let start: UInt64 = 1_000_000_000
        #expect((0..<100).allSatisfy { _ in throttle.take("ann", now: start) })
        #expect(!throttle.take("ann", now: start))
        // Another principal has its own bucket.
        #expect(throttle.take("bob", now: start))
        // 25 ms later, 25 requests' worth is back.
        let later = start + 25_000_000
        #expect((0..<25).allSatisfy { _ in throttle.take("ann", now: later) })
        #expect(!throttle.take("ann", now: later))
        // Idle for long, the bucket holds the burst, not more.
        let much = later + 60_000_000_000
        #expect((0..<100).allSatisfy { _ in throttle.take("ann", now: much) })
        #expect(!throttle.take("ann", now: much))
    }

    @Test("0 is no limit")
    func off() {
        let throttle = RequestThrottle(perSecond: 0)
        #expect(!throttle.isOn)
        #expect((0..<10_000).allSatisfy { _ in throttle.take("ann") })
    }
}
