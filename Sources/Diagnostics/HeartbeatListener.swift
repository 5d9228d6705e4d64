import Bus
import Foundation
import Logging
import Synchronization

/// The collector's SUB sockets: one per service in the config, CURVE clients with the collector's
/// key, subscribed to the heartbeat topic. Each socket is monitored, so the collector keeps its own
/// history of every link (the disconnect of a killed service, the reconnect of a restarted one).
/// Frames that are not a well-formed heartbeat from the service at that endpoint are counted and
/// dropped.
final class HeartbeatListener: Sendable {
    typealias OnHeartbeat = @Sendable (String, Agor_Bus_V1_Heartbeat) -> Void
    typealias OnLink = @Sendable (String, Agor_Bus_V1_LinkEvent) -> Void

    private let sockets: [(service: String, socket: Socket)]
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let rejected = Atomic<Int>(0)

    init(runtime: ServiceRuntime, onHeartbeat: @escaping OnHeartbeat, onLink: @escaping OnLink) throws {
        var sockets: [(String, Socket)] = []
        for service in runtime.config.services {
            let address: ServiceAddress
            do {
                address = try ServiceAddress(service.name, config: runtime.config, directory: runtime.directory,
                                             configFile: runtime.home.configFile.path)
            } catch {
                runtime.logger.warning("not watching \(service.name): \(error)")
                continue
            }
            var configuration = Socket.Configuration(
                options: [.curveClient(publicKey: runtime.keyPair.publicKey, secretKey: runtime.keyPair.secretKey, serverKey: address.serverKey),
                          .subscribe(Array(HealthReporter.topic.utf8)), .linger(0), .reconnectInterval(100), .reconnectIntervalMax(1_000),
                          .maxMessageSize(BusProtocol.defaultMaxMessageSize), .receiveHighWaterMark(10_000),
                          .heartbeatInterval(1_000), .heartbeatTimeout(3_000)],
                connect: [address.endpoints.pub])
            configuration.monitor = true
            sockets.append((service.name, try Socket(context: runtime.context, type: .sub, configuration)))
        }
        self.sockets = sockets
        var started: [Task<Void, Never>] = []
        for (service, socket) in sockets {
            socket.monitor?.observe { event in
                guard let link = event.linkEvent(socket: "collector.sub", outbound: true) else { return }
                onLink(service, link)
            }
            started.append(Task { [self] in
                for await message in socket.messages {
                    let (beats, invalid) = HeartbeatListener.decode(message)
                    if invalid > 0 { rejected.add(invalid, ordering: .relaxed) }
                    for beat in beats {
                        guard beat.service == service else { rejected.add(1, ordering: .relaxed); continue }
                        onHeartbeat(service, beat)
                    }
                }
            })
        }
        tasks.withLock { $0 = started }
    }

    /// Frames received that were not a heartbeat of the service at that endpoint.
    var rejectedCount: Int { rejected.load(ordering: .relaxed) }

    /// The heartbeats in [topic, envelope (KIND_LIVE), Heartbeat], or in a batch frame of them (when
    /// several were queued together), and how many items were something else.
    static func decode(_ message: ReceivedMessage) -> (beats: [Agor_Bus_V1_Heartbeat], rejected: Int) {
        guard message.frameCount == 3, message.frame(0) == Array(HealthReporter.topic.utf8) else { return ([], 1) }
        var beats: [Agor_Bus_V1_Heartbeat] = []
        var rejected = 0
        let wellFormed = EventFrame.forEach(in: message) { envelopeBytes, body in
            guard let envelope = try? Envelope(serializedBytes: Array(envelopeBytes)), envelope.kind == .live,
                  let beat = try? Agor_Bus_V1_Heartbeat(serializedBytes: Array(body)), !beat.service.isEmpty else {
                rejected += 1
                return
            }
            beats.append(beat)
        }
        return wellFormed ? (beats, rejected) : ([], 1)
    }

    func close() async {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        for (_, socket) in sockets { await socket.close() }
    }
}
