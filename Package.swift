// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
        .library(name: "SwitchboardCore", targets: ["SwitchboardCore"]),
        .library(name: "SwitchboardRouting", targets: ["SwitchboardRouting"]),
        .library(name: "SwitchboardProviders", targets: ["SwitchboardProviders"]),
        .library(name: "SwitchboardServer", targets: ["SwitchboardServer"]),
        .library(name: "SwitchboardTesting", targets: ["SwitchboardTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        // Domain types: config model and validation, errors, usage and prices, JSON peeking, SSE parsing. No HTTP.
        .target(name: "SwitchboardCore", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Balancers, health, caps, route plans (retries, fallbacks, hedging), admission (rate limits, budgets):
        // pure algorithms, no I/O.
        .target(name: "SwitchboardRouting", dependencies: ["SwitchboardCore"]),
        // The routing simulator: the real routing code against simulated providers on a virtual clock.
        .target(name: "SwitchboardSimulator", dependencies: ["SwitchboardCore", "SwitchboardRouting"]),
        // Provider adapters over an upstream transport; the simulated (mock) provider.
        .target(name: "SwitchboardProviders", dependencies: [
            "SwitchboardCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
        ]),
        // Storage protocol and its SQLite, PostgreSQL and memory implementations.
        .target(name: "SwitchboardStore", dependencies: [
            "SwitchboardCore", "SwitchboardRouting",
            .product(name: "SQLiteNIO", package: "sqlite-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The Hummingbird application: routes, middleware, request pipeline, services.
        .target(name: "SwitchboardServer", dependencies: [
            "SwitchboardCore", "SwitchboardRouting", "SwitchboardProviders", "SwitchboardStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOExtras", package: "swift-nio-extras"),
            .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
        ]),
        // The benchmark's floor: the least a SwiftNIO reverse proxy does (scripts/bench.sh).
        .executableTarget(name: "floor-proxy", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "switchboard", dependencies: [
            "SwitchboardServer", "SwitchboardSimulator", "SwitchboardStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test support: scripted fake upstreams, fixtures.
        .target(name: "SwitchboardTesting", dependencies: [
            "SwitchboardCore", "SwitchboardServer",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "SwitchboardTests", dependencies: [
            "SwitchboardCore", "SwitchboardRouting", "SwitchboardProviders", "SwitchboardStore",
            "SwitchboardServer", "SwitchboardTesting", "SwitchboardSimulator",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
