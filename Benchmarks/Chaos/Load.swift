import AgentRunner
import BtmsgAPI
import BttaskAPI
import Bus
import Foundation
import RunnerAPI
import Synchronization

/// What the writers were told was done: the facts the databases are checked against afterwards.
final class Acknowledged: Sendable {
    struct State {
        /// Message body → the id btmsg answered with.
        var messages: [String: String] = [:]
        /// Task title → the id bttask answered with.
        var created: [String: String] = [:]
        /// Task id → the workers a claim of it was granted to.
        var claims: [String: [String]] = [:]
        /// Tasks whose move to done was answered.
        var done: Set<String> = []
        /// Turns the runner took, per session.
        var turns: [String: Int] = [:]
        /// Answers that were refusals, by code (expected: nothing to claim; nothing else).
        var refusals: [String: Int] = [:]
    }
    let state = Mutex(State())

    func refused(_ error: BusError) { state.withLock { $0.refusals[error.codeName, default: 0] += 1 } }
}

/// The pace of one loop: `perSecond` operations, spread evenly.
func pace(_ perSecond: Double) async {
    try? await Task.sleep(for: .milliseconds(Int(1000 / max(perSecond, 0.1))))
}

/// An agent sending direct messages to the next agent, one after another, each body naming its
/// sender and number, each sent until answered.
func sendMessages(from sender: String, to recipient: String, client: RPCClient, rate: Double,
                  facts: Acknowledged, counts: OperationCounts, stop: StopSignal) async {
    var n = 0
    while !stop.isSet {
        n += 1
        var request = Agor_Btmsg_V1_SendRequest()
        request.to = recipient
        request.body = "chaos \(sender) \(n)"
        switch await persistently(client, BtmsgMethods.send, request, requestId: "chaos-send-\(n)", counts: counts, stop: stop) {
        case .success(let reply): facts.state.withLock { $0.messages[request.body] = reply.message.id }
        case .failure(let error): facts.refused(error)
        case nil: return
        }
        await pace(rate)
    }
}

/// A manager keeping the board stocked: a task whenever fewer than `ready` wait.
func createTasks(group: String, client: RPCClient, ready: Int, facts: Acknowledged, counts: OperationCounts, stop: StopSignal) async {
    var n = 0
    while !stop.isSet {
        let open = facts.state.withLock { $0.created.count - $0.claims.count }
        if open >= ready {
            try? await Task.sleep(for: .milliseconds(50))
            continue
        }
        n += 1
        var request = Agor_Bttask_V1_CreateRequest()
        request.group = group
        request.title = "chaos task \(group) \(n)"
        switch await persistently(client, BttaskMethods.create, request, requestId: "chaos-create-\(n)", counts: counts, stop: stop) {
        case .success(let reply): facts.state.withLock { $0.created[request.title] = reply.task.id }
        case .failure(let error): facts.refused(error)
        case nil: return
        }
    }
}

/// A worker claiming the best ready task of its group and moving it to done, over and over.
func claimTasks(worker: String, group: String, client: RPCClient, rate: Double, facts: Acknowledged,
                counts: OperationCounts, stop: StopSignal) async {
    var n = 0
    while !stop.isSet {
        n += 1
        var claim = Agor_Bttask_V1_ClaimRequest()
        claim.group = group
        switch await persistently(client, BttaskMethods.claim, claim, requestId: "chaos-claim-\(n)", counts: counts, stop: stop) {
        case .success(let reply):
            facts.state.withLock { $0.claims[reply.task.id, default: []].append(worker) }
            var move = Agor_Bttask_V1_MoveRequest()
            move.id = reply.task.id
            move.expectedVersion = reply.task.version
            move.status = .done
            switch await persistently(client, BttaskMethods.move, move, requestId: "chaos-done-\(n)", counts: counts, stop: stop) {
            case .success: facts.state.withLock { _ = $0.done.insert(reply.task.id) }
            case .failure(let error): facts.refused(error)
            case nil: return
            }
        case .failure(let error):
            // Nothing ready is the board being empty for a moment, not a fault.
            if error.errorCode != .notFound { facts.refused(error) }
        case nil: return
        }
        await pace(rate)
    }
}

/// A manager keeping one agent session busy: a new turn whenever it is idle. A turn is not
/// retried (the runner keeps no dedup for input: it goes straight to the agent's stdin).
func driveSession(_ id: String, client: RPCClient, facts: Acknowledged, counts: OperationCounts, stop: StopSignal) async {
    var n = 0
    var ref = Agor_Runner_V1_SessionRef()
    ref.id = id
    while !stop.isSet {
        if let session = try? await client.call(RunnerAPI.show, ref, options: .init(timeout: .seconds(2))), session.state == .idle {
            n += 1
            var input = Agor_Runner_V1_InputRequest()
            input.id = id
            input.text = "turn \(n)"
            if (try? await client.call(RunnerAPI.input, input, options: .init(timeout: .seconds(3)))) != nil {
                counts.noteAnswered()
                facts.state.withLock { $0.turns[id, default: 0] += 1 }
            }
        }
        try? await Task.sleep(for: .milliseconds(200))
    }
}
