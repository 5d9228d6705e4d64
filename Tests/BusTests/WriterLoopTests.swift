import AgorTestSupport
import Foundation
import GRDB
import Testing
@testable import Bus

/// Write methods served in the ROUTER's writer loop (RPCServer.registerWrite): every request of a
/// batch is answered on its own, refusals leave nothing behind, events are numbered without gaps in
/// commit order, dedup holds, and the other methods keep their async path. Real CURVE sockets.
@Suite struct WriterLoopTests {
    /// `note.write`: body = the note's text. Empty is refused before the batch; "dup:X" is refused in
    /// the transaction when a note X exists. Each note appends one event to g/g1/notes.
    func registerNoteWrite(_ bed: TestBed) -> GroupCommit {
        let commit = GroupCommit(publisher: bed.publisher)
        bed.server.registerWrite("note.write", through: commit) { context, body in
            guard !body.isEmpty else { throw BusError.badRequest("empty note") }
            let text = String(decoding: body, as: UTF8.self), owner = context.principal.name, requestId = context.requestId
            return { db, events in
                try RequestDedup.once(db, principal: owner, requestId: requestId) {
                    if text.hasPrefix("dup:") {
                        let original = String(text.dropFirst(4))
                        if try Int.fetchOne(db, sql: "SELECT count(*) FROM notes WHERE text = ?", arguments: [original]) ?? 0 > 0 {
                            throw BusError.conflict("note \(original) exists")
                        }
                    }
                    try db.execute(sql: "INSERT INTO notes(owner, text) VALUES (?, ?)", arguments: [owner, text])
                    let row = db.lastInsertedRowID
                    try events.append(stream: "g/g1/notes", type: "note.added", body: Array(text.utf8))
                    return Array(String(row).utf8)
                }
            }
        }
        return commit
    }

    @Test func batchedWritesAreAnsweredOneByOneAndRefusalsLeaveNothing() async throws {
        try await withBed(TestBed()) { bed in
            let commit = registerNoteWrite(bed)
            let alice = try bed.client(bed.alice), bob = try bed.client(bed.bob)
            // 300 writes at once over two connections: valid ones, empty ones, and conflicting ones
            // (their original is written by the same client earlier).
            _ = try await alice.call("note.write", Array("base".utf8))
            let outcomes = await withTaskGroup(of: (Int, Result<[UInt8], any Error>).self) { group in
                for i in 0..<300 {
                    let client = i % 2 == 0 ? alice : bob
                    let body: [UInt8] = i % 10 == 3 ? [] : i % 10 == 7 ? Array("dup:base".utf8) : Array("n\(i)".utf8)
                    group.addTask {
                        do { return (i, .success(try await client.call("note.write", body))) } catch { return (i, .failure(error)) }
                    }
                }
                var all: [Int: Result<[UInt8], any Error>] = [:]
                for await (i, outcome) in group { all[i] = outcome }
                return all
            }
            var written = 0
            for (i, outcome) in outcomes {
                switch (i % 10, outcome) {
                case (3, .failure(let error)): #expect((error as? BusError)?.code == 400)
                case (7, .failure(let error)): #expect((error as? BusError)?.code == 409)
                case (_, .success(let reply)): #expect(Int(String(decoding: reply, as: UTF8.self)) != nil); written += 1
                default: Issue.record("request \(i): unexpected \(outcome)")
                }
            }
            #expect(written == 240)
            #expect(try bed.noteCount() == 241)
            // One event per written note, numbered 1...241 with no gap (refusals appended nothing).
            let (head, seqs) = try await bed.database.read { db in
                (try EventLog.head(db, stream: "g/g1/notes"),
                 try Int64.fetchAll(db, sql: "SELECT seq FROM bus_events WHERE stream = 'g/g1/notes' ORDER BY seq"))
            }
            #expect(head == 241)
            #expect(seqs == Array(1...241))
            // Several writes shared a commit; the empty ones, refused before, never reached one.
            let (batches, sends) = commit.statistics
            #expect(sends == 241 + 30)
            #expect(batches < sends)
            await alice.close(); await bob.close()
        }
    }

    @Test func repeatedRequestIdReturnsTheFirstReplyAndWritesOnce() async throws {
        try await withBed(TestBed()) { bed in
            _ = registerNoteWrite(bed)
            let alice = try bed.client(bed.alice)
            let options = RPCClient.CallOptions(requestId: RandomID.timeOrdered())
            let first = try await alice.call("note.write", Array("once".utf8), options: options)
            let again = try await alice.call("note.write", Array("once".utf8), options: options)
            #expect(first == again)
            #expect(try bed.noteCount() == 1)
            await alice.close()
        }
    }

    @Test func writesEventsReachSubscribersInOrder() async throws {
        try await withBed(TestBed()) { bed in
            _ = registerNoteWrite(bed)
            let subscriber = try bed.subscriber(bed.alice, prefixes: ["g/g1/"])
            let alice = try bed.client(bed.alice)
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<50 { group.addTask { _ = try? await alice.call("note.write", Array("e\(i)".utf8)) } }
            }
            var seqs: [UInt64] = []
            for await event in subscriber.events {
                seqs.append(event.seq)
                if seqs.count == 50 { break }
            }
            #expect(seqs == Array(1...50))
            await subscriber.close()
            await alice.close()
        }
    }

    @Test func badRequestsForWriteMethodsAreRefusedAndTheLoopGoesOn() async throws {
        try await withBed(TestBed()) { bed in
            _ = registerNoteWrite(bed)
            let raw = try bed.rawDealer(bed.alice)
            var iterator = raw.messages.makeAsyncIterator()
            func next() async throws -> Envelope {
                let message = try #require(await iterator.next())
                return try Envelope(serializedBytes: message.frame(0))
            }
            // Wrong version, wrong kind, and a deadline already passed, each naming the write method.
            var wrongVersion = Envelope.request(method: "note.write", id: "v")
            wrongVersion.version = 7
            await raw.send(frames: [wrongVersion.bytes(), Array("x".utf8)])
            #expect(try await next().error.code == 426)
            var reply = Envelope.request(method: "note.write", id: "k")
            reply.kind = .reply
            await raw.send(frames: [reply.bytes(), Array("x".utf8)])
            #expect(try await next().error.code == 400)
            var late = Envelope.request(method: "note.write", id: "d")
            late.deadlineUnixMs = 1
            await raw.send(frames: [late.bytes(), Array("x".utf8)])
            #expect(try await next().error.code == 504)
            // An envelope cut short (its method field claims more bytes than there are).
            var cut = Envelope.request(method: "note.write", id: "c").bytes()
            cut.removeLast(3)
            await raw.send(frames: [cut, Array("x".utf8)])
            #expect(try await next().error.code == 400)
            // Delegation without the right.
            var behalf = Envelope.request(method: "note.write", id: "b")
            behalf.onBehalfOf = "bob"
            await raw.send(frames: [behalf.bytes(), Array("x".utf8)])
            #expect(try await next().error.code == 403)
            #expect(try bed.noteCount() == 0)
            // The loop still serves writes and the async methods.
            let alice = try bed.client(bed.alice)
            #expect(try await alice.call("note.write", Array("after".utf8)).isEmpty == false)
            #expect(try await alice.call("echo", [9]) == [9])
            #expect(try bed.noteCount() == 1)
            await raw.close()
            await alice.close()
        }
    }

    @Test func aRemovedPrincipalIsRefusedOnTheWritePath() async throws {
        try await withBed(TestBed()) { bed in
            _ = registerNoteWrite(bed)
            let bob = try bed.client(bed.bob)
            #expect(try await bob.call("note.write", Array("first".utf8)).isEmpty == false)
            try bed.directory.revoke("bob", reason: "test")
            await #expect(throws: BusError.self) { _ = try await bob.call("note.write", Array("second".utf8), options: .init(timeout: .seconds(2))) }
            #expect(try bed.noteCount() == 1)
            await bob.close()
        }
    }

    @Test func envelopeHeadIsReadWithoutDecodingAndRejectsBrokenBytes() throws {
        var envelope = Envelope.request(method: "btmsg.send", id: RandomID.timeOrdered())
        envelope.deadlineUnixMs = 123_456
        envelope.onBehalfOf = "someone"
        let bytes = envelope.bytes()
        let head = try #require(bytes.withUnsafeBytes { ProtoWire.envelopeHead($0) })
        #expect(head.kind == UInt64(EnvelopeKind.request.rawValue))
        #expect(head.method == "btmsg.send")
        #expect(Envelope().bytes().withUnsafeBytes { ProtoWire.envelopeHead($0) }?.method == "")
        for cut in 1..<bytes.count {
            // Every prefix either still holds the method whole or is refused; none reads past its end.
            let method = Array(bytes.prefix(cut)).withUnsafeBytes { ProtoWire.envelopeHead($0) }?.method
            #expect(method == nil || method == "btmsg.send" || method == "")
        }
        #expect([0xFF, 0xFF, 0xFF].withUnsafeBytes { ProtoWire.envelopeHead($0) } == nil)
    }

    func packed(_ items: [([UInt8], [UInt8])]) -> [[UInt8]] {
        var body: [UInt8] = []
        for (envelope, itemBody) in items { ProtoWire.appendPacked(envelope: envelope, body: itemBody, to: &body) }
        var header = Envelope(kind: .requestBatch)
        header.batchCount = UInt32(items.count)
        return [header.bytes(), body]
    }

    @Test func aRequestBatchIsAnsweredItemByItem() async throws {
        try await withBed(TestBed()) { bed in
            _ = registerNoteWrite(bed)
            let raw = try bed.rawDealer(bed.alice)
            var wrongVersion = Envelope.request(method: "note.write", id: "r4")
            wrongVersion.version = 5
            await raw.send(frames: packed([
                (Envelope.request(method: "note.write", id: "r1").bytes(), Array("one".utf8)),
                (Envelope.request(method: "note.write", id: "r2").bytes(), []),               // refused: empty
                ([0xFF, 0xFF], Array("x".utf8)),                                              // not an envelope
                (wrongVersion.bytes(), Array("x".utf8)),
                (Envelope.request(method: "echo", id: "r5").bytes(), [5]),                     // an async method
                (Envelope.request(method: "note.write", id: "r6").bytes(), Array("two".utf8)),
            ]))
            var answers: [String: (code: UInt32, body: [UInt8])] = [:]
            var iterator = raw.messages.makeAsyncIterator()
            while answers.count < 6 {
                let message = try #require(await iterator.next())
                let envelope = try Envelope(serializedBytes: message.frame(0))
                if envelope.kind == .replyBatch {
                    #expect(envelope.batchCount == 5)
                    let items = try #require(message.withFrame(1, ProtoWire.packedPairs))
                    for (bytes, body) in items {
                        let inner = try Envelope(serializedBytes: bytes)
                        answers[inner.requestID.isEmpty ? "?" : inner.requestID] = (inner.error.code, body)
                    }
                } else {
                    answers[envelope.requestID] = (envelope.error.code, message.frame(1))
                }
            }
            #expect(answers["r1"]?.code == 0)
            #expect(answers["r2"]?.code == 400)
            #expect(answers["?"]?.code == 400)
            #expect(answers["r4"]?.code == 426)
            #expect(answers["r5"]?.code == 0 && answers["r5"]?.body == [5])
            #expect(answers["r6"]?.code == 0)
            #expect(try bed.noteCount() == 2)
            // A batch whose body is not packed pairs is refused whole; the server goes on.
            await raw.send(frames: [packed([])[0], [0x0A, 0x7F, 0x01]])
            let refusal = try Envelope(serializedBytes: try #require(await iterator.next()).frame(0))
            #expect(refusal.error.code == 400)
            let alice = try bed.client(bed.alice)
            #expect(try await alice.call("echo", [1]) == [1])
            await raw.close()
            await alice.close()
        }
    }

    @Test func theClientTakesItsAnswersFromAReplyBatch() async throws {
        // A bare ROUTER stands in for the server: it waits for three requests (sent packed or
        // alone, as the client's thread found them queued) and answers them in one reply batch.
        try await withBed(TestBed()) { bed in
            let router = try Socket(context: bed.context, type: .router, .init(
                options: [.curveServer(secretKey: bed.serverKey.secretKey), .linger(0)], bind: ["tcp://127.0.0.1:*"]))
            let client = try RPCClient(context: bed.context, endpoint: router.boundEndpoints[0], serverKey: bed.serverKey.publicKey,
                                       clientKey: bed.alice)
            let serving = Task {
                var requests: [Envelope] = []
                var route: [UInt8] = []
                for await message in router.messages {
                    route = message.frame(0)
                    let envelope = try Envelope(serializedBytes: message.frame(1))
                    if envelope.kind == .requestBatch {
                        for (bytes, _) in try #require(message.withFrame(2, ProtoWire.packedPairs)) {
                            requests.append(try Envelope(serializedBytes: bytes))
                        }
                    } else {
                        requests.append(envelope)
                    }
                    if requests.count == 3 { break }
                }
                var body: [UInt8] = []
                for request in requests {
                    var reply = Envelope(kind: request.method == "fail" ? .error : .reply)
                    reply.requestID = request.requestID
                    if request.method == "fail" { reply.error.code = 409; reply.error.message = "no" }
                    ProtoWire.appendPacked(envelope: reply.bytes(), body: Array(request.method.utf8), to: &body)
                }
                var header = Envelope(kind: .replyBatch)
                header.batchCount = UInt32(requests.count)
                await router.send(frames: [route, header.bytes(), body])
            }
            async let a = client.call("alpha", [], options: .init(timeout: .seconds(10)))
            async let b = client.call("beta", [], options: .init(timeout: .seconds(10)))
            async let c: [UInt8]? = try? await client.call("fail", [], options: .init(timeout: .seconds(10)))
            #expect(try await a == Array("alpha".utf8))
            #expect(try await b == Array("beta".utf8))
            #expect(await c == nil)
            try await serving.value
            await client.close()
            await router.close()
        }
    }
}
