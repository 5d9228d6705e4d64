import AgorTestSupport
import Foundation
import Testing
@testable import Bus

/// Sockets that share one thread (a service's ROUTER and PUB): both read and write on it, closing
/// one leaves the other working, and a socket that joins a thread whose sockets all closed starts it
/// again.
@Suite struct SharedThreadTests {
    func exchange(_ pull: Socket, _ push: Socket, count: Int, tag: String) async -> Int {
        Task { for i in 0..<count { await push.send(OutgoingMessage(Array("\(tag)\(i)".utf8))) } }
        var received = 0
        for await message in pull.messages {
            guard String(decoding: message.frame(0), as: UTF8.self) == "\(tag)\(received)" else { break }
            received += 1
            if received == count { break }
        }
        return received
    }

    @Test func twoSocketsOnOneThreadBothWork() async throws {
        let context = Context()
        let first = try Socket(context: context, type: .pull, .init(bind: ["tcp://127.0.0.1:*"]))
        var shared = Socket.Configuration(bind: ["tcp://127.0.0.1:*"])
        shared.sharesThreadWith = first
        let second = try Socket(context: context, type: .pull, shared)
        #expect(first.core.thread === second.core.thread)
        let pushFirst = try Socket(context: context, type: .push, .init(connect: [first.boundEndpoints[0]]))
        let pushSecond = try Socket(context: context, type: .push, .init(connect: [second.boundEndpoints[0]]))
        async let a = exchange(first, pushFirst, count: 5_000, tag: "a")
        async let b = exchange(second, pushSecond, count: 5_000, tag: "b")
        #expect(await a == 5_000)
        #expect(await b == 5_000)
        // The first closes; the second goes on on the same thread.
        await first.close()
        #expect(await exchange(second, pushSecond, count: 1_000, tag: "c") == 1_000)
        // Both closed: the thread ended. A socket made to share it starts it again.
        await second.close()
        var late = Socket.Configuration(bind: ["tcp://127.0.0.1:*"])
        late.sharesThreadWith = second
        let third = try Socket(context: context, type: .pull, late)
        let pushThird = try Socket(context: context, type: .push, .init(connect: [third.boundEndpoints[0]]))
        #expect(await exchange(third, pushThird, count: 1_000, tag: "d") == 1_000)
        for socket in [pushFirst, pushSecond, pushThird, third] { await socket.close() }
    }

    @Test func aServiceRouterAndPublisherShareTheirThread() async throws {
        try await withBed(TestBed()) { bed in
            #expect(bed.publisher.socket.core.thread === bed.server.socket.core.thread)
        }
    }
}
