import Foundation

/// When `agor up` restarts a service that exited, and when it gives up, decided as Kubernetes and
/// systemd do: only a crash loop counts. A run that lasted `healthyRun` or longer was healthy: its
/// exit restarts the service after the first back-off, and it forgets the quick exits before it.
/// An exit sooner than that is a quick exit: the back-off doubles with each one (up to the
/// maximum), and `failureLimit` quick exits within `failureWindow` leave the service down.
public struct RestartRule: Sendable {
    public var firstBackoff: Duration
    public var maxBackoff: Duration
    public var healthyRun: TimeInterval
    public var failureLimit: Int
    public var failureWindow: TimeInterval

    public init(firstBackoff: Duration, maxBackoff: Duration, healthyRun: TimeInterval, failureLimit: Int, failureWindow: TimeInterval) {
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        self.healthyRun = healthyRun
        self.failureLimit = failureLimit
        self.failureWindow = failureWindow
    }

    public enum Decision: Equatable, Sendable {
        case restart(after: Duration)
        case stayDown(quickExits: Int)
    }

    /// The quick exits of one service that still count (within the window).
    public struct History: Sendable, Equatable {
        public var quickExits: [Date] = []
        public init() {}
    }

    /// Decides for an exit at `now` of a run that lasted `ranFor`, updating the service's history.
    public func decide(ranFor: TimeInterval, now: Date, history: inout History) -> Decision {
        if ranFor >= healthyRun {
            history.quickExits = []
            return .restart(after: firstBackoff)
        }
        history.quickExits = history.quickExits.filter { now.timeIntervalSince($0) < failureWindow } + [now]
        if history.quickExits.count >= failureLimit { return .stayDown(quickExits: history.quickExits.count) }
        var delay = firstBackoff
        for _ in 1..<history.quickExits.count { delay = min(delay * 2, maxBackoff) }
        return .restart(after: delay)
    }
}
