import AgorTestSupport
import AgorKit
import BtmsgAPI
import Bus
import Foundation
import Testing
@testable import btmsg

/// The publisher refuses subscriptions to another group's stream: the XPUB decides each one from
/// the subscriber's key, so a principal cannot even receive the metadata of other groups' messages.
@Suite("btmsg subscriptions", .serialized, .timeLimit(.minutes(3)))
struct SubscriptionTests {
    func subscriber(_ bed: BtmsgBed, _ name: String, _ prefix: String) throws -> Socket {
        let client = try bed.client(name)
        return try Socket(context: bed.runtime.context, type: .sub, .init(
            options: [.curveClient(publicKey: client.key.publicKey, secretKey: client.key.secretKey,
                                   serverKey: try client.serverKey(of: "btmsg")),
                      .linger(0), .subscribe(prefix)],
            connect: [try client.endpoints(of: "btmsg").pub]))
    }

    @Test("a member receives its group's stream; an outsider's subscription is refused and receives nothing")
    func outsidersReceiveNothing() async throws {
        try await withBed(BtmsgBed()) { bed in
            let member = try subscriber(bed, "wes", "btmsg/default/")
            let outsider = try subscriber(bed, "tom", "btmsg/default/")
            let everything = try subscriber(bed, "tom", "btmsg/")
            let own = try subscriber(bed, "tom", "btmsg/team/")
            // Wait until the publisher has decided all four subscriptions.
            #expect(await eventually(1000, every: .milliseconds(10)) {
                let counters = bed.runtime.publisher.socket.counters
                return counters.subscriptionsRefused >= 2 && counters.messagesIn >= 4
            })
            // Until the member's subscription is live, probe; then send for real.
            var memberIterator = member.messages.makeAsyncIterator()
            _ = try await bed.send("mia", to: "wes", "probe")
            _ = await memberIterator.next()
            for i in 0..<5 { _ = try await bed.send("mia", to: "wes", "secret \(i)") }
            for _ in 0..<5 { #expect(await memberIterator.next() != nil) }
            // Then an event tom may see: it is the first thing each of tom's sockets receives, because a
            // publisher delivers in order; nothing of `default` came before it.
            _ = try await bed.createChannel("tom", "team-room")
            var ownIterator = own.messages.makeAsyncIterator()
            let first = await ownIterator.next()
            #expect(first.map { String(decoding: $0.frame(0), as: UTF8.self) } == "btmsg/team/")
            #expect(bed.runtime.publisher.socket.counters.subscriptionsRefused == 2)
            // tom's refused sockets got nothing at all (their queues are empty).
            #expect(outsider.counters.messagesIn == 0)
            #expect(everything.counters.messagesIn == 0)
            for socket in [member, outsider, everything, own] { await socket.close() }
        }
    }

    @Test("the subscription rule: own groups, delegates everywhere")
    func rule() {
        let tom = Principal(name: "tom", kind: .agent, publicKey: [], groups: ["team"], role: .worker)
        let gateway = Principal(name: "gateway", kind: .service, publicKey: [], groups: [], role: .operator_, rights: [.delegate])
        #expect(BtmsgRules.maySubscribe(tom, prefix: "btmsg/team/"))
        #expect(!BtmsgRules.maySubscribe(tom, prefix: "btmsg/team"))       // would match team2 too
        #expect(!BtmsgRules.maySubscribe(tom, prefix: "btmsg/"))
        #expect(!BtmsgRules.maySubscribe(tom, prefix: ""))
        #expect(!BtmsgRules.maySubscribe(tom, prefix: "btmsg/default/"))
        #expect(BtmsgRules.maySubscribe(gateway, prefix: ""))
    }
}
