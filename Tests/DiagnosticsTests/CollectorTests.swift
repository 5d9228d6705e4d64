import AgorTestSupport
import AgorKit
import Bus
import DiagnosticsAPI
import Foundation
import GRDB
import SwiftProtobuf
import Testing
@testable import Diagnostics

@Suite(.serialized, .timeLimit(.minutes(3)))
struct CollectorTests {
    @Test func heartbeatsMarkAServiceUpAndTheirSilenceMarksItDown() async throws {
        try await withBed(DiagnosticsBed()) { bed in
            // Follow the health stream from its start, as a dashboard would.
            let watcher = try ServiceClient(home: bed.home, keyFile: bed.home.secretKeyFile("dash")).subscriber(
                "diagnostics", prefixes: [DiagnosticsService.healthStream])
            let states = Locked<[Agor_Diagnostics_V1_ServiceState]>([])
            let reader = Task {
                for await event in watcher.events where event.type.hasPrefix("service.") {
                    if let state = try? Agor_Diagnostics_V1_ServiceState(serializedBytes: event.body) { states.withLock { $0.append(state) } }
                }
            }
            #expect(try await eventually { try await bed.summary("echo")?.health == .up })
            let up = try #require(try await bed.summary("echo"))
            #expect(up.pid == getpid())

            // Services that never send a heartbeat (nothing runs btmsg here) are down after three intervals.
            #expect(try await eventually { try await bed.summary("btmsg")?.health == .down })

            // echo stops its heartbeats: down after three missed intervals; they resume: up again.
            bed.echo.health?.stop()
            #expect(try await eventually { try await bed.summary("echo")?.health == .down })
            bed.echo.health?.start()
            #expect(try await eventually { try await bed.summary("echo")?.health == .up })

            // The stream carried the same story, in order. (On a loaded machine a late heartbeat can add
            // a down/up pair of its own, so the story is looked for as a subsequence.)
            func told(_ all: [Agor_Diagnostics_V1_ServiceState]) -> Bool {
                var wanted: [(Agor_Diagnostics_V1_ServiceHealth, String)] = [(.up, ""), (.down, "no heartbeat for"), (.up, "heartbeats resumed")]
                for state in all where state.service == "echo" {
                    if let next = wanted.first, state.health == next.0, next.1.isEmpty || state.reason.contains(next.1) { wanted.removeFirst() }
                }
                return wanted.isEmpty
            }
            #expect(await eventually { told(states.withLock { $0 }) })
            #expect(states.withLock { $0.contains { $0.service == "btmsg" && $0.health == .down && $0.reason.contains("since the collector started") } })
            reader.cancel()
            await watcher.close()
        }
    }

    @Test func aDelayedRequestShowsUpInItsHistogramAtItsDelayOrAbove() async throws {
        try await withBed(DiagnosticsBed()) { bed in
            let delayMs = 150
            let echo = try bed.rpc("echo")
            _ = try await echo.call("test.sleep", Array("\(delayMs)".utf8), options: .init(timeout: .seconds(10)))
            for _ in 0..<5 { _ = try await echo.call("bus.ping", options: .init(timeout: .seconds(10))) }

            var request = Agor_Diagnostics_V1_HistogramsRequest()
            request.service = "echo"
            request.method = "test.sleep"
            var figures = Agor_Diagnostics_V1_MethodFigures()
            #expect(await eventually {
                // 404 until echo's next heartbeat has reached the collector.
                figures = (try? await bed.ask("diag.histograms", request, as: Agor_Diagnostics_V1_HistogramsReply.self))?.methods.first ?? figures
                return figures.count == 1
            })
            let delayUs = UInt64(delayMs * 1000)
            #expect(figures.latency.p50Us >= delayUs)
            #expect(figures.latency.maxUs >= delayUs)
            #expect(figures.latency.p999Us >= delayUs)
            // The last-N-seconds window sees it too, and the other method is apart and much faster.
            request.windowS = 60
            let windowed = try await bed.ask("diag.histograms", request, as: Agor_Diagnostics_V1_HistogramsReply.self)
            #expect(windowed.methods.first?.latency.maxUs ?? 0 >= delayUs)
            request.method = "bus.ping"
            request.windowS = 0
            #expect(await eventually {
                (try? await bed.ask("diag.histograms", request, as: Agor_Diagnostics_V1_HistogramsReply.self))?.methods.first?.count == 5
            })
            let ping = try await bed.ask("diag.histograms", request, as: Agor_Diagnostics_V1_HistogramsReply.self).methods[0]
            #expect(ping.latency.maxUs < delayUs)

            // The same figures reach Prometheus's exposition as a histogram in seconds.
            let text = bed.collector.exporter.render()
            #expect(text.contains("agor_request_duration_seconds_count{service=\"echo\",method=\"test.sleep\"} 1"))
            #expect(text.contains("agor_request_duration_seconds_bucket{service=\"echo\",method=\"test.sleep\",le=\"0.1\"} 0"))
            #expect(text.contains("agor_request_duration_seconds_bucket{service=\"echo\",method=\"test.sleep\",le=\"+Inf\"} 1"))
            #expect(text.contains("agor_service_up{service=\"echo\"} 1"))
        }
    }

    @Test func forcedPublisherDropsAreCountedAsWhatWasDropped() async throws {
        try await withBed(DiagnosticsBed()) { bed in
            // A publisher with a high-water mark of 1 on bttask's endpoints (bttask itself is not running),
            // and a sequenced subscriber to it inside echo, watched by echo's health reporter.
            let config = bed.echo.config
            let endpoints = try #require(config.service("bttask"))
            let bttaskKey = try CurveKeyPair.read(from: bed.home.secretKeyFile("bttask"))
            let database = try BusSchema.open(path: bed.home.dataFolder.appendingPathComponent("drops.db").path)
            let server = try RPCServer(context: bed.echo.context, endpoint: endpoints.rpc, serverKey: bttaskKey, directory: bed.echo.directory)
            let publisher = try SequencedPublisher(context: bed.echo.context, endpoint: endpoints.pub, serverKey: bttaskKey,
                                                   database: database, directory: bed.echo.directory, sendHighWaterMark: 1)
            publisher.serveReplay(on: server)
            let serving = Task { await server.run() }
            let replay = try RPCClient(context: bed.echo.context, endpoint: endpoints.rpc, serverKey: bttaskKey.publicKey, clientKey: bed.echo.keyPair)
            let subscriber = try SequencedSubscriber(context: bed.echo.context, endpoint: endpoints.pub, serverKey: bttaskKey.publicKey,
                                                     clientKey: bed.echo.keyPair, replay: replay, prefixes: ["t/"], start: .now)
            bed.echo.health?.watch(subscriber, as: "sub.drops")
            let delivered = Locked(0)
            let reader = Task { for await _ in subscriber.events { delivered.withLock { $0 += 1 } } }
            #expect(await eventually { subscriber.statistics.catchUps >= 1 })
            // Until one event arrives live, the subscription may not have reached the publisher yet.
            var emitted = 0
            while subscriber.statistics.deliveredLive == 0 && emitted < 200 {
                try await publisher.write { _, events in _ = try events.append(stream: "t/0", type: "x", body: []) }
                emitted += 1
                _ = await eventually(20) { delivered.withLock { $0 } == emitted }
            }
            // (The warm-up may itself have missed its first event; the burst is counted from here.)
            let before = subscriber.statistics

            // A burst: the PUB drops at its mark (whole frames, some of them batches of events).
            let burst = 20_000
            try await publisher.write { _, events in
                for _ in 0..<burst { _ = try events.append(stream: "t/0", type: "x", body: Array(repeating: 7, count: 32)) }
            }
            emitted += burst
            #expect(await eventually(600) { delivered.withLock { $0 } == emitted })
            let figures = subscriber.statistics
            let droppedInBurst = burst - (figures.deliveredLive - before.deliveredLive)
            #expect(droppedInBurst > 0)
            #expect(figures.eventsMissed - before.eventsMissed == droppedInBurst)
            #expect(figures.eventsRecovered - before.eventsRecovered == droppedInBurst)
            // Over the whole run: every event not delivered live was missed, and recovered.
            let droppedLive = emitted - figures.deliveredLive
            #expect(figures.eventsMissed == droppedLive)
            #expect(figures.eventsRecovered == droppedLive)

            // The collector reports exactly that many dropped events for echo, and the subscriber's figures.
            var detail = Agor_Diagnostics_V1_ServiceReply()
            var request = Agor_Diagnostics_V1_ServiceRequest()
            request.service = "echo"
            #expect(try await eventually {
                // A heartbeat taken after the subscriber caught up (a gap counts as missed when seen).
                detail = try await bed.ask("diag.service", request, as: Agor_Diagnostics_V1_ServiceReply.self)
                return detail.subscribers.first { $0.name == "sub.drops" }?.delivered == UInt64(emitted)
            })
            #expect(detail.summary.droppedEvents == UInt64(droppedLive))
            let reported = try #require(detail.subscribers.first { $0.name == "sub.drops" })
            #expect(reported.eventsMissed == UInt64(droppedLive))
            #expect(reported.eventsRecovered == UInt64(droppedLive))
            #expect(reported.delivered == UInt64(emitted))
            #expect(reported.endpoint == endpoints.pub)

            reader.cancel()
            await subscriber.close()
            await server.close()
            await publisher.close()
            await serving.value
        }
    }

    @Test func linksTimeSeriesAndSocketsAreKept() async throws {
        try await withBed(DiagnosticsBed()) { bed in
            #expect(try await eventually { try await bed.summary("echo")?.health == .up })
            // A client connects to echo and leaves: echo's monitor saw the peer, with its address.
            let client = try ServiceClient(home: bed.home, keyFile: bed.home.secretKeyFile("dash")).rpc("echo")
            _ = try await client.call("bus.ping", options: .init(timeout: .seconds(10)))
            await client.close()
            var links = Agor_Diagnostics_V1_LinksReply()
            var request = Agor_Diagnostics_V1_LinksRequest()
            request.service = "echo"
            #expect(try await eventually {
                links = try await bed.ask("diag.links", request, as: Agor_Diagnostics_V1_LinksReply.self)
                return links.links.contains { $0.observer == "service" && $0.event.socket == "rpc" && $0.event.kind == "disconnected" }
            })
            let accepted = try #require(links.links.first { $0.observer == "service" && $0.event.kind == "accepted" })
            #expect(accepted.event.peer.hasPrefix("127.0.0.1:"))
            #expect(!accepted.event.outbound)
            // The collector's own link to echo is there too, and a peer leaving echo is not a reconnect.
            #expect(links.links.contains { $0.observer == "collector" && $0.event.kind == "handshakeSucceeded" && $0.event.outbound })
            #expect(try await bed.summary("echo")?.reconnects == 0)

            // Series: one point a second.
            var series = Agor_Diagnostics_V1_SeriesRequest()
            series.service = "echo"
            series.metric = "up"
            #expect(try await eventually {
                let points = try await bed.ask("diag.series", series, as: Agor_Diagnostics_V1_SeriesReply.self).points
                return points.count >= 2 && points.last?.value == 1
            })

            var detailRequest = Agor_Diagnostics_V1_ServiceRequest()
            detailRequest.service = "echo"
            let detail = try await bed.ask("diag.service", detailRequest, as: Agor_Diagnostics_V1_ServiceReply.self)
            #expect(Set(detail.sockets.map(\.name)).isSuperset(of: ["rpc", "pub"]))
            #expect(detail.sockets.first { $0.name == "rpc" }?.type == "ROUTER")
            #expect(detail.sockets.allSatisfy { $0.sendQueueLimit > 0 && $0.receiveQueueLimit > 0 })
        }
    }

    @Test func badRequestsAreRefusedAndTheCollectorGoesOn() async throws {
        try await withBed(DiagnosticsBed()) { bed throws in
            let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0x0F, 0x01]
            for method in ["diag.summary", "diag.service", "diag.histograms", "diag.links", "diag.series"] {
                #expect(await bed.refusal(method, body: garbage)?.errorCode == .badRequest, "\(method)")
            }
            func body(_ message: some SwiftProtobuf.Message) throws -> [UInt8] { try message.serializedBytes() }
            var service = Agor_Diagnostics_V1_ServiceRequest()
            #expect(try await bed.refusal("diag.service", body: body(service))?.errorCode == .badRequest)
            service.service = "nope"
            #expect(try await bed.refusal("diag.service", body: body(service))?.errorCode == .notFound)
            var histograms = Agor_Diagnostics_V1_HistogramsRequest()
            histograms.service = "echo"
            histograms.windowS = 61
            #expect(try await bed.refusal("diag.histograms", body: body(histograms))?.errorCode == .badRequest)
            histograms.windowS = 0
            histograms.method = "never.called"
            #expect(try await bed.refusal("diag.histograms", body: body(histograms))?.errorCode == .notFound)
            var links = Agor_Diagnostics_V1_LinksRequest()
            links.limit = 5001
            #expect(try await bed.refusal("diag.links", body: body(links))?.errorCode == .badRequest)
            links.limit = 1
            links.service = "nope"
            #expect(try await bed.refusal("diag.links", body: body(links))?.errorCode == .notFound)
            var series = Agor_Diagnostics_V1_SeriesRequest()
            series.service = "echo"
            series.metric = "nope"
            #expect(try await bed.refusal("diag.series", body: body(series))?.errorCode == .badRequest)
            series.metric = "up"
            series.resolution = .UNRECOGNIZED(9)
            #expect(try await bed.refusal("diag.series", body: body(series))?.errorCode == .badRequest)

            // Frames on echo's heartbeat topic that are not echo's heartbeat: garbage, a wrong kind, and a
            // heartbeat that claims to be btmsg. Each is rejected; none makes btmsg look alive.
            #expect(try await eventually { try await bed.summary("echo")?.health == .up })
            let socket = bed.echo.publisher.socket
            let topic = Array(HealthReporter.topic.utf8)
            var impostor = Agor_Bus_V1_Heartbeat()
            impostor.service = "btmsg"
            impostor.intervalMs = 100
            var live = Envelope(kind: .live)
            live.stream = HealthReporter.topic
            let rejectedBefore = bed.collector.rejectedHeartbeats
            #expect(socket.tryPublish(topic: topic, envelope: garbage, body: garbage))
            #expect(socket.tryPublish(topic: topic, envelope: Envelope(kind: .request).bytes(), body: try impostor.serializedBytes()))
            #expect(socket.tryPublish(topic: topic, envelope: live.bytes(), body: garbage))
            #expect(socket.tryPublish(topic: topic, envelope: live.bytes(), body: try impostor.serializedBytes()))
            #expect(await eventually { bed.collector.rejectedHeartbeats >= rejectedBefore + 4 })
            #expect(try await bed.summary("btmsg")?.health != .up)
            #expect(try await bed.summary("echo")?.health == .up)
            #expect(try await bed.ask("diag.summary", Agor_Diagnostics_V1_SummaryRequest(), as: Agor_Diagnostics_V1_Figures.self).services.map(\.service) == ServiceCatalog.names + ["echo"])
        }
    }
}
