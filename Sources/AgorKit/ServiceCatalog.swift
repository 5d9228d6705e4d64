import Bus

/// The services this build of agor can run, in start order. `agor init` writes an endpoint pair
/// for each; `agor up` starts each as `agor serve NAME`, which the `agor` executable runs
/// (Sources/agor/ServiceLauncher.swift: only the executable links the services themselves).
public enum ServiceCatalog {
    public static let names = ["btmsg", "bttask", "diagnostics", "gateway", "runner"]
    /// Services that also listen on HTTP (an extra port after their rpc and pub).
    public static let withHTTP: Set<String> = ["diagnostics", "gateway"]
    /// HTTP ports a default home (port base 9760) gives: the Gateway at the address people type.
    public static let defaultHTTPPorts = ["gateway": 9750]

    /// The services of a home that `agor up` runs and `agor status` reports: config.toml's entries
    /// that this build knows. Others (a service of one's own added with `HomeSetup.addService`, the
    /// tests' echo, the echo an older `agor init` wrote) run on their own.
    public static func supervised(in config: BusConfig) -> [BusConfig.ServiceEndpoints] {
        config.services.filter { names.contains($0.name) }
    }
}
