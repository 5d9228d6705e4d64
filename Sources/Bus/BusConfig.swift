import ConfigText
import Foundation

/// config.toml: where each service listens and the Bus's limits.
public struct BusConfig: Sendable, Equatable {
    public struct ServiceEndpoints: Sendable, Equatable {
        public var name: String
        /// ROUTER for requests.
        public var rpc: String
        /// PUB for events.
        public var pub: String
        /// An HTTP listener of the service's own (Diagnostics' Prometheus exposition), "host:port".
        public var http: HTTPAddress?

        public init(name: String, rpc: String, pub: String, http: HTTPAddress? = nil) {
            self.name = name
            self.rpc = rpc
            self.pub = pub
            self.http = http
        }
    }

    public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        /// "127.0.0.1:9768" or "[::1]:9768".
        public init?(_ text: String) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, !host.contains(" ") else { return nil }
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var services: [ServiceEndpoints] = []
    public var maxMessageSize: Int64 = BusProtocol.defaultMaxMessageSize
    /// fsync every commit (PRAGMA synchronous=FULL); off by default (a power cut may lose the last
    /// commits, a process kill loses nothing).
    public var fsyncEveryCommit = false
    /// Request dedup window in seconds.
    public var dedupWindowSeconds: Int64 = 86_400
    /// Each service reports its health (heartbeats, latency histograms, socket counters and link
    /// history) for the Diagnostics collector. Off: no heartbeats, no latency recording, no monitors.
    public var instrumentation = true
    /// How often a service sends its heartbeat; the collector marks it down after three missed.
    public var heartbeatMilliseconds: Int64 = 1000
    /// A service's log is rotated past this size (3 old files are kept).
    public var logMaxBytes: Int64 = 10 << 20
    /// Requests a second each person or agent may send to one service, in bursts of a tenth of a
    /// second's worth; past it a request is refused (unavailable, counted as throttled). 0 = no
    /// limit. Services are not limited (see RequestThrottle).
    public var requestsPerPrincipal: Int64 = 2000

    public init() {}

    public func service(_ name: String) -> ServiceEndpoints? { services.first { $0.name == name } }

    public static func load(from file: URL) throws -> BusConfig {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw HomeError.config(file: file.path, reason: "cannot read the file (run `agor init`?)")
        }
        do {
            var config = try parse(String(decoding: data, as: UTF8.self))
            // A client in the runner's strict tier has no network: it reaches the services
            // through their ipc endpoints in the home's run/ folder.
            if ProcessInfo.processInfo.environment["AGOR_TRANSPORT"] == "ipc" {
                let run = file.deletingLastPathComponent().appendingPathComponent("run").path
                for index in config.services.indices {
                    if let local = IPCEndpoints(runFolder: run, service: config.services[index].name) {
                        config.services[index].rpc = local.rpc
                        config.services[index].pub = local.pub
                    }
                }
            }
            return config
        } catch let error as TOMLError {
            throw HomeError.config(file: file.path, reason: error.description)
        } catch let error as HomeError {
            throw HomeError.config(file: file.path, reason: error.detail)
        }
    }

    public static func parse(_ text: String) throws -> BusConfig {
        let table = try TOML.parse(text)
        var config = BusConfig()
        if let bus = table["bus"]?.table {
            if let v = bus["max_message_size"] {
                guard let n = v.integer, n > 0 else { throw HomeError.config(file: "", reason: "bus.max_message_size must be a positive integer") }
                config.maxMessageSize = n
            }
            if let v = bus["fsync_every_commit"] {
                guard let b = v.bool else { throw HomeError.config(file: "", reason: "bus.fsync_every_commit must be true or false") }
                config.fsyncEveryCommit = b
            }
            if let v = bus["dedup_window_seconds"] {
                guard let n = v.integer, n > 0 else { throw HomeError.config(file: "", reason: "bus.dedup_window_seconds must be a positive integer") }
                config.dedupWindowSeconds = n
            }
            if let v = bus["instrumentation"] {
                guard let b = v.bool else { throw HomeError.config(file: "", reason: "bus.instrumentation must be true or false") }
                config.instrumentation = b
            }
            if let v = bus["log_max_bytes"] {
                guard let n = v.integer, (4096...(1 << 34)).contains(n) else { throw HomeError.config(file: "", reason: "bus.log_max_bytes must be an integer from 4096 up") }
                config.logMaxBytes = n
            }
            if let v = bus["requests_per_principal_s"] {
                guard let n = v.integer, (0...10_000_000).contains(n) else { throw HomeError.config(file: "", reason: "bus.requests_per_principal_s must be an integer from 0 (no limit) up") }
                config.requestsPerPrincipal = n
            }
            if let v = bus["heartbeat_ms"] {
                guard let n = v.integer, (50...60_000).contains(n) else { throw HomeError.config(file: "", reason: "bus.heartbeat_ms must be an integer from 50 to 60000") }
                config.heartbeatMilliseconds = n
            }
        }
        if let services = table["services"]?.table {
            for name in services.keys {
                guard let entry = services[name]?.table else { throw HomeError.config(file: "", reason: "services.\(name) must be a table") }
                guard let rpc = entry["rpc"]?.string, rpc.hasPrefix("tcp://") || rpc.hasPrefix("ipc://") || rpc.hasPrefix("inproc://") else {
                    throw HomeError.config(file: "", reason: "services.\(name).rpc must be an endpoint like tcp://127.0.0.1:9760")
                }
                guard let pub = entry["pub"]?.string, pub.hasPrefix("tcp://") || pub.hasPrefix("ipc://") || pub.hasPrefix("inproc://") else {
                    throw HomeError.config(file: "", reason: "services.\(name).pub must be an endpoint like tcp://127.0.0.1:9761")
                }
                var http: HTTPAddress?
                if let value = entry["http"] {
                    guard let text = value.string, let address = HTTPAddress(text) else {
                        throw HomeError.config(file: "", reason: "services.\(name).http must be an address like 127.0.0.1:9768")
                    }
                    http = address
                }
                config.services.append(ServiceEndpoints(name: name, rpc: rpc, pub: pub, http: http))
            }
        }
        return config
    }

    public func render() -> String {
        var root = TOMLTable()
        var bus = TOMLTable()
        bus["max_message_size"] = .integer(maxMessageSize)
        bus["fsync_every_commit"] = .bool(fsyncEveryCommit)
        bus["dedup_window_seconds"] = .integer(dedupWindowSeconds)
        bus["instrumentation"] = .bool(instrumentation)
        bus["heartbeat_ms"] = .integer(heartbeatMilliseconds)
        if logMaxBytes != 10 << 20 { bus["log_max_bytes"] = .integer(logMaxBytes) }
        if requestsPerPrincipal != 2000 { bus["requests_per_principal_s"] = .integer(requestsPerPrincipal) }
        root["bus"] = .table(bus)
        var services = TOMLTable()
        for s in self.services {
            var t = TOMLTable()
            t["rpc"] = .string(s.rpc)
            t["pub"] = .string(s.pub)
            if let http = s.http { t["http"] = .string(http.description) }
            services[s.name] = .table(t)
        }
        root["services"] = .table(services)
        return """
            # agor configuration, written by `agor init`.
            # Endpoints may be any tcp address (services on other hosts); every tcp link uses CURVE.
            # fsync_every_commit = false: a killed process loses nothing acknowledged; a power cut may
            # lose the last commits. Set it to true to fsync every commit.

            """ + TOML.write(root)
    }
}
