import AgorTestSupport
import CLibZMQ
import Foundation
import Testing
@testable import Bus

/// CURVE + ZAP on real tcp sockets: who gets in, who does not, and what a payload cannot claim.
@Suite struct AuthenticationTests {
    @Test func knownKeyIsServedAsItsPrincipal() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice)
            let reply = try await client.call("whoami")
            #expect(String(decoding: reply, as: UTF8.self) == "alice/alice")
            #expect(bed.zap.counts.allowed >= 1)
            await client.close()
        }
    }

    @Test func unknownKeyIsRefused() async throws {
        try await withBed(TestBed()) { bed in
            let stranger = try bed.client(CurveKeyPair.generate())
            do {
                _ = try await stranger.call("whoami", options: .init(timeout: .seconds(5)))
                Issue.record("an unknown key was answered")
            } catch let error as BusError {
                // The handshake's refusal, not the deadline: no request reached the service.
                #expect(error == .keyRefused)
            }
            #expect(await eventually { bed.zap.counts.denied >= 1 })
            #expect(bed.server.statistics.requests == 0)
            await stranger.close()
        }
    }

    @Test func nullAndPlainClientsAreRefused() async throws {
        try await withBed(TestBed()) { bed in
            let null = try Socket(context: bed.context, type: .dealer, .init(options: [.linger(0)], connect: [bed.server.endpoint]))
            let plain = try Socket(context: bed.context, type: .dealer, .init(options: [.linger(0)]))
            try await plain.perform { raw in
                try raw.setBytes(ZMQ_PLAIN_USERNAME, Array("alice".utf8))
                try raw.setBytes(ZMQ_PLAIN_PASSWORD, Array("secret".utf8))
                try raw.connect(bed.server.endpoint)
            }
            let request = [Envelope.request(method: "whoami", id: "x").bytes(), []]
            await null.send(frames: request)
            await plain.send(frames: request)
            // Give the handshakes time to fail, then show nothing reached the server.
            try await Task.sleep(for: .milliseconds(500))
            #expect(bed.server.statistics.requests == 0)
            #expect(null.counters.messagesIn == 0)
            #expect(plain.counters.messagesIn == 0)
            await null.close()
            await plain.close()
        }
    }

    @Test func wrongServerKeyFails() async throws {
        try await withBed(TestBed()) { bed in
            let client = try bed.client(bed.alice, serverKey: CurveKeyPair.generate().publicKey)
            do {
                _ = try await client.call("whoami", options: .init(timeout: .milliseconds(500)))
                Issue.record("a client with the wrong server key was answered")
            } catch let error as BusError {
                #expect(error.errorCode == .timeout)
            }
            #expect(bed.server.statistics.requests == 0)
            await client.close()
        }
    }

    @Test func revokedKeyIsRefusedWithoutRestart() async throws {
        try await withBed(TestBed()) { bed in
            let connected = try bed.client(bed.alice)
            #expect(try await connected.call("whoami") == Array("alice/alice".utf8))
            // Revoke through a second Directory on the same folder, as `agor revoke` does from another process.
            try Directory(folder: bed.directory.folder).revoke("alice", reason: "test")
            #expect(await eventually { bed.directory.principal(named: "alice") == nil })
            // The open connection is refused per request ...
            do {
                _ = try await connected.call("whoami")
                Issue.record("a revoked principal was served")
            } catch let error as BusError {
                #expect(error.errorCode == .unauthenticated)
            }
            // ... and a new connection is refused by ZAP.
            let deniedBefore = bed.zap.counts.denied
            let fresh = try bed.client(bed.alice)
            await #expect(throws: BusError.self) { _ = try await fresh.call("whoami", options: .init(timeout: .milliseconds(500))) }
            #expect(await eventually { bed.zap.counts.denied > deniedBefore })
            await connected.close()
            await fresh.close()
        }
    }

    @Test func payloadClaimingAnotherIdentityChangesNothing() async throws {
        try await withBed(TestBed()) { bed in
            let alice = try bed.client(bed.alice)
            do {
                _ = try await alice.call("note.add", Array("hello".utf8), options: .init(onBehalfOf: "bob"))
                Issue.record("alice acted for bob without the delegate right")
            } catch let error as BusError {
                #expect(error.errorCode == .forbidden)
            }
            #expect(try bed.noteCount() == 0)
            // A delegate may act for someone, and the server sees both.
            let gateway = try bed.client(bed.gateway)
            #expect(try await gateway.call("whoami", options: .init(onBehalfOf: "bob")) == Array("gateway/bob".utf8))
            await alice.close()
            await gateway.close()
        }
    }
}
