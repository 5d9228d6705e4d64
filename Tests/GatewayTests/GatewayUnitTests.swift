import Bus
import Foundation
import Hummingbird
import Testing
@testable import Gateway

@Suite struct GatewayUnitTests {
    func person(_ groups: [String]) -> Principal {
        Principal(name: "ann", kind: .person, publicKey: Array(repeating: 1, count: 32), groups: groups, role: .worker, tokenHash: "h")
    }

    @Test func aClientThatFallsBehindIsCutAtItsBoundAndKeepsWhatWasQueued() async {
        let (stream, continuation) = AsyncStream<StreamHub.Frame>.makeStream(bufferingPolicy: .bufferingOldest(StreamHub.clientQueueLimit))
        let client = StreamHub.Client(id: 1, accepts: { _ in true }, queue: continuation)
        for seq in 1...UInt64(StreamHub.clientQueueLimit) {
            client.offer(StreamHub.Frame(BusEvent(stream: "btmsg/web/", seq: seq, type: "t", timestampUs: 0, body: [])))
        }
        let before = client.overflowed.load(ordering: .relaxed)
        #expect(!before)
        client.offer(StreamHub.Frame(BusEvent(stream: "btmsg/web/", seq: UInt64(StreamHub.clientQueueLimit) + 1, type: "t", timestampUs: 0, body: [])))
        let after = client.overflowed.load(ordering: .relaxed)
        #expect(after)
        var received: [UInt64] = []
        for await event in stream { received.append(event.seq) }   // finished: the loop ends
        #expect(received == Array(1...UInt64(StreamHub.clientQueueLimit)))
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
