/// Polls `condition` until it holds, at most `attempts` times `every` apart; returns whether it
/// held. The tests' one way to wait for something another process or task does: bounded by a
/// number of polls, never asserting how long it took.
public func eventually(_ attempts: Int = 300, every interval: Duration = .milliseconds(50),
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<attempts {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Polls `find` like `eventually`, returning the first value it finds (nil if none came).
public func eventuallyValue<T>(_ attempts: Int = 300, every interval: Duration = .milliseconds(50),
                               _ find: () async throws -> T?) async rethrows -> T? {
    for _ in 0..<attempts {
        if let value = try await find() { return value }
        try? await Task.sleep(for: interval)
    }
    return try await find()
}
