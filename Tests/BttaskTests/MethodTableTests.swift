import AgorTestSupport
import BttaskAPI
import Bus
import Foundation
import Testing

/// bttask's API module against the running service: every declared method is served under its name.
@Suite("bttask method table", .serialized, .timeLimit(.minutes(2)))
struct BttaskMethodTableTests {
    @Test("every method bttask declares is served, names are unique, and a typed call round-trips")
    func everyMethodIsServed() async throws {
        let declared = BttaskMethods.all + BusMethods.all
        #expect(Set(declared.map(\.name)).count == declared.count)
        #expect(BttaskMethods.all.allSatisfy { $0.service == "bttask" && $0.name.hasPrefix("bttask.") && !$0.summary.isEmpty })
        try await withBed(await BttaskBed(withBtmsg: false)) { bed in
            for method in declared {
                let error = await bed.refusal("wes", method.name, Agor_Bttask_V1_TaskRef())
                #expect(!(error?.message.hasPrefix("unknown method") ?? false), "\(method.name) is not served")
            }
            var create = Agor_Bttask_V1_CreateRequest()
            create.title = "typed"
            let created = try await bed.rpc("mia").call(BttaskMethods.create, create, options: .init(timeout: .seconds(10), idempotent: true))
            #expect(created.task.title == "typed" && created.task.id.count == 36)
            var ref = Agor_Bttask_V1_TaskRef()
            ref.id = created.task.id
            #expect(try await bed.rpc("wes").call(BttaskMethods.show, ref).task.title == "typed")
        }
    }
}
