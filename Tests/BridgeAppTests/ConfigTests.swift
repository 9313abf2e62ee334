import Foundation
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

final class ConfigTests: XCTestCase {
    let minimal = """
        [[carrier]]
        name = "agg-a"
        host = "127.0.0.1"
        port = 2775
        system_id = "trueotp"
        password_env = "AGG_A_PASSWORD"
        """

    func testExampleConfigParsesWithEveryField() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try ConfigLoader.load(path: root.appendingPathComponent("deploy/bridge.example.toml").path, environment: [:])
        XCTAssertEqual(c.carriers.count, 1)
        let k = c.carriers[0]
        XCTAssertEqual(k.name, "aggregator-a")
        XCTAssertEqual(k.binds, 2)
        XCTAssertEqual(k.window, 64)
        XCTAssertEqual(k.passwordSource, .env("CARRIER_A_PASSWORD"))
        XCTAssertNotNil(k.tls)
        XCTAssertFalse(k.tls!.insecure, "TLS verification on by default")
        XCTAssertEqual(c.metricsListen, "127.0.0.1:9464")
        XCTAssertEqual(c.batchMaxRows, 1000)
        XCTAssertEqual(c.batchTargetRows, 64)
        XCTAssertEqual(c.logFormat, .json)
    }

    func testErrorsNameTheFileAndTheField() {
        func error(_ toml: String, env: [String: String] = [:]) -> String {
            do { _ = try ConfigLoader.parse(toml, file: "bridge.toml", environment: env); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(error("[bridge]\nlog_levl = \"info\""),
                       "bridge.toml: bridge.log_levl: unknown key (allowed: instance, log_format, log_level, reveal_sensitive, shutdown_grace_s)")
        XCTAssertEqual(error(minimal.replacingOccurrences(of: "port = 2775", with: "port = \"2775\"")), "bridge.toml: carrier[0] (agg-a).port: expected an integer")
        XCTAssertEqual(error(minimal.replacingOccurrences(of: "port = 2775", with: "port = 70000")), "bridge.toml: carrier[0] (agg-a).port: 70000 is out of range 1…65535")
        XCTAssertTrue(error(minimal.replacingOccurrences(of: "password_env = \"AGG_A_PASSWORD\"", with: "")).hasPrefix("bridge.toml: carrier[0] (agg-a).password_env: required"))
        XCTAssertTrue(error(minimal + "\nwindw = 3").hasPrefix("bridge.toml: carrier[0].windw: unknown key"))
        XCTAssertTrue(error(minimal + "\nbind_type = \"transmitter\"").contains("carrier[0] (agg-a).bind_type: expected receiver or transceiver"))
        XCTAssertTrue(error(minimal + "\n" + minimal).contains("carrier[1].name: duplicate carrier name \"agg-a\""))
        XCTAssertTrue(error("[database]\nbatch_max_rows = 0").hasPrefix("bridge.toml: database.batch_max_rows: 0 is out of range"))
        XCTAssertTrue(error("[database]\nbatch_target_rows = 0").hasPrefix("bridge.toml: database.batch_target_rows: 0 is out of range"))
        XCTAssertTrue(error("[bridge\nx=1").hasPrefix("bridge.toml: line 1"), error("[bridge\nx=1"))
        XCTAssertTrue(error(minimal + "\n[carrier.tls]\ncert_file = \"/etc/hostname\"").contains("tls.cert_file: cert_file and key_file go together"))
        XCTAssertTrue(error(minimal.replacingOccurrences(of: "system_id = \"trueotp\"", with: "system_id = \"a-very-long-system-id\"")).contains("at most 15 characters"))
    }

    func testMetricsStayOnLoopbackUnlessAllowed() throws {
        XCTAssertThrowsError(try ConfigLoader.parse("[metrics]\nlisten = \"0.0.0.0:9464\"", file: "b.toml")) { e in
            XCTAssertTrue("\(e)".contains("metrics.listen: 0.0.0.0 is not a loopback address"), "\(e)")
        }
        let c = try ConfigLoader.parse("[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_non_loopback = true", file: "b.toml")
        XCTAssertEqual(c.metricsHost, "0.0.0.0")
        XCTAssertEqual(try ConfigLoader.parse("", file: "b.toml").metricsHost, "127.0.0.1", "loopback by default")
    }

    func testEnvironmentOverridesTheFile() throws {
        let env = ["BRIDGE_DATABASE_BATCH_MAX_ROWS": "250", "BRIDGE_BRIDGE_LOG_FORMAT": "logfmt", "BRIDGE_CARRIER_AGG_A_WINDOW": "16",
                   "BRIDGE_CARRIER_AGG_A_HOST": "smsc.example", "BRIDGE_DATABASE_URL": "host=x"]
        let c = try ConfigLoader.parse(minimal, file: "b.toml", environment: env)
        XCTAssertEqual(c.batchMaxRows, 250)
        XCTAssertEqual(c.logFormat, .logfmt)
        XCTAssertEqual(c.carriers[0].window, 16)
        XCTAssertEqual(c.carriers[0].host, "smsc.example")
        XCTAssertThrowsError(try ConfigLoader.parse(minimal, file: "b.toml", environment: ["BRIDGE_CARRIER_AGG_A_WINDOW": "many"])) { e in
            XCTAssertTrue("\(e)".contains("carrier[0] (agg-a).window (from environment): expected an integer"), "\(e)")
        }
        XCTAssertThrowsError(try ConfigLoader.parse(minimal, file: "b.toml", environment: ["BRIDGE_DATABASE_BATCH_ROWS": "5"])) { e in
            XCTAssertTrue("\(e)".contains("database.batch_rows (from BRIDGE_DATABASE_BATCH_ROWS): unknown key"), "\(e)")
        }
    }

    /// check-config reads secrets only to see that they are there, and never prints them.
    func testCheckConfigNeverPrintsSecrets() throws {
        let dir = NSTemporaryDirectory() + "cfg-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/b.toml"
        try (minimal + "\n[database]\nurl_file = \"\(dir)/db-url\"").write(toFile: path, atomically: true, encoding: .utf8)
        try "postgres://bridge:S3cr3tDbPass@db/trueotp".write(toFile: dir + "/db-url", atomically: true, encoding: .utf8)
        // A database over the network without certificate verification is refused, naming the way out...
        let refused = try runBridge(["check-config", "--config", path], env: ["AGG_A_PASSWORD": "hunter2carrier"])
        XCTAssertEqual(refused.status, 2, refused.output)
        XCTAssertTrue(refused.output.contains("database.url: sslmode=prefer to db does not verify the server's certificate"), refused.output)
        XCTAssertTrue(refused.output.contains("database.allow_unverified_tls"), refused.output)
        XCTAssertFalse(refused.output.contains("S3cr3tDbPass"))
        // ...and accepted, with a warning, when the config says so.
        let out = try runBridge(["check-config", "--config", path],
                                env: ["AGG_A_PASSWORD": "hunter2carrier", "BRIDGE_DATABASE_ALLOW_UNVERIFIED_TLS": "true"])
        XCTAssertEqual(out.status, 0, out.output)
        XCTAssertTrue(out.output.contains("b.toml: ok"), out.output)
        XCTAssertTrue(out.output.contains("password from env AGG_A_PASSWORD"), out.output)
        XCTAssertFalse(out.output.contains("hunter2carrier"))
        XCTAssertFalse(out.output.contains("S3cr3tDbPass"))
        // A database over the network without certificate verification is pointed out.
        XCTAssertTrue(out.output.contains("warning: database.url: sslmode=prefer to db does not verify the server's certificate"), out.output)
        XCTAssertTrue(out.output.contains("allowed by database.allow_unverified_tls"), out.output)
        let bad = try runBridge(["check-config", "--config", path], env: ["BRIDGE_CARRIER_AGG_A_PORT": "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.output.contains("b.toml: carrier[0] (agg-a).port (from environment): expected an integer in 1...65535"), bad.output)
    }
}

/// Runs the built `smpp-bridge` binary; returns its exit status and stdout+stderr.
func runBridge(_ args: [String], env: [String: String] = [:], timeout: Double = 60) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = bridgeBinary()
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func bridgeBinary() -> URL {
    // The test bundle sits next to the products in .build/<triple>/debug.
    var dir = Bundle.main.bundleURL
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("smpp-bridge")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/smpp-bridge")
}
