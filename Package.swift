// swift-tools-version:6.0
// The TrueOTP SMPP carrier gateway bridge.
//
// Layers, arrows pointing one way (docs/architecture.md draws the graph):
//   SMPPWire ← SMPPSession ←────────────── BridgeRuntime ← BridgeApp ← smpp-bridge
//   SMPPWire ← Routing ← Store ←────────── BridgeRuntime
//   SMPPSession ← SMPPSimulator ←───────── BridgeDevTools ← smpp-dev   (never in smpp-bridge)
// Routing and Store never import SMPPSession; only BridgeRuntime joins the two sides.
// Primitives (a mutex box, the clock, JSON escaping) sits under every layer.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "smpp-bridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "smpp-bridge", targets: ["smpp-bridge"]),
        .executable(name: "smpp-dev", targets: ["smpp-dev"]),
        .library(name: "SMPPWire", targets: ["SMPPWire"]),
        .library(name: "Routing", targets: ["Routing"]),
        .library(name: "SMPPSession", targets: ["SMPPSession"]),
        .library(name: "Store", targets: ["Store"]),
        // For the surface fuzzer (Tests/FuzzSurface), which imports it @testable from a debug build.
        .library(name: "BridgeRuntime", targets: ["BridgeRuntime"]),
    ],
    // Exact versions: a build (the image, the .deb, CI) gets the code that was tested, not
    // the newest release in range. Package.resolved cannot be the pin: the build machines
    // resolve through a mirror whose commit ids are not upstream's (docs/decisions/005-exact-dependency-pins.md).
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        // What every layer shares: a pthread mutex box (`Locked`), the clock, JSON string escaping.
        .target(name: "Primitives", swiftSettings: strict),
        // Wire codec: framing, PDUs, TLVs, text. No I/O, no Foundation.
        .target(name: "SMPPWire", dependencies: ["Primitives"], swiftSettings: strict),
        // OpenSSL (libssl) for TLS to carriers: a systemLibrary with the thinnest shim.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Sessions: non-blocking sockets on Dispatch sources, TLS, the ESME state machine.
        .target(name: "SMPPSession", dependencies: ["SMPPWire", "Primitives", "COpenSSL"], swiftSettings: strict),
        // The SMSC simulator: for the demo, the tests and the benchmarks. Its release build
        // skips the runtime exclusivity checks (debug builds and the tests keep them): every
        // access to its state is on its one serial queue, and in `make bench` the checks
        // (swift_beginAccess and its thread-local access set) were ~15% of the simulator's
        // CPU (perf), taken from the bridge's and PostgreSQL's two cores.
        .target(
            name: "SMPPSimulator", dependencies: ["SMPPWire", "SMPPSession", "Primitives"],
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // libcrypto's SHA-256 for dedup keys: a systemLibrary, one shim for the deprecated-but-cheapest calls.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libpq for PostgreSQL (no NIO): a systemLibrary, no shims needed.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // The store: libpq wrapper, migrations, writer, lease sync.
        .target(
            name: "Store",
            dependencies: ["CLibPQ", "Routing", "SMPPWire", "Primitives", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strict),
        // Routing core: number normalization, the lock-free lease table, reassembly,
        // OTP extraction and the routing decision. No I/O.
        .target(
            name: "Routing",
            dependencies: ["SMPPWire", "Primitives", "CCrypto", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: strict
        ),
        // The running service: configuration, the message pipeline, multi-part coordination,
        // metrics, the bounded HTTP server, admin actions, logs. May use Foundation.
        .target(
            name: "BridgeRuntime",
            dependencies: [
                "SMPPWire", "Primitives", "Routing", "SMPPSession", "Store",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict,
            plugins: ["BuildStamp"]
        ),
        // The operator commands of `smpp-bridge` (run, check-config, ctl, top, tail, …).
        .target(
            name: "BridgeApp",
            dependencies: [
                "BridgeRuntime", "SMPPWire", "Primitives", "Routing", "SMPPSession", "Store",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // `smpp-dev`: the simulator, the demo and the audit, apart from the production binary.
        .target(
            name: "BridgeDevTools",
            dependencies: [
                "BridgeApp", "BridgeRuntime", "SMPPWire", "Routing", "SMPPSession", "SMPPSimulator", "Store",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The version and commit a binary reports (`--version`, smpp_bridge_build_info).
        .plugin(name: "BuildStamp", capability: .buildTool()),
        .executableTarget(name: "smpp-bridge", dependencies: ["BridgeApp"], swiftSettings: strict),
        .executableTarget(name: "smpp-dev", dependencies: ["BridgeDevTools"], swiftSettings: strict),
        // What the test targets share: the throwaway PostgreSQL, polling, simulator builders.
        .target(name: "TestSupport", dependencies: ["BridgeRuntime", "BridgeDevTools", "Store", "SMPPSimulator"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SMPPWireTests", dependencies: ["SMPPWire"], swiftSettings: strict),
        .testTarget(
            name: "RoutingTests",
            dependencies: ["Routing", "SMPPWire", "Primitives", .product(name: "Atomics", package: "swift-atomics")],
            exclude: ["otp-corpus.jsonl"],
            swiftSettings: strict),
        .testTarget(
            name: "SMPPSessionTests", dependencies: ["SMPPSession", "SMPPSimulator", "SMPPWire", "TestSupport"],
            exclude: ["make-certs.py"], swiftSettings: strict),
        .testTarget(
            name: "StoreTests", dependencies: ["Store", "Routing", "SMPPWire", "Primitives", "BridgeRuntime", "BridgeDevTools", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "BridgeAppTests", dependencies: ["BridgeApp", "BridgeRuntime", "BridgeDevTools", "SMPPWire", "Routing", "TestSupport"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
