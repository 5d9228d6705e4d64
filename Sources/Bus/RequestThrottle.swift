import Foundation
import Synchronization

/// A token bucket per principal: each may send `perSecond` requests a second on average, in bursts
/// of up to a tenth of a second's worth (a full second's burst, served at once, held everyone else's
/// requests behind it for as long as it took to serve). A client past its rate is refused at admission, before its request
/// costs a decode or a transaction, so one flooding client cannot push everyone else's requests
/// back. Services (the Gateway acting for people, services calling each other) are not throttled
/// here: they carry many people's requests, and the Gateway throttles each person at its own door
/// with a throttle of this kind.
public final class RequestThrottle: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilledAt: UInt64
    }

    let perSecond: Double
    /// The most a bucket holds.
    let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Buckets full for this long are forgotten (so the table holds the recently active only).
    private static let idleNanos: UInt64 = 60_000_000_000

    /// `perSecond` 0 turns throttling off.
    public init(perSecond: Int64) {
        self.perSecond = Double(perSecond)
        burst = max(1, Double(perSecond) / 10)
    }

    public var isOn: Bool { perSecond > 0 }

    /// Takes one request's token for `principal`; false when it has none left.
    public func take(_ principal: String, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Bool {
        guard isOn else { return true }
        return buckets.withLock { buckets in
            var bucket = buckets[principal] ?? Bucket(tokens: burst, refilledAt: now)
            let elapsed = Double(now &- bucket.refilledAt) / 1e9
            bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
            bucket.refilledAt = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[principal] = bucket
            if buckets.count > 10_000 { buckets = buckets.filter { now &- $0.value.refilledAt < Self.idleNanos } }
            return allowed
        }
    }
}
