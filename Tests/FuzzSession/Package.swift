// swift-tools-version:6.0
// The session fuzzer lives in its own package so `make test` never builds it with
// libFuzzer. `make fuzz-session` builds it with -sanitize=fuzzer,address and runs it.
import PackageDescription

let package = Package(
    name: "smpp-bridge-fuzz-session",
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "FuzzSession",
            dependencies: [.product(name: "SMPPSession", package: "main"), .product(name: "SMPPWire", package: "main")],
            path: "Sources/FuzzSession",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ],
    swiftLanguageModes: [.v6]
)
