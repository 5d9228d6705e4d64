import Synchronization

/// A `Mutex` in a class. The lock rule: state a class owns sits in a `Mutex` property; `Locked`
/// only where the lock itself must be shared by reference (captured by a closure or task that must
/// not hold the owner, kept in a struct, passed to a static function); `Atomic` for counters.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { value in try body(&value) }
    }
}
