import AgorKit
import Bus
import Foundation
import Testing

/// compose/ cannot run here (no Docker, no systemd): this checks what can be checked. The YAML
/// parses; every command, binary, key file and mount it names exists for a home made with
/// `agor init --host-per-service`; the Dockerfile is multi-stage with the runtime libraries; the
/// systemd units start real `agor serve` commands.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DeploymentFilesTests {
    let compose = AgorHome.packageRoot.appendingPathComponent("compose")

    @Test func composeNamesOnlyWhatExists() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", AgorHome.packageRoot.appendingPathComponent("Tests/Interop/compose_json.py").path,
                             compose.appendingPathComponent("docker-compose.yml").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readAll()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let services = try #require(document["services"] as? [String: [String: Any]])
        #expect(Set(services.keys) == Set(ServiceCatalog.names))

        // A home as DEPLOY.md makes it, in a folder laid out like compose/ (home/ beside the file).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let home = folder.appendingPathComponent("home")
        #expect(try AgorHome.run(["init", "--home", home.path, "--host-per-service"]).status == 0)
        for name in ["settings.toml", "projects.toml"] { _ = FileManager.default.createFile(atPath: home.appendingPathComponent(name).path, contents: Data()) }
        let config = try BusConfig.load(from: home.appendingPathComponent("config.toml"))
        #expect(config.service("btmsg")?.rpc.hasPrefix("tcp://btmsg:") == true)
        #expect(config.service("gateway")?.http?.host == "0.0.0.0")

        for (name, service) in services {
            let command = try #require(service["command"] as? [String])
            #expect(command.prefix(2) == ["serve", name] && command.contains("/agor"), "\(name)")
            let health = try #require((service["healthcheck"] as? [String: Any])?["test"] as? [String])
            #expect(health.contains("status") && health.contains(name) && health[1] == "/usr/local/bin/agor", "\(name)")
            for mount in service["volumes"] as? [String] ?? [] where mount.hasPrefix("./") {
                let source = String(mount.split(separator: ":")[0].dropFirst(2))
                #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(source).path), "\(name): \(source)")
            }
            let secretNames = (service["secrets"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
            // Each service gets its own key as a secret; the runner, which starts agents as
            // themselves, mounts the whole keys/ folder read-only instead (its own key included).
            let mountsKeys = (service["volumes"] as? [String] ?? []).contains("./home/keys:/agor/keys:ro")
            #expect(secretNames.contains("\(name)_key") || (name == "runner" && mountsKeys), "\(name)")
            // The command and its health check are real agor commands (here: the service is not running).
            #expect(try AgorHome.run(["serve", name, "--help"]).status == 0)
            #expect(try AgorHome.run(["status", "--home", home.path, "--service", name]).status == 1)
        }
        let secrets = try #require(document["secrets"] as? [String: [String: Any]])
        for (_, secret) in secrets {
            let file = try #require(secret["file"] as? String)
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(String(file.dropFirst(2))).path), "\(file)")
        }
        #expect(try AgorHome.run(["status", "--home", home.path, "--service", "nosuch"]).status == 2)
    }

    @Test func theDockerfileAndTheUnitsStartRealCommands() throws {
        let dockerfile = try String(contentsOf: compose.appendingPathComponent("Dockerfile"), encoding: .utf8)
        #expect(dockerfile.components(separatedBy: "\nFROM ").count + (dockerfile.hasPrefix("FROM ") ? 1 : 0) >= 2)
        for library in ["libzmq5", "libsodium23", "libsqlite3-0"] { #expect(dockerfile.contains(library)) }
        for line in dockerfile.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from") {
            let source = String(line.split(separator: " ")[1])
            #expect(FileManager.default.fileExists(atPath: AgorHome.packageRoot.appendingPathComponent(source).path), "\(source)")
        }
        let package = try String(contentsOf: AgorHome.packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(dockerfile.contains("--product agor") && package.contains(#".executable(name: "agor""#))

        let units = try FileManager.default.contentsOfDirectory(atPath: compose.appendingPathComponent("systemd").path).filter { $0.hasSuffix(".service") }
        #expect(Set(units) == Set(ServiceCatalog.names.map { "agor-\($0).service" }))
        let target = try String(contentsOf: compose.appendingPathComponent("systemd/agor.target"), encoding: .utf8)
        for unit in units {
            let text = try String(contentsOf: compose.appendingPathComponent("systemd/\(unit)"), encoding: .utf8)
            let exec = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
            let words = exec.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
            #expect(words.first == "/usr/local/bin/agor" && words[1] == "serve")
            #expect(try AgorHome.run(Array(words.dropFirst()) + ["--help"]).status == 0, "\(unit)")
            #expect(ServiceCatalog.names.contains(words[2]) && target.contains(unit))
        }
    }
}
