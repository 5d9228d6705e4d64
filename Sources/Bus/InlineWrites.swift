import Foundation
import Logging
import Synchronization

/// Write methods served on the ROUTER's own thread, the service's single writer loop: each batch
/// the thread reads is admitted, every write request in it prepared (decoded and checked, no I/O),
/// and all of them run in one transaction of their GroupCommit; the replies go out on the same
/// thread right after the commit and the events are queued for the PUB in commit order. No task,
/// continuation or queue hop per request; under load the batch is whatever was readable, so
/// commits grow with the load by themselves, and an idle service answers at once.
///
/// Requests for other methods are left for the async handlers (`RPCServer.run`). A request batch
/// (several requests a client had queued at once, packed into one frame) is unpacked here: its
/// write requests join the pass and are answered together in one reply batch frame.
final class InlineWrites: Sendable {
    /// Turns a write request into the work to run in the batch transaction. Throws (a `BusError`)
    /// to refuse it before anything is written.
    typealias Prepare = @Sendable (RequestContext, [UInt8]) throws -> GroupCommit.Work

    private struct Method: Sendable {
        let commit: GroupCommit
        let prepare: Prepare
    }

    private let methods = Mutex<[String: Method]>([:])
    private let any = Atomic<Bool>(false)
    private let admission: RequestAdmission
    private let observer: (@Sendable (String, Duration, Bool) -> Void)?
    private let logger: Logger

    init(admission: RequestAdmission, logger: Logger, observer: (@Sendable (String, Duration, Bool) -> Void)?) {
        self.admission = admission
        self.logger = logger
        self.observer = observer
    }

    func register(_ method: String, commit: GroupCommit, prepare: @escaping Prepare) {
        methods.withLock { $0[method] = Method(commit: commit, prepare: prepare) }
        any.store(true, ordering: .releasing)
    }

    private struct Admitted {
        let route: [UInt8]
        let context: RequestContext
        let work: GroupCommit.Work
        let commit: GroupCommit
        /// Index in `packed` when the request came in a request batch (its reply goes back in one).
        let packedInto: Int?
    }

    /// The replies to one request batch, sent back as one reply batch frame.
    private struct PackedReplies {
        let route: [UInt8]
        var items: [UInt8] = []
        var count = 0
    }

    /// What one pass over a received batch collects.
    private struct Pass {
        var replies: [OutgoingMessage] = []
        var rest: [Int] = []
        var admitted: [Admitted] = []
        var packed: [PackedReplies] = []
        /// Requests unpacked from request batches for the async handlers: frames and User-Id.
        var unpackedForAsync: [[[UInt8]]] = []
        var unpackedUserIds: [String?] = []
    }

    /// Runs on the socket's thread with each batch it read.
    func handle(_ batch: ReceivedBatch) -> (replies: [OutgoingMessage], rest: [ReceivedBatch]) {
        let started = ContinuousClock.now
        let table = any.load(ordering: .acquiring) ? methods.withLock { $0 } : [:]
        var pass = Pass()
        for position in batch.indices {
            let request = batch[position]
            let head = request.frameCount == 3 ? request.withFrame(1) { ProtoWire.envelopeHead($0) } : nil
            if let head, head.kind == UInt64(EnvelopeKind.requestBatch.rawValue) {
                unpack(request, table: table, started: started, into: &pass)
                continue
            }
            // Only requests for write methods are admitted here; the others keep their one pass
            // through admission on the async side.
            guard let method = head?.method, let entry = table[method] else {
                pass.rest.append(position)
                continue
            }
            switch admission.admit(request) {
            case .refuse(let route, let envelope, let error):
                if let route { pass.replies.append(admission.reply(route, envelope, error: error)) }
            case .serve(let route, let context):
                prepare(entry, route, context, request.frame(2), packedInto: nil, started: started, into: &pass)
            }
        }
        if !pass.admitted.isEmpty { commit(&pass, started: started) }
        for replies in pass.packed where replies.count > 0 {
            var header = Envelope(kind: .replyBatch)
            header.batchCount = UInt32(replies.count)
            pass.replies.append(OutgoingMessage(frames: [replies.route, header.bytes(), replies.items]))
        }
        var rest: [ReceivedBatch] = []
        if !pass.rest.isEmpty { rest.append(pass.rest.count == batch.count ? batch : batch.selecting(pass.rest)) }
        if !pass.unpackedForAsync.isEmpty {
            rest.append(ReceivedBatch.assembled(pass.unpackedForAsync, userIds: pass.unpackedUserIds))
        }
        return (pass.replies, rest)
    }

    private func prepare(_ entry: Method, _ route: [UInt8], _ context: RequestContext, _ body: [UInt8], packedInto: Int?,
                         started: ContinuousClock.Instant, into pass: inout Pass) {
        do {
            pass.admitted.append(Admitted(route: route, context: context, work: try entry.prepare(context, body),
                                          commit: entry.commit, packedInto: packedInto))
        } catch {
            answer(route, context.envelope, .failure(error), packedInto: packedInto, into: &pass)
            observer?(context.method, ContinuousClock.now - started, false)
        }
    }

    /// A request batch: each request in it is admitted on its own; write methods join this pass's
    /// transaction and are answered in one reply batch, the others go to the async handlers and are
    /// answered alone. A body that is not a well-formed batch is refused whole.
    private func unpack(_ request: ReceivedMessage, table: [String: Method], started: ContinuousClock.Instant, into pass: inout Pass) {
        let route = request.frame(0)
        let outer = try? Envelope(serializedBytes: request.frame(1))
        let items = request.withFrame(2, ProtoWire.packedPairs)
        guard let items, !items.isEmpty else {
            admission.count { $0.requests += 1; $0.malformed += 1 }
            pass.replies.append(admission.reply(route, outer, error: .badRequest("malformed request batch")))
            return
        }
        let slot = pass.packed.count
        pass.packed.append(PackedReplies(route: route))
        for item in items {
            guard let envelope = try? Envelope(serializedBytes: item.envelope) else {
                admission.count { $0.requests += 1; $0.malformed += 1 }
                answer(route, nil, .failure(BusError.badRequest("malformed request in a batch")), packedInto: slot, into: &pass)
                continue
            }
            guard let entry = table[envelope.method] else {
                // Counted and admitted by the async path, which answers it alone.
                pass.unpackedForAsync.append([route, item.envelope, item.body])
                pass.unpackedUserIds.append(request.userId)
                continue
            }
            admission.count { $0.requests += 1 }
            switch admission.admit(route: route, envelope: envelope, userId: request.userId) {
            case .refuse(_, let envelope, let error):
                answer(route, envelope, .failure(error), packedInto: slot, into: &pass)
            case .serve(_, let context):
                prepare(entry, route, context, item.body, packedInto: slot, started: started, into: &pass)
            }
        }
    }

    /// One transaction per GroupCommit (a service normally has one), in the order they first appear.
    private func commit(_ pass: inout Pass, started: ContinuousClock.Instant) {
        let admitted = pass.admitted
        var order: [ObjectIdentifier] = []
        var groups: [ObjectIdentifier: [Int]] = [:]
        for (index, request) in admitted.enumerated() {
            let key = ObjectIdentifier(request.commit)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(index)
        }
        for key in order {
            let members = groups[key]!
            let results = admitted[members[0]].commit.commitNow(members.map { admitted[$0].work })
            let elapsed = ContinuousClock.now - started
            for (index, result) in zip(members, results) {
                let request = admitted[index]
                answer(request.route, request.context.envelope, result, packedInto: request.packedInto, into: &pass)
                observer?(request.context.method, elapsed, (try? result.get()) != nil)
            }
        }
    }

    /// Queues a reply: alone, or into its request batch's reply batch.
    private func answer(_ route: [UInt8], _ request: Envelope?, _ result: Result<[UInt8], any Error>, packedInto: Int?, into pass: inout Pass) {
        var body: [UInt8] = []
        var failure: BusError?
        switch result {
        case .success(let reply): body = reply
        case .failure(let error as BusError): failure = error
        case .failure(let error):
            logger.error("write failed", metadata: ["rpc.method": "\(request?.method ?? "")", "rpc.error": "\(error)"])
            failure = .internalError("\(error)")
        }
        guard let packedInto else {
            pass.replies.append(admission.reply(route, request, body: body, error: failure))
            return
        }
        ProtoWire.appendPacked(envelope: admission.replyEnvelope(request, error: failure), body: body, to: &pass.packed[packedInto].items)
        pass.packed[packedInto].count += 1
    }

}
