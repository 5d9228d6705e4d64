// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "agor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Bus", targets: ["Bus"]),
        .executable(name: "agor", targets: ["agor"]),
        .executable(name: "btmsg", targets: ["BtmsgCLI"]),
        .executable(name: "bttask", targets: ["BttaskCLI"]),
        .executable(name: "bus-bench", targets: ["BusBench"]),
        .executable(name: "btmsg-bench", targets: ["BtmsgBench"]),
        .executable(name: "bttask-bench", targets: ["BttaskBench"]),
        .executable(name: "gateway-bench", targets: ["GatewayBench"]),
        .executable(name: "revoke-bench", targets: ["RevokeBench"]),
        .executable(name: "agor-exec", targets: ["agor-exec"]),
        .executable(name: "runner-bench", targets: ["RunnerBench"]),
        .executable(name: "teams-bench", targets: ["TeamsBench"]),
        .executable(name: "agor-fuzz", targets: ["AgorFuzz"]),
        .executable(name: "agor-chaos", targets: ["Chaos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // libzmq from Debian's libzmq3-dev (runtime: libzmq5).
        .systemLibrary(
            name: "CLibZMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // eventfd and inotify, the Linux calls the Bus uses beside libzmq.
        .systemLibrary(name: "CLinux"),
        // libsodium from Debian's libsodium-dev (runtime: libsodium23).
        .systemLibrary(
            name: "CSodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // The TOML reader and writer and the quoted-string writer: plain text, below everything.
        .target(name: "ConfigText"),
        .target(
            name: "Bus",
            dependencies: [
                "ConfigText", "CLibZMQ", "CLinux", "CSodium",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The home's product files: settings and their schema, keybindings, projects, the vault
        // and sealing, Gateway tokens (the Bus itself needs none of them).
        .target(
            name: "HomeConfig",
            dependencies: ["Bus", "ConfigText", "CSodium", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Each service's wire API (generated proto, method descriptors, stream names, access rules):
        // what clients link instead of the server.
        .target(name: "BtmsgAPI", dependencies: ["Bus", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "BttaskAPI", dependencies: ["Bus", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(
            name: "btmsg",
            dependencies: [
                "Bus", "ConfigText", "HomeConfig", "BtmsgAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "bttask",
            dependencies: [
                "Bus", "BttaskAPI", "BtmsgAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The runner's and the collector's wire APIs (messages, typed methods, access rules, streams),
        // which clients (the Gateway, `agor mcp`, the CLI) link without the services.
        .target(name: "RunnerAPI", dependencies: ["Bus", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "DiagnosticsAPI", dependencies: ["Bus", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "AgentRunner", dependencies: [
            "Bus", "ConfigText", "HomeConfig", "BtmsgAPI", "RunnerAPI", .product(name: "SwiftProtobuf", package: "swift-protobuf"), .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The runner's exec helper, in C: it configures itself (process group, parent-death signal,
        // no_new_privs, rlimits, Landlock) and then execs the agent.
        .executableTarget(name: "agor-exec", path: "Sources/agor-exec"),
        .target(
            name: "Diagnostics",
            dependencies: [
                "Bus", "DiagnosticsAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "Bus", "ConfigText", "HomeConfig", "BtmsgAPI", "BttaskAPI", "DiagnosticsAPI", "RunnerAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            resources: [.copy("Dashboard")]
        ),
        .target(
            name: "AgorKit",
            dependencies: [
                "Bus", "ConfigText", "HomeConfig", "BtmsgAPI", "BttaskAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // `agor mcp`: the agents' own door, an MCP server over stdio acting as one agent.
        .target(
            name: "AgorMCP",
            dependencies: [
                "Bus", "BtmsgAPI", "BttaskAPI", "RunnerAPI", "AgentRunner",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "agor",
            dependencies: [
                "AgorKit", "AgorCLI", "AgorMCP", "Bus", "ConfigText", "HomeConfig", "btmsg", "bttask", "Diagnostics", "Gateway", "AgentRunner", "RunnerAPI", "DiagnosticsAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "AgorCLI",
            dependencies: [
                "Bus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "BtmsgCLI",
            dependencies: [
                "AgorCLI", "AgorKit", "Bus", "BtmsgAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Sources/btmsg-cli"
        ),
        .executableTarget(
            name: "BttaskCLI",
            dependencies: [
                "AgorCLI", "Bus", "BttaskAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Sources/bttask-cli"
        ),
        .executableTarget(
            name: "AgorFuzz",
            dependencies: ["Bus", "ConfigText", "BtmsgAPI", "BttaskAPI", "AgentRunner", "RunnerAPI", "AgorKit", "Diagnostics", "DiagnosticsAPI"],
            path: "Fuzz",
            exclude: ["corpus"]
        ),
        // The test-only echo service (Tests/EchoService), started by the process tests as `agor-echo`.
        .executableTarget(
            name: "agor-echo",
            dependencies: ["Bus", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            path: "Tests/EchoService"
        ),
        .executableTarget(
            name: "BusBench",
            dependencies: ["Bus"],
            path: "Benchmarks/BusBench"
        ),
        .executableTarget(
            name: "BtmsgBench",
            dependencies: ["AgorKit", "Bus", "BtmsgAPI"],
            path: "Benchmarks/BtmsgBench"
        ),
        .executableTarget(
            name: "BttaskBench",
            dependencies: ["AgorKit", "Bus", "BttaskAPI"],
            path: "Benchmarks/BttaskBench"
        ),
        .target(
            name: "LoadKit",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio")],
            path: "Benchmarks/LoadKit"
        ),
        .executableTarget(
            name: "GatewayBench",
            dependencies: ["AgorKit", "Bus", "BtmsgAPI", "LoadKit",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio")],
            path: "Benchmarks/GatewayBench"
        ),
        .executableTarget(
            name: "Chaos",
            dependencies: ["AgorKit", "Bus", "HomeConfig", "BtmsgAPI", "BttaskAPI", "AgentRunner", "RunnerAPI", "Diagnostics", "DiagnosticsAPI", "LoadKit",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Benchmarks/Chaos"
        ),
        .executableTarget(
            name: "RevokeBench",
            dependencies: ["AgorKit", "Bus", "BttaskAPI", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Benchmarks/RevokeBench"
        ),
        .executableTarget(
            name: "TeamsBench",
            dependencies: ["Bus", "BtmsgAPI", "AgentRunner", "RunnerAPI"],
            path: "Benchmarks/TeamsBench"
        ),
        .executableTarget(
            name: "RunnerBench",
            dependencies: ["AgorKit", "Bus", "AgentRunner", "RunnerAPI"],
            path: "Benchmarks/RunnerBench"
        ),
        // What every test target shares: `eventually`, `withBed` (Tests/Support).
        .target(name: "AgorTestSupport", path: "Tests/Support"),
        .testTarget(name: "BusTests", dependencies: ["Bus", "ConfigText", "AgorTestSupport"]),
        .testTarget(name: "HomeConfigTests", dependencies: ["Bus", "HomeConfig"]),
        .testTarget(name: "AgentRunnerTests", dependencies: ["AgorTestSupport", "AgentRunner", "RunnerAPI", "Bus", "ConfigText"]),
        .testTarget(name: "BtmsgTests", dependencies: ["AgorTestSupport", "Bus", "HomeConfig", "btmsg", "BtmsgAPI", "AgorKit", .product(name: "GRDB", package: "GRDB.swift"),
                                                   .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "BttaskTests", dependencies: ["AgorTestSupport", "Bus", "btmsg", "BtmsgAPI", "bttask", "BttaskAPI", "AgorKit", .product(name: "GRDB", package: "GRDB.swift"),
                                                    .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "DiagnosticsTests", dependencies: ["AgorTestSupport", "Bus", "Diagnostics", "DiagnosticsAPI", "AgorKit", .product(name: "GRDB", package: "GRDB.swift"),
                                                        .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "GatewayTests", dependencies: ["AgorTestSupport", "AgorKit", "Bus", "HomeConfig", "Gateway", "BtmsgAPI", "BttaskAPI", .product(name: "Hummingbird", package: "hummingbird"),
                                                     .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                     .product(name: "NIOEmbedded", package: "swift-nio"),
                                                     .product(name: "NIOWebSocket", package: "swift-nio")]),
        .testTarget(name: "IntegrationTests", dependencies: ["AgorTestSupport", "Bus", "HomeConfig", "AgorKit", "btmsg", "BtmsgAPI", "bttask", "BttaskAPI", "AgentRunner", "RunnerAPI", "Diagnostics", "DiagnosticsAPI",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
