import Bus
import Foundation
import HomeConfig

/// What `agor init`, `agor group add`, `agor agent add` and `agor revoke` write into the home.
public struct HomeSetup {
    public let home: Home

    public init(home: Home) { self.home = home }

    public struct InitReport: Sendable {
        public var created: [String] = []
        public var kept: [String] = []
    }

    /// Creates whatever is missing: folders, config.toml, a key pair and certificate per service,
    /// the first operator and the `default` group. Never changes what exists.
    /// `hostPerService`: each service's endpoints on a host named like the service (containers on
    /// one network, `tcp://btmsg:9762`), HTTP listeners on every interface of their container.
    public func initialize(portBase: Int = 9760, host: String = "127.0.0.1", hostPerService: Bool = false) throws -> InitReport {
        var report = InitReport()
        let fm = FileManager.default
        for folder in [home.root, home.keysFolder, home.directoryFolder, home.directoryFolder.appendingPathComponent("spawned"),
                       home.dataFolder, home.logsFolder, home.runFolder] {
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        chmod(home.keysFolder.path, 0o700)
        if fm.fileExists(atPath: home.configFile.path) {
            report.kept.append(home.configFile.path)
            try addMissingServices(portBase: portBase, host: host, report: &report)
        } else {
            var config = BusConfig()
            var port = portBase
            for name in ServiceCatalog.names {
                let serviceHost = hostPerService ? name : host
                var endpoints = BusConfig.ServiceEndpoints(name: name, rpc: "tcp://\(serviceHost):\(port)", pub: "tcp://\(serviceHost):\(port + 1)")
                port += 2
                // HTTP stays on loopback unless the operator changes it (or each service has a container).
                let httpHost = hostPerService ? "0.0.0.0" : "127.0.0.1"
                if let wellKnown = ServiceCatalog.defaultHTTPPorts[name], portBase == 9760 {
                    endpoints.http = BusConfig.HTTPAddress(host: httpHost, port: wellKnown)
                } else if ServiceCatalog.withHTTP.contains(name) {
                    endpoints.http = BusConfig.HTTPAddress(host: httpHost, port: port)
                    port += 1
                }
                config.services.append(endpoints)
            }
            try AtomicFile.write(config.render(), to: home.configFile, mode: 0o644)
            report.created.append(home.configFile.path)
        }
        let directory = Directory(folder: home.directoryFolder)
        if directory.groups.contains("default") {
            report.kept.append("group default")
        } else {
            try directory.addGroup("default")
            report.created.append("group default")
        }
        for name in ServiceCatalog.names {
            try ensurePrincipal(name: name, kind: .service, groups: [], role: .operator_, rights: [.delegate],
                                directory: directory, report: &report)
        }
        try ensurePrincipal(name: "operator", kind: .person, groups: ["default"], role: .operator_, rights: [.delegate],
                            directory: directory, report: &report)
        return report
    }

    /// Adds a service that is not in this build's catalogue to an initialized home: endpoints after
    /// the highest port in config.toml and a service identity (key pair and certificate). For a
    /// service of your own that speaks the Bus, and for the tests' `echo` (Tests/EchoService).
    /// `agor up` does not start it: it runs only the catalogue's services.
    public func addService(_ name: String, host: String = "127.0.0.1") throws {
        try requireValidName(name)
        var report = InitReport()
        try addMissingServices([name], portBase: 1024, host: host, report: &report)
        try ensurePrincipal(name: name, kind: .service, groups: [], role: .operator_, rights: [.delegate],
                            directory: Directory(folder: home.directoryFolder), report: &report)
    }

    /// A home made by an older build lacks the newer services' endpoints: append them (after the
    /// highest port in use), keeping the rest of the file as the operator wrote it.
    private func addMissingServices(_ names: [String] = ServiceCatalog.names, portBase: Int, host: String, report: inout InitReport) throws {
        let config = try BusConfig.load(from: home.configFile)
        let missing = names.filter { config.service($0) == nil }
        guard !missing.isEmpty else { return }
        let ports = config.services.flatMap { [$0.rpc, $0.pub] }.compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            + config.services.compactMap { $0.http?.port }
        var port = max(portBase, (ports.max() ?? portBase - 1) + 1)
        var text = (try? String(contentsOf: home.configFile, encoding: .utf8)) ?? ""
        for name in missing {
            text += "\n[services.\(name)]\nrpc = \"tcp://\(host):\(port)\"\npub = \"tcp://\(host):\(port + 1)\"\n"
            port += 2
            if let wellKnown = ServiceCatalog.defaultHTTPPorts[name], portBase == 9760, !ports.contains(wellKnown) {
                text += "http = \"127.0.0.1:\(wellKnown)\"\n"
            } else if ServiceCatalog.withHTTP.contains(name) {
                text += "http = \"127.0.0.1:\(port)\"\n"
                port += 1
            }
            report.created.append("endpoints for \(name) in \(home.configFile.lastPathComponent)")
        }
        try AtomicFile.write(text, to: home.configFile, mode: 0o644)
    }

    private func ensurePrincipal(name: String, kind: PrincipalKind, groups: [String], role: Role, rights: [Right],
                                 directory: Directory, report: inout InitReport) throws {
        let keyFile = home.secretKeyFile(name)
        let keys: CurveKeyPair
        if FileManager.default.fileExists(atPath: keyFile.path) {
            keys = try CurveKeyPair.read(from: keyFile)
            report.kept.append(keyFile.path)
        } else {
            keys = CurveKeyPair.generate()
            try keys.write(name: name, to: home.keysFolder)
            report.created.append(keyFile.path)
        }
        if directory.principal(named: name) != nil {
            report.kept.append("directory/\(name).cert")
        } else {
            try directory.write(Principal(name: name, kind: kind, publicKey: keys.publicKey, groups: groups, role: role, rights: rights))
            report.created.append("directory/\(name).cert")
        }
    }

    /// The one refusal of a principal's name that `Principal.isValidName` does not allow.
    private func requireValidName(_ name: String) throws {
        guard Principal.isValidName(name) else {
            throw HomeError(code: .badName, detail: "names use letters, digits, '-', '_' and '.' (at most 64): \(name)")
        }
    }

    public func addGroup(_ name: String) throws -> Bool {
        let directory = Directory(folder: home.directoryFolder)
        if directory.groups.contains(name) { return false }
        try directory.addGroup(name)
        return true
    }

    /// Writes an agent's key pair and certificate. Returns its secret key file.
    public func addAgent(name: String, group: String, role: Role) throws -> URL {
        let directory = Directory(folder: home.directoryFolder)
        try requireValidName(name)
        guard directory.groups.contains(group) else {
            throw HomeError(code: .badGroup, detail: "no group \(group); create it with `agor group add \(group)`")
        }
        guard directory.principal(named: name) == nil else {
            throw HomeError(code: .exists, detail: "a principal named \(name) exists already")
        }
        let keys = CurveKeyPair.generate()
        try keys.write(name: name, to: home.keysFolder)
        try directory.write(Principal(name: name, kind: .agent, publicKey: keys.publicKey, groups: [group], role: role))
        return home.secretKeyFile(name)
    }

    public struct NewUser: Sendable {
        public var token: String
        /// The secret key file when one was asked for (`--key`).
        public var keyFile: URL?
        public var groupCreated: Bool
    }

    /// Adds a person who signs in to the Gateway with a bearer token (returned once; only its hash
    /// is stored). The group is created when it does not exist yet. With `writeKey`, the person's
    /// key pair is kept for their own CLI use; otherwise the secret key is thrown away.
    public func addUser(name: String, group: String, role: Role, writeKey: Bool) throws -> NewUser {
        let directory = Directory(folder: home.directoryFolder)
        try requireValidName(name)
        guard Principal.isValidName(group) else {
            throw HomeError(code: .badGroup, detail: "group names use letters, digits, '-', '_' and '.' (at most 64): \(group)")
        }
        guard directory.principal(named: name) == nil else {
            throw HomeError(code: .exists, detail: "a principal named \(name) exists already")
        }
        let created = try addGroup(group)
        let keys = CurveKeyPair.generate()
        if writeKey { try keys.write(name: name, to: home.keysFolder) }
        let (token, hash) = GatewayToken.generate()
        try directory.write(Principal(name: name, kind: .person, publicKey: keys.publicKey, groups: [group], role: role,
                                      tokenHash: hash))
        return NewUser(token: token, keyFile: writeKey ? home.secretKeyFile(name) : nil, groupCreated: created)
    }

    /// A new bearer token for a person (returned once; only its hash is stored). The old token stops
    /// working, and so do the sign-ins made with it (their sessions carry its hash).
    public func newToken(for name: String) throws -> String {
        let directory = Directory(folder: home.directoryFolder)
        guard var person = directory.principal(named: name) else {
            throw HomeError(code: .notFound, detail: "no principal named \(name)")
        }
        guard person.kind == .person else {
            throw HomeError(code: .badName, detail: "\(name) is \(person.kind == .agent ? "an agent" : "a service"): only people sign in with tokens")
        }
        let (token, hash) = GatewayToken.generate()
        person.tokenHash = hash
        try directory.write(person)
        return token
    }

    public func revoke(name: String, reason: String) throws {
        let directory = Directory(folder: home.directoryFolder)
        try directory.revoke(name, reason: reason)
    }
}
