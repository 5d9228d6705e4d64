import AgorKit
import Bus
import Diagnostics
import DiagnosticsAPI
import Foundation

/// A CURVE subscriber to the collector's `diag/` topics: live figures, and health changes and
/// link events from the `diag/health` stream as one-line notes.
struct DiagWatch {
    enum Item { case figures(Agor_Diagnostics_V1_Figures), note(String) }

    let socket: Socket
    let items: AsyncStream<Item>

    init(client: ServiceClient) throws {
        let endpoints = try client.endpoints(of: DiagnosticsService.name)
        socket = try Socket(context: client.context, type: .sub, .init(
            options: [.curveClient(publicKey: client.key.publicKey, secretKey: client.key.secretKey,
                                   serverKey: try client.serverKey(of: DiagnosticsService.name)),
                      .subscribe(Array("diag/".utf8)), .linger(0), .reconnectInterval(100), .reconnectIntervalMax(2_000)],
            connect: [endpoints.pub]))
        let (items, feed) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(64))
        self.items = items
        Task { [messages = socket.messages] in
            for await message in messages {
                EventFrame.forEach(in: message) { envelopeBytes, body in
                    guard let envelope = try? Envelope(serializedBytes: Array(envelopeBytes)) else { return }
                    if envelope.kind == .live, let figures = try? Agor_Diagnostics_V1_Figures(serializedBytes: Array(body)) {
                        feed.yield(.figures(figures))
                    } else if envelope.kind == .event, let line = DiagView.note(type: envelope.method, body: Array(body)) {
                        feed.yield(.note(line))
                    }
                }
            }
            feed.finish()
        }
    }

    func close() async { await socket.close() }
}
