import Foundation
import Synchronization

/// Slows down guessing: per client address, wrong tokens within a minute first delay the answer
/// (doubling from 100 ms after the 5th, at most 1 s), and from the 20th the address is answered 429
/// for a minute. A right token does not clear the count (a guesser may hold one of its own).
final class SignInThrottle: Sendable {
    static let window: Duration = .seconds(60)
    static let slowAfter = 5
    static let blockAfter = 20

    private struct Entry { var failures: Int; var since: ContinuousClock.Instant; var blockedUntil: ContinuousClock.Instant? }
    private let entries = Mutex<[String: Entry]>([:])

    /// When the address is blocked now: how many seconds remain.
    func blockedFor(_ address: String) -> Int? {
        entries.withLock { all in
            guard let until = all[address]?.blockedUntil else { return nil }
            let left = until - .now
            if left <= .zero { all[address] = nil; return nil }
            return max(1, Int(left.components.seconds))
        }
    }

    /// Records a wrong token; returns how long to hold the answer back.
    func failed(_ address: String) -> Duration {
        entries.withLock { all in
            let now = ContinuousClock.now
            var entry = all[address] ?? Entry(failures: 0, since: now, blockedUntil: nil)
            if now - entry.since > SignInThrottle.window { entry = Entry(failures: 0, since: now, blockedUntil: nil) }
            entry.failures += 1
            if entry.failures >= SignInThrottle.blockAfter { entry.blockedUntil = now + SignInThrottle.window }
            all[address] = entry
            if all.count > 100_000 { all = all.filter { now - $0.value.since <= SignInThrottle.window } }
            guard entry.failures > SignInThrottle.slowAfter else { return .zero }
            return min(.milliseconds(100) * (1 << min(entry.failures - SignInThrottle.slowAfter - 1, 5)), .seconds(1))
        }
    }
}
