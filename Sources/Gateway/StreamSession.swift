import Bus
import Foundation
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import RunnerAPI

/// What a client asks of `GET /v1/stream`: which services (default all), which of its groups
/// (default all), where to resume (`cursor=STREAM:SEQ,STREAM:SEQ`, as the events it received said),
/// and whether it takes several events per frame (`batch=true`: newline-separated).
struct StreamRequest: Sendable, Equatable {
    var services: Set<String>
    var groups: [String]
    /// Groups whose agent sessions the person may follow (operators and managers).
    var sessionGroups: [String] = []
    var cursors: [String: UInt64]
    var batch = false

    /// The exact stream names the person may receive under this request.
    var streams: Set<String> {
        var names: Set<String> = []
        for group in groups {
            if services.contains("btmsg") { names.insert("btmsg/\(group)/") }
            if services.contains("bttask") { names.insert("bttask/\(group)/") }
        }
        if services.contains("runner") { for group in sessionGroups { names.insert(RunnerRules.groupPrefix(group)) } }
        if services.contains("diagnostics") { names.insert("diag/health") }
        return names
    }

    /// Parses and checks the query; throws a 400 or 403 `APIError`.
    static func parse(query: [String: String], person: Principal) throws -> StreamRequest {
        let known = Set(StreamHub.servicePrefixes.keys)
        var services = known
        if let list = query["services"] {
            services = Set(list.split(separator: ",").map(String.init))
            guard !services.isEmpty, services.isSubset(of: known) else {
                throw APIError.badRequest("services is a comma-separated list of \(known.sorted().joined(separator: ", "))")
            }
        }
        var groups = person.groups
        if let list = query["groups"] {
            groups = list.split(separator: ",").map(String.init)
            for group in groups where !person.isMember(of: group) {
                throw APIError.forbidden("\(person.name) is not in group \(group.prefix(64))")
            }
        }
        var cursors: [String: UInt64] = [:]
        if let list = query["cursor"], !list.isEmpty {
            for item in list.split(separator: ",") {
                guard let colon = item.lastIndex(of: ":"), let seq = UInt64(item[item.index(after: colon)...]) else {
                    throw APIError.badRequest("cursor is STREAM:SEQ[,STREAM:SEQ...], as received in the events")
                }
                cursors[String(item[..<colon])] = seq
            }
        }
        var batch = false
        if let value = query["batch"] {
            switch value {
            case "true", "1": batch = true
            case "false", "0": batch = false
            default: throw APIError.badRequest("batch is true or false")
            }
        }
        var request = StreamRequest(services: services, groups: groups, cursors: cursors, batch: batch)
        request.sessionGroups = groups.filter { RunnerRules.mayManage(person, group: $0) }
        for stream in cursors.keys where !request.streams.contains(StreamHub.routingKey(stream)) {
            throw APIError.forbidden("no stream \(stream.prefix(80)) for \(person.name) in this request")
        }
        return request
    }
}

/// One WebSocket client of `/v1/stream`: replays what it missed after its cursors (from the
/// services, on the person's behalf), then sends live events, each once and in order per stream.
struct StreamSession {
    /// Close codes of our own (4000-4999 are the application's).
    static let closeTooSlow: UInt16 = 4008
    static let closeRevoked: UInt16 = 4003
    /// RFC 6455's "try again later": a service behind did not answer the replay.
    static let closeTryAgain: UInt16 = 1013

    let hub: StreamHub
    let bridge: BusBridge
    let directory: Directory
    let person: Principal
    let request: StreamRequest
    /// The client's connection, which the hub writes live frames to once the client has caught up.
    let channel: Channel

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let allowed = request.streams
        let client = hub.connect(streams: allowed, batch: request.batch, channel: channel, person: person, directory: directory)
        defer { hub.disconnect(client) }
        let hello: [String: Any] = ["type": "hello", "person": person.name, "streams": allowed.sorted()]
        try await outbound.write(.text(String(decoding: try JSONSerialization.data(withJSONObject: hello, options: [.sortedKeys]), as: UTF8.self)))

        do {
            try await stream(inbound: inbound, outbound: outbound, client: client)
        } catch let error as APIError where error.status == .serviceUnavailable {
            // The client resumes with its cursors, as after any close; this says it was not its fault.
            try await outbound.close(.unknown(StreamSession.closeTryAgain), reason: "a service did not answer the replay; reconnect with your cursor")
        }
    }

    /// The replay, the catch-up and the live part, until the client or the hub ends it.
    private func stream(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, client: StreamHub.Client) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The client's frames only matter for closing (pings are answered by the library).
            group.addTask {
                for try await _ in inbound {}
                hub.disconnect(client)
            }
            group.addTask {
                // The streams the client named resume after its cursors; the others start at what arrives.
                var cursors = StreamCursors(request.cursors, unknown: .fromWhatArrives)
                for stream in request.cursors.keys.sorted() {
                    try await replay(stream, through: nil, cursors: &cursors, outbound: outbound)
                }
                // Catching up: what arrived during the replay, in batches, until nothing is queued;
                // then the hub writes live frames straight to the connection, past the client's gate
                // (what it has been sent, per stream), so nothing is written twice or backwards.
                while true {
                    client.noteDelivered(cursors.positions)
                    guard let frames = client.queue.takeOrGoDirect() else { break }
                    guard client.stillAllowed else {
                        try await outbound.close(.unknown(StreamSession.closeRevoked), reason: "access revoked")
                        return
                    }
                    var ready: [ByteBuffer] = []
                    for frame in frames {
                        switch cursors.verdict(frame.stream, frame.seq) {
                        case .seen:
                            continue
                        case .gap(_, let through):
                            try await send(ready, outbound: outbound)
                            ready = []
                            // Short (retention removed some): the live event follows what there is.
                            try await replay(frame.stream, through: through, cursors: &cursors, outbound: outbound)
                        case .next:
                            break
                        }
                        ready.append(frame.bytes)
                        cursors.advance(frame.stream, to: frame.seq)
                    }
                    try await send(ready, outbound: outbound)
                }
                // Live: wait for the end, then say why.
                while await client.queue.next() != nil {}
                switch client.queue.end {
                case .overflowed:
                    try await outbound.close(.unknown(StreamSession.closeTooSlow),
                                             reason: "too slow: events waited unread past the bound; reconnect with your cursor")
                case .revoked:
                    try await outbound.close(.unknown(StreamSession.closeRevoked), reason: "access revoked")
                case .closed, nil:
                    break
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Writes encoded events as the hub would (one frame each, or joined for a batching client).
    private func send(_ events: [ByteBuffer], outbound: WebSocketOutboundWriter) async throws {
        for text in StreamHub.frames(events, joined: request.batch) {
            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: text)))
        }
    }

    /// Sends the stream's events after its cursor (up to `through`, or its head) from the service's
    /// replay, advancing the cursor over what was sent.
    private func replay(_ stream: String, through: UInt64?, cursors: inout StreamCursors, outbound: WebSocketOutboundWriter) async throws {
        guard let service = StreamHub.servicePrefixes.first(where: { stream.hasPrefix($0.value) })?.key else { return }
        while through.map({ cursors[stream] < $0 }) ?? true {
            var ask = Agor_Bus_V1_ReplayRequest()
            ask.stream = stream
            ask.afterSeq = cursors[stream]
            let reply = try await bridge.call(BusMethods.replay, ask, on: service, for: person, idempotent: true)
            var page: [ByteBuffer] = []
            for packed in reply.events {
                guard let event = BusEvent(packed: packed), event.stream == stream else { continue }
                if let through, event.seq > through { break }
                guard cursors.takeReplayed(stream, event.seq) else { continue }
                page.append(ByteBuffer(string: StreamHub.json(event)))
            }
            // A page in as few frames as the client takes (one per event without batch=true).
            try await send(page, outbound: outbound)
            if page.isEmpty || cursors[stream] >= reply.headSeq { break }
        }
    }
}
