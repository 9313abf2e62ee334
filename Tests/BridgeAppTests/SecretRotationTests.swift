import Foundation
import SMPPSimulator
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// SIGHUP re-reads every carrier's secret before stopping anything: a changed value
/// restarts exactly that carrier, an unreadable one leaves it running as it was and is
/// reported (log, `smpp_bridge_config_reload_success` 0).
final class SecretRotationTests: XCTestCase {
    func testARotatedPasswordRebindsThatCarrierOnlyAndAnUnreadableOneLeavesItUp() throws {
        let dir = NSTemporaryDirectory() + "rotate-\(getpid())-\(UInt32.random(in: 0...999_999))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func sim(_ seed: UInt64) throws -> SMSCSimulator {
            var c = SimulatorConfig()
            c.port = 0
            c.count = 1_000_000  // never done: the binds stay up for the whole test
            c.rate = 20
            c.password = "simpass"
            c.logPath = dir + "/sim-\(seed).jsonl"
            c.mix = TrafficMix(multipartRatio: 0, seed: seed)
            let s = SMSCSimulator(config: c)
            try s.start()
            return s
        }
        let a = try sim(1), b = try sim(2)
        defer { a.stop(); b.stop() }
        let url = try TestDatabase.fresh()
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim-a", a.port, 1), ("sim-b", b.port, 1)])
        defer { bridge.stop() }
        let fileA = dir + "/a.secret", fileB = dir + "/b.secret"
        try "simpass\n".write(toFile: fileA, atomically: true, encoding: .utf8)
        try "simpass\n".write(toFile: fileB, atomically: true, encoding: .utf8)
        var toml = try String(contentsOfFile: bridge.configPath, encoding: .utf8)
        let parts = toml.components(separatedBy: "password_env = \"SIM_PASSWORD\"")
        XCTAssertEqual(parts.count, 3)
        toml = parts[0] + "password_file = \"\(fileA)\"" + parts[1] + "password_file = \"\(fileB)\"" + parts[2]
        try toml.write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
        try bridge.start()
        XCTAssertTrue(waitUntil(20) { a.currentSummary.binds == 1 && b.currentSummary.binds == 1 })
        func hup() { kill(bridge.process!.processIdentifier, SIGHUP) }

        // The same value again (a rewrite of the file): nothing restarts.
        try "simpass".write(toFile: fileA, atomically: true, encoding: .utf8)
        hup()
        XCTAssertTrue(waitUntil(10) { bridge.metric("smpp_bridge_config_reload_timestamp_seconds") > 0 })
        usleep(500_000)
        XCTAssertEqual(a.currentSummary.binds, 1, "an unchanged secret restarts nothing")

        // A new value for sim-a: sim-a binds again with it (refused here: the SMSC still has the old one); sim-b is left alone.
        try "rotated".write(toFile: fileA, atomically: true, encoding: .utf8)
        hup()
        XCTAssertTrue(waitUntil(20) { a.currentSummary.bindsRefused >= 1 }, "sim-a rebound with the rotated secret")
        XCTAssertEqual(b.currentSummary.binds, 1, "sim-b untouched")
        XCTAssertEqual(b.currentSummary.bindsRefused, 0)
        // Back to the value the SMSC knows: sim-a binds again.
        try "simpass".write(toFile: fileA, atomically: true, encoding: .utf8)
        hup()
        XCTAssertTrue(waitUntil(30) { a.currentSummary.binds >= 2 }, "sim-a bound again after the second rotation")

        // sim-b's secret becomes unreadable: sim-b stays bound as it was, and the reload says so.
        let reloadsBefore = bridge.metric("smpp_bridge_config_reload_timestamp_seconds")
        try FileManager.default.removeItem(atPath: fileB)
        usleep(1_100_000)  // the timestamp has second resolution in practice: let it move
        hup()
        XCTAssertTrue(waitUntil(10) { bridge.metric("smpp_bridge_config_reload_timestamp_seconds") > reloadsBefore })
        XCTAssertEqual(bridge.metric("smpp_bridge_config_reload_success"), 0)
        XCTAssertTrue(bridge.log.contains("its secret cannot be read"), "the failed read is logged")
        usleep(1_000_000)
        XCTAssertEqual(b.currentSummary.binds, 1, "sim-b still on its first bind")
        XCTAssertEqual(bridge.metric("smpp_bridge_bind_up", ["carrier": "sim-b"]), 1)
        XCTAssertFalse(bridge.log.contains("rotated"), "no secret value in the log")
    }
}
