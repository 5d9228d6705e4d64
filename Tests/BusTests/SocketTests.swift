import Foundation
import Testing
@testable import Bus

@Suite struct SocketTests {
    @Test func pushPullDeliversEveryMessageInOrder() async throws {
        let context = Context()
        let pull = try Socket(context: context, type: .pull, .init(bind: ["tcp://127.0.0.1:*"]))
        let push = try Socket(context: context, type: .push, .init(connect: [pull.boundEndpoints[0]]))
        let count = 20_000
        Task {
            for i in 0..<count { await push.send(OutgoingMessage(Array("m\(i)".utf8))) }
        }
        var received = 0
        for await message in pull.messages {
            #expect(String(decoding: message.frame(0), as: UTF8.self) == "m\(received)")
            received += 1
            if received == count { break }
        }
        #expect(received == count)
        #expect(pull.counters.messagesIn == count)
        await push.close()
        await pull.close()
    }

    @Test func multipartFramesStayTogether() async throws {
        let context = Context()
        let router = try Socket(context: context, type: .router, .init(bind: ["tcp://127.0.0.1:*"]))
        let dealer = try Socket(context: context, type: .dealer, .init(connect: [router.boundEndpoints[0]]))
        await dealer.send(frames: [[1, 2], [], [3, 4, 5]])
        var iterator = router.messages.makeAsyncIterator()
        let message = try #require(await iterator.next())
        #expect(message.frameCount == 4)  // routing id + 3 frames
        #expect(message.frame(1) == [1, 2])
        #expect(message.frame(2) == [])
        #expect(message.frame(3) == [3, 4, 5])
        // Reply through the routing id.
        await router.send(frames: [message.frame(0), [9]])
        var dealerIterator = dealer.messages.makeAsyncIterator()
        let reply = try #require(await dealerIterator.next())
        #expect(reply.frames == [[9]])
    }

    @Test func bindToBusyPortFailsWithZMQError() throws {
        let context = Context()
        let first = try Socket(context: context, type: .pull, .init(bind: ["tcp://127.0.0.1:*"]))
        #expect(throws: ZMQError.self) {
            _ = try Socket(context: context, type: .pull, .init(bind: [first.boundEndpoints[0]]))
        }
        #expect(throws: ZMQError(code: EINVAL)) {
            _ = try Socket(context: context, type: .pull, .init(bind: ["nonsense"]))
        }
    }

    @Test func pubBatchesEventsUnderLoad() async throws {
        let context = Context()
        let pub = try Socket(context: context, type: .pub, .init(options: [.sendHighWaterMark(0)], bind: ["tcp://127.0.0.1:*"]))
        let sub = try Socket(context: context, type: .sub, .init(options: [.subscribe("t"), .receiveHighWaterMark(0)], connect: [pub.boundEndpoints[0]]))
        // Wait for the subscription to reach the publisher.
        // Probe until the subscription reaches the publisher (a PUB drops what no one subscribed to).
        let prober = Task {
            while !Task.isCancelled {
                await pub.publish(topic: Array("t".utf8), envelope: [], body: [0])
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        var iterator = sub.messages.makeAsyncIterator()
        _ = try #require(await iterator.next())
        prober.cancel()
        _ = await prober.value
        let count = 50_000
        for i in 0..<count {
            var e = Envelope(); e.kind = .event; e.seq = UInt64(i + 1)
            pub.tryPublish(topic: Array("t".utf8), envelope: e.bytes(), body: Array(repeating: 7, count: 64))
        }
        var seen = 0
        var batchFrames = 0
        while seen < count {
            let message = try #require(await iterator.next())
            let envelope = try Envelope(serializedBytes: message.frame(1))
            if envelope.kind == .eventBatch {
                batchFrames += 1
                let items = try #require(message.withFrame(2) { ProtoWire.splitEventBatch($0) })
                #expect(items.count == Int(envelope.batchCount))
                seen += items.count
            } else if envelope.kind == .event {
                seen += 1
            }
        }
        #expect(seen == count)
        #expect(batchFrames > 0)
        #expect(pub.counters.messagesCoalesced > 0)
    }
}
