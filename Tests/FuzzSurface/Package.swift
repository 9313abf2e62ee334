// swift-tools-version:6.0
// libFuzzer over what a local user or an operator's environment hands the bridge:
// the HTTP request head and the /events query (input's first byte 0..127), and the
// configuration's environment overrides (128..255). Built by `make fuzz-session`
// with -sanitize=fuzzer,address (Tests/FuzzSession/run.sh); never part of the product.
import PackageDescription

let package = Package(
    name: "FuzzSurface",
    platforms: [.macOS(.v15)],
    // run.sh links fuzz-out/surface/smpp-bridge to the repository, so the package has the same identity wherever it is cloned.
    dependencies: [.package(path: "../../fuzz-out/surface/smpp-bridge")],
    targets: [
        .executableTarget(
            name: "FuzzSurface",
            dependencies: [.product(name: "BridgeRuntime", package: "smpp-bridge")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v6]
)
