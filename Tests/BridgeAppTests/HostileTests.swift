import Foundation
import SMPPSimulator
import Store
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// A hostile or broken SMSC on one carrier (Tests/Hostile/hostile_smsc.py, each attack
/// of issue 22) while a well-behaved one (the simulator) delivers on another. Each
/// case asserts that the bridge's memory stays under a ceiling, that it recovers, and
/// that the good carrier loses nothing and keeps its ack p99 within 20 ms. Short form
/// in `make test`; `make soak` runs each for 60 s; `make bench-hostile` runs them on the
/// release build and reports each p99 beside the same run's baseline.
///
/// The 20 ms line is a latency, and this 2-core machine's own noise reaches it now and
/// then with no attack at all. So an attack past 20 ms is judged against a baseline
/// measured right then (the same harness with a peer that binds and sends nothing): within
/// twice that it passes; past it, the attack runs once more and must be within the lines
/// the second time (docs/decisions/004-hostile-latency-baseline.md).
final class HostileTests: XCTestCase {
    var dir = ""
    let seconds: Double = soak ? 60 : 8
    let ceilingMiB: Double = 300
    static let goalMillis = 20.0
    /// The last baseline's p99 in this process (ms).
    nonisolated(unsafe) static var baselineMillis: Double?

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "hostile-\(getpid())-\(UInt32.random(in: 0...999_999))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    struct Outcome {
        var maxRSS: Double
        var p99Millis: Double
        var bridge: BridgeProcess
        var hostile: Process
    }

    /// An attack's p99, judged in tearDown: once the attack's processes are gone, so that a
    /// baseline measured then is not slowed by them.
    struct Pending {
        var mode: String
        var rate: Double
        var tls: Bool
        var extra: String
        var p99Millis: Double
        var file: StaticString
        var line: UInt
    }
    var pending: Pending?

    /// Runs one attack for `seconds` beside 250 msgs/s of good traffic; checks the good
    /// carrier's delivery and the memory ceiling, then hands back the bridge (still running).
    /// Its latency is judged in tearDown.
    func attack(_ mode: String, rate: Double = 2000, tls: Bool = false, extra: String = "",
                file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        let o = try measure(mode, rate: rate, tls: tls, extra: extra, file: file, line: line)
        addTeardownBlock { o.hostile.terminate(); o.hostile.waitUntilExit() }
        pending = Pending(mode: mode, rate: rate, tls: tls, extra: extra, p99Millis: o.p99Millis, file: file, line: line)
        print("hostile \(mode): good carrier ack p99 \(o.p99Millis) ms, max RSS \(String(format: "%.1f", o.maxRSS)) MiB")
        return o
    }

    override func tearDownWithError() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if Self.bench, Self.baselineMillis == nil { _ = try measureBaseline() }  // make bench-hostile: one per round
        guard let p = pending else { return }
        pending = nil
        guard p.p99Millis > Self.goalMillis else { return }
        // Over 20 ms: is it the attack or the machine? The same harness without an attack, now.
        let baseline = try measureBaseline()
        print("hostile \(p.mode): good carrier ack p99 \(p.p99Millis) ms is over \(Self.goalMillis) ms; the baseline now: \(baseline) ms")
        guard p.p99Millis > 2 * baseline else { return }
        // Still over: the noise may have been during the attack. Once more; an attack that really
        // slows the good carrier is over both lines again.
        let again = try measure(p.mode, rate: p.rate, tls: p.tls, extra: p.extra, file: p.file, line: p.line)
        again.hostile.terminate()
        again.hostile.waitUntilExit()
        _ = again.bridge.stop()
        print("hostile \(p.mode): measured again: good carrier ack p99 \(again.p99Millis) ms")
        XCTAssertLessThanOrEqual(again.p99Millis, max(Self.goalMillis, 2 * baseline),
                                 "good carrier's ack p99 during \(p.mode), twice (\(p.p99Millis) ms, then \(again.p99Millis) ms; baseline \(baseline) ms)",
                                 file: p.file, line: p.line)
    }

    static let bench = ProcessInfo.processInfo.environment["SMPP_HOSTILE_BENCH"] == "1"

    /// The same harness without an attack: the hostile carrier binds and sends nothing.
    func measureBaseline() throws -> Double {
        let o = try measure("quiet", rate: 1)
        o.hostile.terminate()
        o.hostile.waitUntilExit()
        XCTAssertEqual(o.bridge.stop(), 0)
        Self.baselineMillis = o.p99Millis
        print("hostile baseline: good carrier ack p99 \(o.p99Millis) ms")
        return o.p99Millis
    }

    /// The harness: `hostile_smsc.py` in `mode` on one carrier, the simulator at 250 msgs/s on
    /// the other, for `seconds`; the good carrier's p99, the bridge's largest RSS, both peers still running.
    func measure(_ mode: String, rate: Double, tls: Bool = false, extra: String = "",
                 file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        let url = try TestDatabase.fresh(leases: 2000)
        let hostilePort = try ThrowawayPostgres.freePort()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Hostile/hostile_smsc.py").path
        let hostile = Process()
        hostile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        hostile.arguments = ["python3", script, String(hostilePort), mode, String(rate)]
        hostile.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try hostile.run()
        var c = SimulatorConfig()
        c.port = 0
        c.count = Int(250 * seconds)
        c.rate = 250
        c.window = 16
        c.password = "simpass"
        c.logPath = dir + "/sim-\(mode).jsonl"
        c.mix = TrafficMix(destinations: 447_700_900_000...447_700_901_999, multipartRatio: 0.2, seed: 31)
        c.maxRetries = 10_000
        c.retryDelay = 0.2
        let sim = SMSCSimulator(config: c)
        try sim.start()
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("good", sim.port, 1), ("hostile", hostilePort, 1)],
                                       extra: extra)
        if tls {
            try (String(contentsOfFile: bridge.configPath, encoding: .utf8) + "[carrier.tls]\ninsecure = true\n")
                .write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
        }
        // Ready needs every carrier bound; the hostile one may never be: wait for the good bind.
        try bridge.startWithoutWaiting()
        XCTAssertTrue(waitUntil(30) { bridge.metric("smpp_bridge_bind_up", ["carrier": "good"]) == 1 }, "good carrier never bound", file: file, line: line)
        var maxRSS = 0.0
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            maxRSS = max(maxRSS, bridge.rssMiB)
            usleep(250_000)
        }
        XCTAssertTrue(sim.waitUntilDone(timeout: 60), "good carrier not done: \(sim.currentSummary.json)", file: file, line: line)
        maxRSS = max(maxRSS, bridge.rssMiB)
        sim.stop()
        let a = try DeliveryAudit.run(simLog: c.logPath!, mix: c.mix, count: c.count, carrier: "good", db: PostgresConnection(url))
        XCTAssertEqual(a.lost, 0, "good carrier lost messages during \(mode)", file: file, line: line)
        XCTAssertEqual(a.acked, a.sent, "good carrier: every message acked", file: file, line: line)
        let p99 = sim.currentSummary.ackLatencyMicros.sorted().dropLast(sim.currentSummary.ackLatencyMicros.count / 100).last ?? 0
        XCTAssertLessThan(maxRSS, ceilingMiB, "bridge RSS during \(mode)", file: file, line: line)
        XCTAssertEqual(try BridgeHTTP.request(bridge.base, path: "/healthz").status, 200, "the bridge answers after \(mode)", file: file, line: line)
        return Outcome(maxRSS: maxRSS, p99Millis: Double(p99) / 1000, bridge: bridge, hostile: hostile)
    }

    func testUDH255FirstPartsFlood() throws {
        let o = try attack("udh255", rate: 3000, extra: "[routing]\nreassembly_max_bytes = 33554432\nreassembly_max_bytes_per_carrier = 16777216\n")
        XCTAssertGreaterThan(o.bridge.metric("smpp_bridge_reassembly_evicted_total"), 0, "the flood evicts its own oldest")
        XCTAssertEqual(o.bridge.stop(), 0)
    }

    func testAPeerThatStopsReadingIsCutOff() throws {
        let o = try attack("noread", rate: 20_000)
        // The connection goes once its output has not moved for response_timeout_s (10 s),
        // which starts once the kernel's send buffer (megabytes on loopback) is full too.
        XCTAssertTrue(waitUntil(45) { o.bridge.metric("smpp_bridge_reconnects_total", ["carrier": "hostile", "reason": "write_stalled"]) > 0 },
                      "closed for not reading: \(o.bridge.log.suffix(3000)) \((try? String(decoding: BridgeHTTP.request(o.bridge.base, path: "/metrics").body, as: UTF8.self).split(separator: "\n").filter { $0.contains("reconnects") || $0.contains("unacked") || $0.contains("bind_up") }) ?? [])")
        XCTAssertEqual(o.bridge.stop(), 0)
    }

    func testASilentTLSEndpointTimesOut() throws {
        let o = try attack("silent", tls: true)
        // The handshake gives up after the connect timeout (10 s) and the bind tries again.
        XCTAssertTrue(waitUntil(30) { o.bridge.metric("smpp_bridge_reconnects_total", ["carrier": "hostile", "reason": "tls"]) > 0 },
                      "the handshake times out and the bind reconnects")
        XCTAssertEqual(try BridgeHTTP.request(o.bridge.base, path: "/readyz").status, 503, "not ready: a carrier has no bind up")
        XCTAssertTrue(try String(decoding: BridgeHTTP.request(o.bridge.base, path: "/readyz").body, as: UTF8.self).contains("carrier hostile: no bind up"))
        XCTAssertEqual(o.bridge.stop(), 0)
    }

    func testSixtyFourKiBPayloadFlood() throws {
        let o = try attack("payload64k", rate: 300)
        XCTAssertEqual(o.bridge.stop(), 0)
    }

    func testUnbindStorm() throws {
        let o = try attack("unbind")
        XCTAssertGreaterThan(o.bridge.metric("smpp_bridge_reconnects_total", ["carrier": "hostile"]), 1)
        XCTAssertEqual(o.bridge.stop(), 0)
    }

    func testGenericNackFlood() throws {
        let o = try attack("nack", rate: 5000)
        XCTAssertEqual(o.bridge.stop(), 0)
    }

    func testDuplicatePartsWithDifferentContent() throws {
        let o = try attack("dupparts", rate: 2000)
        XCTAssertEqual(o.bridge.stop(), 0)
    }
}
