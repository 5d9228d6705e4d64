import Bus
import DiagnosticsAPI
import Foundation

/// The collector's methods. Any principal in the directory may ask; unknown services are 404, bad
/// bodies and out-of-range arguments 400.
extension DiagnosticsService {
    func registerHandlers() {
        let server = runtime.server
        server.register(DiagnosticsAPI.summary) { [self] _, _ in
            return book.figures()
        }
        server.register(DiagnosticsAPI.serviceDetail) { [self] _, request in
            let record = try known(request.service)
            let now = BusProtocol.nowMicros()
            var reply = Agor_Diagnostics_V1_ServiceReply()
            reply.summary = book.summary(of: record, nowUs: now)
            reply.methods = record.methods.keys.sorted().map {
                record.methods[$0]!.figures(method: $0, lastSeconds: LatencyWindow.recentSeconds, nowUs: now)
            }
            reply.sockets = record.last?.sockets ?? []
            reply.subscribers = record.last?.subscribers ?? []
            reply.links = Array(record.links.suffix(50))
            return reply
        }
        server.register(DiagnosticsAPI.histograms) { [self] _, request in
            let record = try known(request.service)
            guard request.windowS <= UInt32(LatencyWindow.recentSeconds) else {
                throw BusError.badRequest("window_s must be 0 (since the collector started) or 1 to \(LatencyWindow.recentSeconds)")
            }
            let window: Int64? = request.windowS == 0 ? nil : Int64(request.windowS)
            let names = request.method.isEmpty ? record.methods.keys.sorted() : [request.method]
            guard request.method.isEmpty || record.methods[request.method] != nil else {
                throw BusError.notFound("\(request.service) has answered no \(request.method) request since the collector started")
            }
            var reply = Agor_Diagnostics_V1_HistogramsReply()
            let now = BusProtocol.nowMicros()
            reply.methods = names.map { record.methods[$0]!.figures(method: $0, lastSeconds: window, nowUs: now) }
            return reply
        }
        server.register(DiagnosticsAPI.links) { [self] _, request in
            if !request.service.isEmpty { _ = try known(request.service) }
            guard request.limit <= 5000 else { throw BusError.badRequest("limit must be at most 5000") }
            var reply = Agor_Diagnostics_V1_LinksReply()
            reply.links = try await store.links(service: request.service, sinceUs: request.sinceUs,
                                                limit: request.limit == 0 ? 200 : Int(request.limit))
            return reply
        }
        server.register(DiagnosticsAPI.series) { [self] _, request in
            _ = try known(request.service)
            guard SeriesStore.metrics.contains(request.metric) else {
                throw BusError.badRequest("unknown metric '\(request.metric.prefix(40))'; one of: \(SeriesStore.metrics.joined(separator: ", "))")
            }
            let resolution: Int
            switch request.resolution {
            case .unspecified, .second: resolution = 1
            case .minute: resolution = 60
            case .UNRECOGNIZED(let n): throw BusError.badRequest("unknown resolution \(n)")
            }
            var reply = Agor_Diagnostics_V1_SeriesReply()
            reply.points = try await store.points(service: request.service, metric: request.metric, resolution: resolution, sinceUs: request.sinceUs)
            return reply
        }
    }

    private func known(_ service: String) throws -> HealthBook.Record {
        guard !service.isEmpty else { throw BusError.badRequest("name a service") }
        guard let record = book.record(service) else {
            throw BusError.notFound("no service '\(service.prefix(64))' in the config; known: \(book.serviceNames.joined(separator: ", "))")
        }
        return record
    }
}
