@testable import Bus
import Testing

/// Binding to a host name: Debian's libzmq refuses `tcp://NAME:PORT` (it reads NAME as an interface),
/// which is what container homes (`agor init --host-per-service`) and per-host names use.
@Suite("bind endpoints")
struct BindEndpointTests {
    @Test("a host name is resolved to its address; addresses, wildcards and the rest pass unchanged")
    func resolution() {
        #expect(BindEndpoint.resolved("tcp://localhost:9762") == "tcp://127.0.0.1:9762")
        for unchanged in ["tcp://127.0.0.1:9762", "tcp://*:9762", "tcp://[::1]:9762", "ipc:///tmp/agor.sock",
                          "tcp://no-such-host.invalid:9762"] {
            #expect(BindEndpoint.resolved(unchanged) == unchanged)
        }
    }

    @Test("a socket binds to a host name and a peer connects by that name")
    func bindByName() throws {
        let context = Context()
        let port = LoopbackPorts.freeBase(count: 1)
        let pull = try RawSocket(context: context, type: .pull)
        try pull.bind("tcp://localhost:\(port)")
        #expect(pull.lastEndpoint == "tcp://127.0.0.1:\(port)")
        let push = try RawSocket(context: context, type: .push)
        try push.connect("tcp://localhost:\(port)")
        #expect(try push.sendFrame([1, 2, 3], more: false, dontWait: false))
        #expect(try pull.receive(dontWait: false)?.frame(0) == [1, 2, 3])
        pull.close()
        push.close()
    }
}
