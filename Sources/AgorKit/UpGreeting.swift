import Bus
import Foundation

/// What `agor up` prints once every service answers, for whoever started it: where the dashboard
/// is and how to sign in to it, and the first commands an agent uses (as Jupyter prints its URL).
public enum UpGreeting {
    public static func lines(home: Home, config: BusConfig) -> [String] {
        // `--home` is spelled out only when the commands would not find this home by themselves.
        let isDefault = Home.resolve(nil, environment: ["HOME": ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()]) == home
        let homeOption = isDefault ? "" : " --home \(home.root.path)"
        let homeVariable = isDefault ? "" : "AGOR_HOME=\(home.root.path) "
        var rows: [[String]] = []
        if let http = config.service("gateway")?.http {
            // A listener on every interface is reached locally at the loopback address.
            let host = ["0.0.0.0", "::", "[::]", "*"].contains(http.host) ? "127.0.0.1" : http.host
            rows.append(["dashboard", "http://\(host):\(http.port)/"])
            rows.append(["", "sign in as operator with the token this prints: agor user token operator\(homeOption)"])
        }
        let key = home.keysFolder.appendingPathComponent("NAME.key").path
        rows.append(["agents", "agor agent add NAME --group GROUP\(homeOption)   (prints the agent's AGOR_KEY line), then as the agent:"])
        rows.append(["", "\(homeVariable)AGOR_KEY=\(key) btmsg inbox"])
        rows.append(["", "\(homeVariable)AGOR_KEY=\(key) bttask ready"])
        return [""] + alignedRows(rows)
    }
}
