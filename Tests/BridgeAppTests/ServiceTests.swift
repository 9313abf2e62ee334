import Foundation
import Routing
import SMPPSimulator
import Store
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

final class ServiceTests: XCTestCase {
    /// The demo's whole path in-process, short: nothing acked is missing, nothing twice.
    func testDemoEndToEndShort() throws {
        let s = try EndToEndDemo(count: 1500, multipart: 0.2, binds: 2, window: 32, timeout: 120, showText: false).run()
        XCTAssertEqual(s.sent, 1500)
        XCTAssertEqual(s.acked, 1500, "every message waitUntil acked")
        XCTAssertEqual(s.lost, 0)
        XCTAssertEqual(s.duplicated, 0)
        XCTAssertEqual(s.stored, 1500)
        XCTAssertGreaterThan(s.outcomes["routed"] ?? 0, 900)
        XCTAssertGreaterThan(s.outcomes["expired"] ?? 0, 50)
        XCTAssertGreaterThan(s.outcomes["unmatched"] ?? 0, 150)
        XCTAssertGreaterThan(s.multipart, 100)
        XCTAssertGreaterThan(s.codesExtracted, 1400)
        let j = try JSONSerialization.jsonObject(with: Data(s.json.utf8)) as! [String: Any]
        for k in ["sent", "acked", "stored", "lost", "duplicated", "routed", "unmatched", "expired", "codes_extracted", "msgs_per_s", "ack_p50_ms", "ack_p99_ms"] {
            XCTAssertNotNil(j[k], k)
        }
        XCTAssertFalse(s.text.contains("447700"), "numbers masked in the summary")
    }

    /// `smpp-bridge run` as an operator runs it: ready only after the start order,
    /// /metrics read with curl, `top --once` and `tail` in a pseudo-terminal, SIGHUP
    /// adding and removing a carrier without touching the other, SIGTERM draining;
    /// then the simulator's log against the table, and nothing sensitive in the output.
    func testRunningBridgeMetricsTopTailReloadAndShutdown() throws {
        let url = try TestDatabase.fresh()
        let dir = NSTemporaryDirectory() + "run-\(getpid())-\(UInt32.random(in: 0...999_999))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let simA = try simulator(count: 3000, rate: 600, log: dir + "/sim-a.jsonl")
        defer { simA.stop() }
        let metricsPort = try ThrowawayPostgres.freePort()
        let base = "http://127.0.0.1:\(metricsPort)"
        func config(withB portB: Int?) -> String {
            var s = """
                [bridge]
                instance = "test"
                log_format = "json"
                shutdown_grace_s = 5
                [metrics]
                listen = "127.0.0.1:\(metricsPort)"
                [[carrier]]
                name = "sim-a"
                host = "127.0.0.1"
                port = \(simA.port)
                system_id = "trueotp"
                password_env = "SIM_PASSWORD"
                binds = 2
                window = 32

                """
            if let portB {
                s += """
                    [[carrier]]
                    name = "sim-b"
                    host = "127.0.0.1"
                    port = \(portB)
                    system_id = "trueotp"
                    password_env = "SIM_PASSWORD"
                    binds = 1

                    """
            }
            return s
        }
        let cfgPath = dir + "/bridge.toml"
        try config(withB: nil).write(toFile: cfgPath, atomically: true, encoding: .utf8)
        let bridge = Process()
        bridge.executableURL = bridgeBinary()
        bridge.arguments = ["run", "--config", cfgPath]
        bridge.environment = ProcessInfo.processInfo.environment.merging(["BRIDGE_DATABASE_URL": url, "SIM_PASSWORD": "simpass"]) { $1 }
        let logFile = dir + "/bridge.log"
        FileManager.default.createFile(atPath: logFile, contents: nil)
        bridge.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        bridge.standardOutput = FileHandle.nullDevice
        try bridge.run()
        defer { if bridge.isRunning { bridge.terminate() } }

        // Ready once migrations are checked, leases loaded and binds started.
        XCTAssertTrue(waitUntil(30) { (try? BridgeHTTP.request(base, path: "/readyz").status) == 200 }, "never ready")
        XCTAssertEqual(try BridgeHTTP.request(base, path: "/healthz").status, 200)
        // Metrics hygiene (issue 24): build info, process_*, and labelled counters at 0 before their first event.
        let first = try metrics(base)
        XCTAssertTrue(first.contains("smpp_bridge_build_info{version=\"\(BuildStamp.version)\",commit=\"\(BuildStamp.commit)\"} 1\n"), first)
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds"] {
            XCTAssertGreaterThan(metricValue(first, name, [:]), 0, name)
        }
        for (name, labels) in [("smpp_bridge_db_failures_total", ["kind": "connection"]),
                               ("smpp_bridge_http_refused_total", ["reason": "capacity"]),
                               ("smpp_bridge_malformed_pdus_total", ["carrier": "sim-a", "bind": "sim-a-1", "error": "missing_nul"]),
                               ("smpp_bridge_invalid_pdus_kept_total", ["carrier": "sim-a", "reason": "tlv_overrun"]),
                               ("smpp_bridge_receipts_total", ["carrier": "sim-a", "stat": "DELIVRD"]),
                               ("smpp_bridge_late_matches_total", ["carrier": "sim-a"]),
                               ("smpp_bridge_log_lines_suppressed_total", ["kind": "malformed_kept"]),
                               ("smpp_bridge_reconnects_total", ["carrier": "sim-a", "bind": "sim-a-1", "reason": "peer_closed"])] {
            XCTAssertTrue(MetricSample.parse(first).contains { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } },
                          "\(name) \(labels) exists from the start")
        }
        XCTAssertTrue(waitUntil(30) { simA.currentSummary.messagesDone > 300 }, "no traffic")

        // top in a pseudo-terminal, mid-stream.
        let top = try runInPTY([bridgeBinary().path, "top", "--once", "--url", base, "--interval", "1"])
        XCTAssertTrue(top.contains("BINDS") && top.contains("sim-a-1") && top.contains("sim-a-2"), top)
        XCTAssertTrue(top.contains("bound"), top)
        XCTAssertTrue(top.contains("LEASES") && top.contains("entries 8000"), top)
        XCTAssertTrue(top.contains("RECENT EVENTS") && top.contains("\"outcome\""), top)
        XCTAssertTrue(top.range(of: #"sim-a-1 +bound +[1-9][0-9]*"#, options: .regularExpression) != nil, "msgs/s shown: \(top)")
        // tail streams live events; filtered by outcome.
        let tail = try runInPTY([bridgeBinary().path, "tail", "--url", base, "--outcome", "routed", "--count", "5"])
        let tailLines = tail.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("{") }
        XCTAssertEqual(tailLines.count, 5, tail)
        for l in tailLines {
            let o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            XCTAssertEqual(o["outcome"] as? String, "routed")
            XCTAssertNotNil(o["order_id"] as? Int)
            XCTAssertTrue((o["destination"] as? String ?? "").hasPrefix("**********"), "masked: \(l)")
            XCTAssertNil(o["code"], "no code under the default config")
            XCTAssertNotNil(o["code_present"])
        }

        // SIGHUP: add sim-b; sim-a's binds stay up (no reconnect).
        let simB = try simulator(count: 200, rate: 0, log: dir + "/sim-b.jsonl", seed: 9)
        defer { simB.stop() }
        let reconnectsBefore = metricValue(try metrics(base), "smpp_bridge_reconnects_total", ["carrier": "sim-a"])
        try config(withB: simB.port).write(toFile: cfgPath, atomically: true, encoding: .utf8)
        kill(bridge.processIdentifier, SIGHUP)
        XCTAssertTrue(waitUntil(20) { simB.currentSummary.messagesDone == 200 }, "sim-b never served after SIGHUP")
        XCTAssertEqual(metricValue(try metrics(base), "smpp_bridge_bind_up", ["carrier": "sim-b", "bind": "sim-b-1"]), 1)
        // SIGHUP again: remove sim-b.
        try config(withB: nil).write(toFile: cfgPath, atomically: true, encoding: .utf8)
        kill(bridge.processIdentifier, SIGHUP)
        XCTAssertTrue(waitUntil(20) { (try? self.metrics(base))?.contains("smpp_bridge_bind_up{carrier=\"sim-b\"") == false }, "sim-b still there")
        // The removed carrier drains and unbinds (its sessions are kept alive until they have: once they
        // were freed mid-drain, the unbind never finished and the socket stayed open), then its series go.
        let stopped = { ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").split(separator: "\n")
            .contains { $0.contains("\"msg\":\"carrier stopped\"") && $0.contains("\"carrier\":\"sim-b\"") } }
        XCTAssertTrue(waitUntil(10, stopped), "sim-b drained and unbound")
        XCTAssertTrue(waitUntil(10) { (try? self.metrics(base))?.contains("carrier=\"sim-b\"") == false },
                      "every series of a removed carrier goes, counters and histograms too")
        // A broken config on SIGHUP is refused and the running one stays.
        try "[[carrier]]\nname = 1\n".write(toFile: cfgPath, atomically: true, encoding: .utf8)
        kill(bridge.processIdentifier, SIGHUP)

        XCTAssertTrue(waitUntil(60) { simA.currentSummary.messagesDone == 3000 }, "sim-a: \(simA.currentSummary.messagesDone) of 3000")
        let page = try metrics(base)
        XCTAssertEqual(metricValue(page, "smpp_bridge_reconnects_total", ["carrier": "sim-a"]), reconnectsBefore, "reload left sim-a alone")
        XCTAssertEqual(metricValue(page, "smpp_bridge_bind_up", ["carrier": "sim-a", "bind": "sim-a-1"]), 1)

        // SIGTERM: graceful; exit 0.
        bridge.terminate()
        bridge.waitUntilExit()
        XCTAssertEqual(bridge.terminationStatus, 0)

        // The promise, from the simulators' logs (complete once they stop).
        simA.stop()
        simB.stop()
        let db = try PostgresConnection(url)
        let a = try DeliveryAudit.run(simLog: dir + "/sim-a.jsonl", mix: simA.config.mix, count: 3000, carrier: "sim-a", db: db)
        XCTAssertEqual(a.acked, 3000)
        XCTAssertEqual(a.lost, 0, "acked but missing: \(a.lostIDs)")
        XCTAssertEqual(a.duplicated, 0)
        let b = try DeliveryAudit.run(simLog: dir + "/sim-b.jsonl", mix: simB.config.mix, count: 200, carrier: "sim-b", db: db)
        XCTAssertEqual(b.lost, 0)
        XCTAssertEqual(b.acked, 200)
        // /metrics agrees with the table.
        let routedRows = Double(try db.execute("SELECT count(*) FROM messages WHERE carrier = 'sim-a' AND outcome = 'routed'").rows.first!.first!!)!
        XCTAssertEqual(metricValue(page, "smpp_bridge_routing_outcomes_total", ["carrier": "sim-a", "outcome": "routed"]), routedRows)
        XCTAssertGreaterThan(metricValue(page, "smpp_bridge_db_batch_rows_count", [:]), 0)
        XCTAssertGreaterThan(metricValue(page, "smpp_bridge_ack_latency_seconds_count", ["carrier": "sim-a"]), 0)
        XCTAssertEqual(metricValue(page, "smpp_bridge_lease_entries", [:]), 8000)

        // Nothing sensitive in logs, metrics, tail or top under the default config.
        let log = try String(contentsOfFile: logFile, encoding: .utf8)
        XCTAssertTrue(log.contains("\"msg\":\"reload refused: the running config stays\""), "bad config on SIGHUP refused")
        XCTAssertTrue(log.contains("\"msg\":\"reloaded\""))
        let numbers = try db.execute("SELECT DISTINCT destination_normalized FROM messages WHERE destination_normalized IS NOT NULL").rows.compactMap { $0[0] }
        let codes = try db.execute("SELECT DISTINCT otp_code FROM messages WHERE otp_code IS NOT NULL AND length(otp_code) >= 6").rows.compactMap { $0[0] }
        for text in [log, page, tail, top] {
            for n in numbers { XCTAssertFalse(text.contains(n), "a full number leaked") }
        }
        for text in [tail, page] {
            for c in codes.prefix(500) { XCTAssertFalse(text.contains("\"\(c)\""), "a code leaked") }
        }
        XCTAssertFalse(log.contains("simpass"), "a password leaked")
    }

    /// /metrics through curl: a real HTTP client, not ours.
    func metrics(_ base: String) throws -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sS", "--fail", "--max-time", "10", base + "/metrics"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let body = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        XCTAssertEqual(curl.terminationStatus, 0, "curl /metrics")
        return body
    }

    func metricValue(_ page: String, _ name: String, _ labels: [String: String]) -> Double {
        MetricSample.parse(page).filter { s in s.name == name && labels.allSatisfy { k, v in s.labels[k] == v } }.reduce(0) { $0 + $1.value }
    }

    func testMetricsEndpointWithCurl() throws {
        let metrics = MetricsRegistry()
        M.defineAll(metrics)
        metrics.inc(M.outcomes, [("carrier", "a\"b"), ("outcome", "routed")], by: 3)
        metrics.observe(M.ackLatency, [("carrier", "a"), ("bind", "a-1")], 0.004)
        let port = try ThrowawayPostgres.freePort()
        let server = try MetricsServer(host: "127.0.0.1", port: port, metrics: metrics, events: EventHub(), health: { (false, "lease-load") })
        let t = Task { try await server.run() }
        defer { t.cancel() }
        XCTAssertTrue(waitUntil(10) { (try? BridgeHTTP.request("http://127.0.0.1:\(port)", path: "/healthz").status) == 200 })
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sS", "-i", "http://127.0.0.1:\(port)/metrics"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 200"), out)
        XCTAssertTrue(out.contains("text/plain; version=0.0.4"), out)
        XCTAssertTrue(out.contains("smpp_bridge_routing_outcomes_total{carrier=\"a\\\"b\",outcome=\"routed\"} 3"), out)
        XCTAssertTrue(out.contains("smpp_bridge_ack_latency_seconds_bucket{carrier=\"a\",bind=\"a-1\",le=\"0.005\"} 1"), out)
        XCTAssertTrue(out.contains("# TYPE smpp_bridge_ack_latency_seconds histogram"), out)
        XCTAssertEqual(try BridgeHTTP.request("http://127.0.0.1:\(port)", path: "/readyz").status, 503, "not ready while leases load")
    }
}

/// Runs a command in a pseudo-terminal (util-linux `script`), as on an operator's SSH session.
func runInPTY(_ args: [String], timeout: Double = 30) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    let cmd = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    p.arguments = ["-qefc", "timeout \(Int(timeout)) " + cmd, "/dev/null"]
    p.environment = ProcessInfo.processInfo.environment.merging(["TERM": "xterm"]) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
}
