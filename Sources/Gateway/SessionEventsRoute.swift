import Bus
import Foundation
import Hummingbird
import RunnerAPI

/// `GET /v1/sessions/{id}/events?from=N&limit=L`: a session's stored events, as the stream frames
/// of /v1/stream (`{event, seq, stream, time_us, type}`), from N inclusive. The runner decides who
/// may read the session (`runner.show`), then serves its stream (`bus.replay`).
extension APIRoutes {
    static let maxSessionEvents = 2000

    func registerSessionEvents(on router: Router<GatewayContext>) {
        router.get("/v1/sessions/{id}/events") { request, context -> Response in
            let person = try context.requirePerson()
            guard let id = context.parameters.get("id") else { throw APIError.badRequest("missing id") }
            let query = request.uri.queryParameters
            let from = try query["from"].map { text -> UInt64 in
                guard let number = UInt64(String(text)), number >= 1 else { throw APIError.badRequest("from is a sequence number of 1 or more") }
                return number
            } ?? 1
            let limit = try query["limit"].map { text -> Int in
                guard let number = Int(String(text)), (1...APIRoutes.maxSessionEvents).contains(number) else {
                    throw APIError.badRequest("limit is 1 to \(APIRoutes.maxSessionEvents)")
                }
                return number
            } ?? 500
            var ref = Agor_Runner_V1_SessionRef()
            ref.id = id
            let session = try await bridge.call(RunnerAPI.show, ref, for: person, idempotent: true)
            var frames: [String] = []
            var position = from - 1
            var head: UInt64 = 0
            while frames.count < limit {
                var ask = Agor_Bus_V1_ReplayRequest()
                ask.stream = session.stream
                ask.afterSeq = position
                ask.limit = UInt32(limit - frames.count)
                let reply = try await bridge.call(BusMethods.replay, ask, on: RunnerAPI.service, for: person, idempotent: true)
                head = reply.headSeq
                var advanced = false
                for packed in reply.events where frames.count < limit {
                    guard let event = BusEvent(packed: packed), event.seq == position + 1 else { continue }
                    frames.append(StreamHub.json(event))
                    position = event.seq
                    advanced = true
                }
                if !advanced || position >= head { break }
            }
            let body = "{\"events\":[" + frames.joined(separator: ",") + "],\"head_seq\":\(head)}"
            return JSONResponse.make(ByteBuffer(string: body), status: .ok)
        }
    }
}
