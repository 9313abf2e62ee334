// swift-tools-version:6.1
// Benchmarks live in their own package so `make test` (and CI) never builds
// ordo-one/benchmark. Run them with `make bench-codec` from the repository root.
import PackageDescription

let package = Package(
    name: "smpp-bridge-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        // Weighed against the bridge's own registry (make bench-metrics; docs/decisions/006-metrics-registry.md).
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
    ],
    targets: [
        .target(name: "BenchSamples", dependencies: [.product(name: "SMPPWire", package: "main")], path: "Sources/BenchSamples"),
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: ["BenchSamples", .product(name: "SMPPWire", package: "main"), .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/CodecBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A plain timed loop over the same bytes as the C baseline, so the two are compared in one run.
        .executableTarget(
            name: "CodecSpeed", dependencies: ["BenchSamples", .product(name: "SMPPWire", package: "main")],
            path: "Sources/CodecSpeed"),
        // Lookups and full routing decisions with threads and a churning writer, vs a Mutex<Dictionary>.
        .executableTarget(
            name: "RoutingSpeed",
            dependencies: ["BenchSamples", .product(name: "SMPPWire", package: "main"), .product(name: "Routing", package: "main")],
            path: "Sources/RoutingSpeed"),
        // The bridge's metrics registry vs swift-prometheus (and through swift-metrics). Needs the
        // main package built with -enable-testing (its registry is internal): make bench-metrics does it.
        .executableTarget(
            name: "MetricsSpeed",
            dependencies: [.product(name: "BridgeRuntime", package: "main"), .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "CoreMetrics", package: "swift-metrics")],
            path: "Sources/MetricsSpeed"),
        // The store's writer against a real PostgreSQL (fsync on): messages/s and submit-to-ack latency.
        .executableTarget(
            name: "StoreSpeed",
            dependencies: [.product(name: "SMPPWire", package: "main"), .product(name: "Routing", package: "main"),
                           .product(name: "Store", package: "main")],
            path: "Sources/StoreSpeed"),
    ],
    swiftLanguageModes: [.v6]
)
