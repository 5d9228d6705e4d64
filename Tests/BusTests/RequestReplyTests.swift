import AgorTestSupport
import Foundation
import Testing
@testable import Bus

@Suite struct RequestReplyTests {
    @Test func manyRequestsInFlightEachGetTheirReply() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<300 {
                    group.addTask {
                        let body = Array("request-\(i)".utf8)
                        let reply = try await client.call("echo", body)
                        #expect(reply == body)
                    }
                }
                try await group.waitForAll()
            }
            #expect(client.inFlight == 0)
            await client.close()
        }
    }

    @Test func deadlinePassesWithTimeoutError() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            do {
                _ = try await client.call("sleep", Array("1000".utf8), options: .init(timeout: .milliseconds(100)))
                Issue.record("no timeout")
            } catch let error as BusError {
                #expect(error.errorCode == .timeout)
            }
            await client.close()
        }
    }

    @Test func idempotentRetryAfterTimeoutIsAppliedOnce() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            // Each attempt takes 400 ms on the server; the client gives up on each after 150 ms and retries
            // with the same request id. Only one note may exist in the end. (Retries enough that the
            // overall deadline stays far beyond the first reply even on a loaded machine.)
            let reply = try await client.call("note.add", Array("400:hello".utf8),
                                              options: .init(timeout: .milliseconds(150), idempotent: true, retries: 40))
            #expect(!reply.isEmpty)
            // Let every attempt the server received finish, then count.
            #expect(await eventually { bed.server.statistics.replies + bed.server.statistics.errors >= bed.server.statistics.requests })
            #expect(bed.server.statistics.requests >= 2)
            #expect(try bed.noteCount() == 1)
            await client.close()
        }
    }

    @Test func nonIdempotentRequestIsNotRetried() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            await #expect(throws: BusError.self) {
                _ = try await client.call("note.add", Array("300:x".utf8), options: .init(timeout: .milliseconds(100), idempotent: false, retries: 5))
            }
            #expect(await eventually { bed.server.statistics.replies + bed.server.statistics.errors >= 1 })
            #expect(bed.server.statistics.requests == 1)
            await client.close()
        }
    }

    @Test func sameRequestIdTwiceReturnsTheFirstAnswer() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            let first = try await client.call("note.add", Array("0:a".utf8), options: .init(requestId: "fixed-1"))
            let second = try await client.call("note.add", Array("0:b".utf8), options: .init(requestId: "fixed-1"))
            #expect(first == second)
            #expect(try bed.noteCount() == 1)
            await client.close()
        }
    }
}

/// Bad frames: an error reply where there is someone to answer, a dropped connection for oversize
/// frames, and the server keeps serving everyone else.
@Suite struct MalformedInputTests {
    func nextEnvelope(_ socket: Socket) async throws -> Envelope {
        var iterator = socket.messages.makeAsyncIterator()
        let message = try #require(await iterator.next())
        return try Envelope(serializedBytes: message.frame(0))
    }

    @Test func garbageGetsBadRequestAndServerGoesOn() async throws {
        try await withBed(TestBed()) { bed in
            let raw = try bed.rawDealer(bed.alice)
            await raw.send(frames: [[0xFF, 0xFF, 0xFF, 0x01]])
            let reply = try await nextEnvelope(raw)
            #expect(reply.kind == .error)
            #expect(reply.error.code == 400)
            await raw.send(frames: [[0x08], [1], [2], [3]])  // too many frames
            #expect(try await nextEnvelope(raw).error.code == 400)
            var wrongVersion = Envelope.request(method: "echo", id: "v")
            wrongVersion.version = 9
            await raw.send(frames: [wrongVersion.bytes(), []])
            let versionReply = try await nextEnvelope(raw)
            #expect(versionReply.error.code == 426)
            #expect(versionReply.requestID == "v")
            await raw.send(frames: [Envelope.request(method: "no.such.method", id: "m").bytes(), []])
            #expect(try await nextEnvelope(raw).error.code == 404)
            #expect(bed.server.statistics.malformed >= 3)
            let client = try bed.client(bed.alice)
            #expect(try await client.call("echo", [1, 2, 3]) == [1, 2, 3])
            await raw.close()
            await client.close()
        }
    }

    @Test func oversizeFrameDropsTheConnectionNotTheServer() async throws {
        try await withBed(TestBed(maxMessageSize: 16 * 1024)) { bed in
            let raw = try bed.rawDealer(bed.alice)
            await raw.send(frames: [Envelope.request(method: "echo", id: "big").bytes(), [UInt8](repeating: 1, count: 64 * 1024)])
            try await Task.sleep(for: .milliseconds(300))
            #expect(bed.server.statistics.requests == 0)
            let client = try bed.client(bed.bob)
            #expect(try await client.call("echo", [7]) == [7])
            await raw.close()
            await client.close()
        }
    }
}
