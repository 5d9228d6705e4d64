/// Where a service of the home listens and the key that proves it is that service: its endpoints
/// from config.toml, its public key from its certificate in the directory. The one place every
/// client of a service learns both: the CLIs (`ServiceClient`), a service calling or following
/// another (`ServiceRuntime.client(of:)`, `subscriber(of:)`), and the Gateway's subscribers.
public struct ServiceAddress: Sendable {
    public let service: String
    public let endpoints: BusConfig.ServiceEndpoints
    public let serverKey: [UInt8]

    /// Throws `HomeError` when config.toml has no section for the service, `HomeError` when
    /// the directory has no service certificate of that name.
    public init(_ service: String, config: BusConfig, directory: Directory, configFile: String) throws {
        guard let endpoints = config.service(service) else {
            throw HomeError.config(file: configFile, reason: "no [services.\(service)] section")
        }
        guard let principal = directory.principal(named: service), principal.kind == .service else {
            throw HomeError(code: .notFound, detail: "no service certificate for \(service) in \(directory.folder.path)")
        }
        self.service = service
        self.endpoints = endpoints
        serverKey = principal.publicKey
    }
}
