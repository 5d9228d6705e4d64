import Foundation

/// Opens request/reply and event connections to a service named in the home's config, as the
/// principal whose secret key file is given (a CLI's `--key` / `AGOR_KEY`, else the operator's).
public struct ServiceClient: Sendable {
    public let home: Home
    public let config: BusConfig
    public let context: Context
    public let key: CurveKeyPair
    public let directory: Directory

    public init(home: Home, keyFile: URL, context: Context = Context()) throws {
        self.home = home
        config = try BusConfig.load(from: home.configFile)
        key = try CurveKeyPair.read(from: keyFile)
        guard !key.secretKey.isEmpty else {
            throw HomeError(code: .badFile, detail: "\(keyFile.path) holds no secret key")
        }
        directory = Directory(folder: home.directoryFolder)
        self.context = context
    }

    public func address(of service: String) throws -> ServiceAddress {
        try ServiceAddress(service, config: config, directory: directory, configFile: home.configFile.path)
    }

    public func serverKey(of service: String) throws -> [UInt8] { try address(of: service).serverKey }

    public func endpoints(of service: String) throws -> BusConfig.ServiceEndpoints { try address(of: service).endpoints }

    public func rpc(_ service: String) throws -> RPCClient {
        let address = try address(of: service)
        return try RPCClient(context: context, endpoint: address.endpoints.rpc, serverKey: address.serverKey,
                             clientKey: key, maxMessageSize: config.maxMessageSize)
    }

    /// `endsWhenRefused`: the events end when the service refuses this key (see `SequencedSubscriber`).
    /// A `replay` client passed in stays the caller's (closing the subscriber leaves it open).
    public func subscriber(_ service: String, prefixes: [String], start: SequencedSubscriber.Start = .beginning,
                           replay: RPCClient? = nil, endsWhenRefused: Bool = false) throws -> SequencedSubscriber {
        let address = try address(of: service)
        return try SequencedSubscriber(context: context, endpoint: address.endpoints.pub,
                                       serverKey: address.serverKey, clientKey: key, replay: try replay ?? rpc(service),
                                       ownsReplay: replay == nil, prefixes: prefixes, start: start, endsWhenRefused: endsWhenRefused)
    }

    /// `bus.ping`: nil when the service does not answer within `timeout`.
    public func ping(_ service: String, timeout: Duration = .seconds(2)) async -> Agor_Bus_V1_PingReply? {
        guard let client = try? rpc(service) else { return nil }
        defer { Task { await client.close() } }
        return try? await client.call(BusMethods.ping, .init(), options: .init(timeout: timeout))
    }
}
