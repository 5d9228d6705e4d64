import AgorTestSupport
import BtmsgAPI
import Bus
import Foundation
import Testing

/// btmsg's API module against the running service: every declared method is served under its
/// name, and a method's roles are checked before its handler runs.
@Suite("btmsg method table", .serialized, .timeLimit(.minutes(2)))
struct MethodTableTests {
    @Test("every method btmsg declares is served, and no two methods share a name")
    func everyMethodIsServed() async throws {
        let declared = BtmsgMethods.all + BusMethods.all
        #expect(Set(declared.map(\.name)).count == declared.count)
        #expect(BtmsgMethods.all.allSatisfy { $0.service == "btmsg" && $0.name.hasPrefix("btmsg.") && !$0.summary.isEmpty })
        try await withBed(BtmsgBed()) { bed in
            for method in declared {
                // An empty body: most methods refuse it (bad request, not found), none may call it unknown.
                let error = await bed.refusal("wes", method.name, Agor_Btmsg_V1_Empty())
                #expect(!(error?.message.hasPrefix("unknown method") ?? false), "\(method.name) is not served")
            }
            let unknown = await bed.refusal("wes", "btmsg.nonesuch", Agor_Btmsg_V1_Empty())
            #expect(unknown?.errorCode == .notFound && unknown?.message.hasPrefix("unknown method") == true)
        }
    }

    @Test("a method for operators refuses every other role before its handler, and serves an operator")
    func rolesAreChecked() async throws {
        try await withBed(BtmsgBed()) { bed throws in
            let forOperators = BtmsgMethods.all.filter { $0.roles == [.operator_] }.map(\.name)
            #expect(forOperators.sorted() == ["btmsg.allow", "btmsg.deadletters", "btmsg.feed"])
            for name in forOperators {
                for caller in ["mia", "wes", "rita"] {
                    let error = await bed.refusal(caller, name, Agor_Btmsg_V1_Empty())
                    #expect(error?.errorCode == .forbidden, "\(caller) called \(name)")
                    #expect(error?.message.contains("\(name) is for operator") == true)
                }
            }
            // The operator gets past the role check (and the handler answers).
            #expect(try await bed.call("operator", "btmsg.feed", Agor_Btmsg_V1_FeedRequest(), as: Agor_Btmsg_V1_MessageList.self).messages.isEmpty)
            #expect(try await bed.call("operator", "btmsg.deadletters", as: Agor_Btmsg_V1_DeadLetterList.self).letters.isEmpty)
        }
    }

    @Test("a typed client call decodes the typed reply; a truncated body is a 400 naming the request type")
    func typedCalls() async throws {
        try await withBed(BtmsgBed()) { bed in
            let rpc = try bed.rpc("mia")
            var send = Agor_Btmsg_V1_SendRequest()
            send.to = "wes"
            send.body = "typed"
            let reply = try await rpc.call(BtmsgMethods.send, send, options: .init(timeout: .seconds(10), idempotent: true))
            #expect(reply.message.id.count == 36 && reply.message.body == "typed")
            let me = try await rpc.call(BtmsgMethods.whoami, Agor_Btmsg_V1_Empty())
            #expect(me.name == "mia" && me.role == "manager")
            // Field 1 says five bytes follow; none do.
            do {
                _ = try await rpc.call(BtmsgMethods.send.name, [0x0a, 0x05], options: .init(timeout: .seconds(10)))
                Issue.record("a truncated body was accepted")
            } catch let error as BusError {
                #expect(error.errorCode == .badRequest)
                #expect(error.message.contains("agor.btmsg.v1.SendRequest"))
            }
        }
    }
}
