/// Something a test starts and must close whatever happens: services, sockets, a temporary home.
public protocol Bed: Sendable {
    func close() async
}

/// Runs `body` with a fresh bed and closes the bed afterwards, also when `body` throws, so a
/// failing `try` in a test leaks no process, socket or temporary folder (an async close cannot go
/// in a `defer`).
public func withBed<B: Bed, Result>(_ make: @autoclosure () async throws -> B, _ body: (B) async throws -> Result) async throws -> Result {
    let bed = try await make()
    do {
        let result = try await body(bed)
        await bed.close()
        return result
    } catch {
        await bed.close()
        throw error
    }
}
