import Foundation
import Testing
@testable import Bus

@Suite struct PollerTests {
    @Test func pollerReportsReadableSocketsAndFds() throws {
        let context = Context()
        let pull = try RawSocket(context: context, type: .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try RawSocket(context: context, type: .push)
        try push.connect(pull.lastEndpoint)
        let wakeup = Wakeup()
        var poller = Poller()
        let socketIndex = poller.add(pull, .readable)
        let fdIndex = poller.add(fd: wakeup.fd, .readable)
        #expect(try poller.poll(timeoutMs: 0) == [[], []])
        #expect(try push.sendFrame([1, 2, 3], more: false, dontWait: false))
        let ready = try poller.poll(timeoutMs: 5_000)
        #expect(ready[socketIndex].contains(.readable))
        #expect(try pull.receive()?.frame(0) == [1, 2, 3])
        #expect(try pull.receive() == nil)  // nothing else waiting: EAGAIN maps to nil
        wakeup.signal()
        #expect(try poller.poll(timeoutMs: 5_000)[fdIndex].contains(.readable))
        pull.close()
        push.close()
    }

    @Test func terminatedContextMapsToETERM() throws {
        let context = Context()
        let pull = try RawSocket(context: context, type: .pull)
        context.shutdown()
        #expect(throws: ZMQError.terminated) { _ = try pull.receive(dontWait: false) }
        pull.close()
    }
}
