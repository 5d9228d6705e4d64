import Bus
import Synchronization

/// Set when the load should stop: every loop checks it between operations.
final class StopSignal: Sendable {
    private let stopped = Atomic<Bool>(false)
    var isSet: Bool { stopped.load(ordering: .relaxed) }
    func set() { stopped.store(true, ordering: .relaxed) }
}

/// Counts of what the load did: operations answered, attempts that had to be sent again.
final class OperationCounts: Sendable {
    private let answered = Atomic<Int>(0)
    private let retried = Atomic<Int>(0)
    func noteAnswered() { answered.add(1, ordering: .relaxed) }
    func noteRetry() { retried.add(1, ordering: .relaxed) }
    var operations: Int { answered.load(ordering: .relaxed) }
    var retries: Int { retried.load(ordering: .relaxed) }
}

/// Calls `method` until the service answers, as a client that must not lose or repeat a write does:
/// a timeout or an unavailable service (killed, restarting) is sent again under the same request
/// id, so the service's dedup applies it once however many copies reach it. An answer — the reply
/// or a typed refusal — ends it. Nil when the load stops before an answer came.
func persistently<Q, R>(_ client: RPCClient, _ method: Method<Q, R>, _ request: Q, requestId: String,
                        counts: OperationCounts, stop: StopSignal) async -> Result<R, BusError>? {
    while !stop.isSet {
        do {
            let reply = try await client.call(method, request, options: .init(timeout: .seconds(3), idempotent: true, requestId: requestId))
            counts.noteAnswered()
            return .success(reply)
        } catch let error as BusError where error.errorCode != .timeout && error.errorCode != .unavailable {
            counts.noteAnswered()
            return .failure(error)
        } catch {
            counts.noteRetry()
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
    return nil
}
