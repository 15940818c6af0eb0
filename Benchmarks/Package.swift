// swift-tools-version:6.1
// Micro-benchmarks of the request hot path (instructions and allocations), outside the normal test run:
//   cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "SwitchboardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Switchboard", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchboardCore", package: "Switchboard"),
                .product(name: "SwitchboardRouting", package: "Switchboard"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The task-difficulty classifier scoring a 2 KB prompt (budget: 20 µs).
        .executableTarget(
            name: "Difficulty",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchboardRouting", package: "Switchboard"),
            ],
            path: "Benchmarks/Difficulty",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The prompt-injection detector scoring a 2 KB prompt (budget: 50 µs) and a 1 MB one (bounded reading).
        .executableTarget(
            name: "Injection",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchboardCore", package: "Switchboard"),
            ],
            path: "Benchmarks/Injection",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The privacy guardrail masking a 2 KB chat body (budget: 30 µs).
        .executableTarget(
            name: "Privacy",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchboardCore", package: "Switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/Privacy",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A Responses API request translated to chat completions and its non-streamed 1 KB answer translated back.
        .executableTarget(
            name: "Responses",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchboardCore", package: "Switchboard"),
                .product(name: "SwitchboardProviders", package: "Switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/Responses",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
