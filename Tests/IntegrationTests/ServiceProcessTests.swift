import AgorKit
import Bus
import Foundation
import Testing

/// The Bus across real processes: a service killed and restarted mid-stream and mid-request.
@Suite(.serialized) struct ServiceProcessTests {
    @Test func subscriberSeesEveryEventOnceAcrossAPublisherRestart() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        var service = try it.serve("echo")
        #expect(try await it.waitUntilAnswers("echo"))
        let client = try it.client()
        let subscriber = try client.subscriber("echo", prefixes: ["echo."])
        let rpc = try client.rpc("echo")
        let options = RPCClient.CallOptions(timeout: .seconds(2), idempotent: true, retries: 10)
        for _ in 0..<5 {
            _ = try await rpc.call("echo.emit", jsonBytes(["stream": "echo.a", "count": 20]), options: options)
        }
        // Kill it hard in the middle of the stream, then start it again on the same database.
        kill(service.processIdentifier, SIGKILL)
        service.waitUntilExit()
        service = try it.serve("echo")
        for _ in 0..<5 {
            _ = try await rpc.call("echo.emit", jsonBytes(["stream": "echo.a", "count": 20]), options: options)
        }
        _ = try await rpc.call("echo.emit", jsonBytes(["stream": "echo.b", "count": 3]), options: options)
        var seen: [String: [UInt64]] = [:]
        var total = 0
        for await event in subscriber.events {
            seen[event.stream, default: []].append(event.seq)
            total += 1
            if total == 203 { break }
        }
        #expect(seen["echo.a"] == Array(1...200))
        #expect(seen["echo.b"] == [1, 2, 3])
        await subscriber.close()
        await rpc.close()
    }

    @Test func retriedRequestIsAppliedOnceAfterTimeoutAndAfterRestart() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        var service = try it.serve("echo")
        #expect(try await it.waitUntilAnswers("echo"))
        let rpc = try it.client().rpc("echo")
        // Timeout: each attempt takes 600 ms, the client waits 200 ms per attempt and retries (up to
        // 8 s in all, so that a loaded machine still answers before the request's deadline).
        let slow = try await rpc.call("echo.increment", jsonBytes(["delay_ms": 600]),
                                      options: .init(timeout: .milliseconds(200), idempotent: true, retries: 40, requestId: "inc-1"))
        #expect(json(slow)["value"] as? Int == 1)
        // Restart: the same request id after a kill is answered from the database, not applied again.
        kill(service.processIdentifier, SIGKILL)
        service.waitUntilExit()
        service = try it.serve("echo")
        let again = try await rpc.call("echo.increment", [], options: .init(timeout: .seconds(1), idempotent: true, retries: 20, requestId: "inc-1"))
        #expect(json(again)["value"] as? Int == 1)
        let value = try await rpc.call("echo.get", options: .init(timeout: .seconds(2), idempotent: true, retries: 5))
        #expect(json(value)["value"] as? Int == 1)
        let fresh = try await rpc.call("echo.increment", [], options: .init(timeout: .seconds(2), idempotent: true, retries: 5))
        #expect(json(fresh)["value"] as? Int == 2)
        await rpc.close()
    }

    @Test func badRequestsToTheServiceGetTypedErrors() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        _ = try it.serve("echo")
        #expect(try await it.waitUntilAnswers("echo"))
        let rpc = try it.client().rpc("echo")
        for body in [Array("not json".utf8), jsonBytes(["stream": "other", "count": 1]), jsonBytes(["stream": "echo.x", "count": 0])] {
            do {
                _ = try await rpc.call("echo.emit", body)
                Issue.record("bad emit accepted")
            } catch let error as BusError {
                #expect(error.errorCode == .badRequest)
            }
        }
        #expect(try await rpc.call("echo", [1, 2]) == [1, 2])
        await rpc.close()
    }

    @Test func pythonClientSpeaksTheProtocol() async throws {
        let it = try AgorHome()
        defer { it.cleanUp() }
        _ = try it.serve("echo")
        #expect(try await it.waitUntilAnswers("echo"))
        let (status, output) = try await AgorHome.python([AgorHome.interop("client.py"), it.home.root.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("interop ok"))
    }
}
