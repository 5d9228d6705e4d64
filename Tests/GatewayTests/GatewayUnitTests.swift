import BtmsgAPI
import Bus
import Foundation
import HomeConfig
import Hummingbird
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import Gateway

@Suite struct GatewayUnitTests {
    func person(_ groups: [String]) -> Principal {
        Principal(name: "ann", kind: .person, publicKey: Array(repeating: 1, count: 32), groups: groups, role: .worker, tokenHash: "h")
    }

    @Test func aRequestIsTheBodyWithTheQueryAndPathLaidOverIt() throws {
        let body = ByteBuffer(string: #"{"channel_id": "from-body", "body": "hi", "ack_required": true, "importance": "IMPORTANCE_HIGH"}"#)
        let request = try BusBridge.decode(Agor_Btmsg_V1_SendRequest.self, body: body,
                                           fields: BusBridge.fields(of: [("channel_id", "from-path"), ("group", "web")]))
        #expect(request.channelID == "from-path" && request.body == "hi" && request.ackRequired && request.group == "web")
        #expect(request.importance == .high)
        // No body: the fields alone; typed query values (true, integers) reach typed fields.
        let fromQuery = try BusBridge.decode(Agor_Btmsg_V1_SendRequest.self, body: nil,
                                             fields: BusBridge.fields(of: [("to", "bob"), ("ack_required", "true")]))
        #expect(fromQuery.to == "bob" && fromQuery.ackRequired)
        // Refused with 400: a body that is not an object, an unknown field, a wrong type (in the body or the query).
        for (text, fields) in [("[1, 2]", [:]), (#"{"nope": 1}"#, [:]), (#"{"body": 5}"#, [:]), ("{", [:]),
                               ("", ["ack_required": "maybe"] as [String: Any])] {
            #expect(throws: APIError.self) { try BusBridge.decode(Agor_Btmsg_V1_SendRequest.self, body: ByteBuffer(string: text), fields: fields) }
        }
    }

    @Test func aQueueHandsOutBatchesOverflowsAtItsBoundAndThenGoesDirect() async {
        let queue = ClientQueue<Int>(limit: 3)
        #expect(queue.push(1) == .queued && queue.push(2) == .queued)
        #expect(await queue.next() == [1, 2])
        // Caught up: nothing queued, so the queue switches to direct and queues no more.
        #expect(queue.takeOrGoDirect() == nil)
        #expect(queue.push(3) == .direct)
        queue.finish(.revoked)
        #expect(queue.push(4) == .refused)
        #expect(await queue.next() == nil)
        #expect(queue.end == .revoked)

        let slow = ClientQueue<Int>(limit: 3)
        for i in 1...3 { #expect(slow.push(i) == .queued) }
        #expect(slow.push(4) == .refused)
        #expect(slow.end == .overflowed)
        #expect(await slow.next() == nil)   // an overflowed client is closed, not drained

        // A session waiting (or about to wait) gets the pushed item either way.
        let waiting = ClientQueue<Int>(limit: 10)
        async let batch = waiting.next()
        #expect(waiting.push(7) == .queued)
        #expect(await batch == [7])
    }

    @Test func aCaughtUpClientWhoseConnectionHasNoRoomIsEndedPastItsBound() throws {
        let channel = EmbeddedChannel()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gw-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let client = StreamHub.Client(id: 1, streams: ["btmsg/web/"], batch: false, channel: channel, person: person(["web"]),
                                      directory: Directory(folder: folder))
        #expect(client.queue.takeOrGoDirect() == nil)   // caught up: written directly from now on
        func frame(_ seq: UInt64) -> StreamHub.Frame { StreamHub.Frame(BusEvent(stream: "btmsg/web/", seq: seq, type: "t", timestampUs: 0, body: [])) }
        func deliver(_ seq: UInt64, to client: StreamHub.Client) { StreamHub.write([StreamHub.ClientWrites(client: client, first: frame(seq))]) }
        deliver(1, to: client)
        let written = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(written.opcode == .text && String(buffer: written.data).contains("\"seq\":1"))
        // No room (past the high-water mark): up to the bound in bytes more are written, then the client ends.
        channel.isWritable = false
        var seq: UInt64 = 1, unsent = 0
        while unsent + frame(seq + 1).bytes.readableBytes <= StreamHub.slowClientBytes {
            seq += 1
            unsent += frame(seq).bytes.readableBytes
            deliver(seq, to: client)
        }
        #expect(client.queue.end == nil)
        deliver(seq + 1, to: client)
        #expect(client.queue.end == .overflowed)
        // Room again resets the count for a client that is still open.
        let other = StreamHub.Client(id: 2, streams: ["btmsg/web/"], batch: false, channel: channel, person: person(["web"]),
                                     directory: Directory(folder: folder))
        _ = other.queue.takeOrGoDirect()
        var total = 0
        for seq in UInt64(1)... {
            channel.isWritable = seq % 2 == 0
            deliver(seq, to: other)
            total += frame(seq).bytes.readableBytes
            if total > 2 * StreamHub.slowClientBytes { break }
        }
        #expect(other.queue.end == nil)
        _ = try channel.finish()
    }

    @Test func aClientIsNeverWrittenASequenceNumberItAlreadyHas() throws {
        let channel = EmbeddedChannel()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gw-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let client = StreamHub.Client(id: 1, streams: ["bttask/web/"], batch: false, channel: channel, person: person(["web"]),
                                      directory: Directory(folder: folder))
        // The session replayed the client through 5, then handed it to the hub, whose own
        // subscriber is behind (refilling after a restart) and delivers 3...7, then 7 again.
        client.noteDelivered(["bttask/web/": 5])
        #expect(client.queue.takeOrGoDirect() == nil)
        let frames = (3...7).map { StreamHub.Frame(BusEvent(stream: "bttask/web/", seq: $0, type: "t", timestampUs: 0, body: [])) }
        let writes = StreamHub.ClientWrites(client: client, first: frames[0])
        writes.frames += frames.dropFirst()
        StreamHub.write([writes])
        StreamHub.write([StreamHub.ClientWrites(client: client, first: frames[4])])
        var seqs: [Int] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: frame.data).utf8)) as? [String: Any])
            seqs.append(try #require(object["seq"] as? Int))
        }
        #expect(seqs == [6, 7])
        _ = try channel.finish()
    }

    @Test func batchingClientsGetEventsJoinedByNewlinesWithinTheFrameBound() {
        let small = (0..<3).map { ByteBuffer(string: "{\"seq\":\($0)}") }
        #expect(StreamHub.frames(small, joined: false).count == 3)
        let joined = StreamHub.frames(small, joined: true)
        #expect(joined.count == 1 && String(buffer: joined[0]) == "{\"seq\":0}\n{\"seq\":1}\n{\"seq\":2}")
        let big = (0..<5).map { _ in ByteBuffer(string: String(repeating: "x", count: StreamHub.maxBatchBytes / 2)) }
        let split = StreamHub.frames(big, joined: true)
        #expect(split.count == 5 && split.allSatisfy { $0.readableBytes <= StreamHub.maxBatchBytes })
    }

    @Test func eventFramesAreValidJSONWhateverTheStreamAndTypeHold() throws {
        let event = BusEvent(stream: "btmsg/web/", seq: 9, type: "odd \"type\"\n\u{1}\\", timestampUs: 5, body: [0xFF])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(StreamHub.json(event).utf8)) as? [String: Any])
        #expect(object["type"] as? String == "odd \"type\"\n\u{1}\\")
        #expect(object["seq"] as? Int == 9 && object["stream"] as? String == "btmsg/web/")
        #expect(object["event"] == nil)   // an undecodable body is left out, not sent broken
    }

    @Test func anEventsTextIsReusedOnlyForTheSameEvent() throws {
        // The same stream and seq with another body, time or type (a service whose database was
        // replaced numbers new events again) is not served the text cached for the first.
        let first = BusEvent(stream: "bttask/cache/", seq: 3, type: "task.created", timestampUs: 10, body: [])
        let again = BusEvent(stream: "bttask/cache/", seq: 3, type: "task.moved", timestampUs: 20, body: [])
        #expect(StreamHub.json(first).contains("\"type\":\"task.created\""))
        #expect(StreamHub.json(again).contains("\"type\":\"task.moved\""))
        #expect(StreamHub.json(first) == StreamHub.json(first))
    }

    @Test func streamRequestsAreCheckedAgainstThePersonsGroups() throws {
        let ann = person(["web", "ops"])
        let all = try StreamRequest.parse(query: [:], person: ann)
        #expect(all.streams == ["btmsg/web/", "bttask/web/", "btmsg/ops/", "bttask/ops/", "diag/health"])
        let some = try StreamRequest.parse(query: ["services": "btmsg", "groups": "web", "cursor": "btmsg/web/:12"], person: ann)
        #expect(some.streams == ["btmsg/web/"] && some.cursors == ["btmsg/web/": 12])
        #expect(throws: APIError.self) { try StreamRequest.parse(query: ["groups": "other"], person: ann) }
        #expect(throws: APIError.self) { try StreamRequest.parse(query: ["services": "nope"], person: ann) }
        #expect(throws: APIError.self) { try StreamRequest.parse(query: ["cursor": "btmsg/web/"], person: ann) }
        #expect(throws: APIError.self) { try StreamRequest.parse(query: ["services": "btmsg", "cursor": "bttask/web/:1"], person: ann) }
        #expect(try StreamRequest.parse(query: ["batch": "true"], person: ann).batch)
        #expect(try !StreamRequest.parse(query: [:], person: ann).batch)
        #expect(throws: APIError.self) { try StreamRequest.parse(query: ["batch": "maybe"], person: ann) }
    }

    @Test func tokensAreWellFormedAndOnlyTheirHashIsComparable() {
        let (token, hash) = GatewayToken.generate()
        #expect(GatewayToken.isWellFormed(token))
        #expect(GatewayToken.hash(token) == hash && hash.hasPrefix("blake2b:") && !hash.contains(token))
        #expect(!GatewayToken.isWellFormed(token + "x") && !GatewayToken.isWellFormed("Bearer " + token) && !GatewayToken.isWellFormed(""))
        #expect(GatewayToken.generate().token != token)
    }

    @Test func wrongTokensAreSlowedThenBlocked() {
        let throttle = SignInThrottle()
        for _ in 0..<SignInThrottle.slowAfter { #expect(throttle.failed("10.0.0.1") == .zero) }
        #expect(throttle.failed("10.0.0.1") > .zero)
        #expect(throttle.blockedFor("10.0.0.1") == nil)
        for _ in 0..<SignInThrottle.blockAfter { _ = throttle.failed("10.0.0.1") }
        #expect(throttle.blockedFor("10.0.0.1") != nil)
        #expect(throttle.blockedFor("10.0.0.2") == nil)   // per address
    }

    @Test func credentialsAreReadFromTheAuthorizationHeaderOrTheCookie() {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer agor_abc"
        #expect(Authenticator.credential(in: headers) == .token("agor_abc"))
        headers[.authorization] = "Basic xyz"
        #expect(Authenticator.credential(in: headers) == .token(""))
        var cookies = HTTPFields()
        cookies[.cookie] = "theme=dark; agor_session=abcd"
        #expect(Authenticator.credential(in: cookies) == .session("abcd"))
        #expect(Authenticator.credential(in: HTTPFields()) == .none)
    }
}
