/// The services this build of agor can run, in start order. `agor init` writes an endpoint pair
/// for each; `agor up` starts each as `agor serve NAME`, which the `agor` executable runs
/// (Sources/agor/ServiceLauncher.swift: only the executable links the services themselves).
public enum ServiceCatalog {
    public static let names = ["echo", "btmsg", "bttask", "diagnostics", "gateway", "runner"]
    /// Services that also listen on HTTP (an extra port after their rpc and pub).
    public static let withHTTP: Set<String> = ["diagnostics", "gateway"]
    /// HTTP ports a default home (port base 9760) gives: the Gateway at the address people type.
    public static let defaultHTTPPorts = ["gateway": 9750]
}
