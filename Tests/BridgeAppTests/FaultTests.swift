import Foundation
import Routing
import SMPPSimulator
import Store
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// Short form in `make test`; `make soak` sets SMPP_SOAK=1 for the long form
/// (more messages, a 30 s database outage).
let soak = ProcessInfo.processInfo.environment["SMPP_SOAK"] == "1"

/// `smpp-bridge run` as a child process, with its own config, metrics port and log.
final class BridgeProcess {
    let dir: String
    let url: String
    let metricsPort: Int
    let configPath: String
    var process: Process?
    var env: [String: String]

    init(url: String, dir: String, carriers: [(name: String, port: Int, binds: Int)], extra: String = "", env: [String: String] = [:]) throws {
        self.url = url
        self.dir = dir
        self.env = env
        metricsPort = try ThrowawayPostgres.freePort()
        configPath = dir + "/bridge-\(metricsPort).toml"
        var s = "[bridge]\ninstance = \"fault-\(metricsPort)\"\nshutdown_grace_s = 5\n[metrics]\nlisten = \"127.0.0.1:\(metricsPort)\"\n\(extra)\n"
        for c in carriers {
            s += "[[carrier]]\nname = \"\(c.name)\"\nhost = \"127.0.0.1\"\nport = \(c.port)\nsystem_id = \"trueotp\"\npassword_env = \"SIM_PASSWORD\"\nbinds = \(c.binds)\nwindow = 32\nmax_unacked = 64\n"
        }
        try s.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    var base: String { "http://127.0.0.1:\(metricsPort)" }
    var logPath: String { configPath + ".log" }

    func start() throws {
        try startWithoutWaiting()
        XCTAssertTrue(waitUntil(30) { (try? BridgeHTTP.request(self.base, path: "/readyz").status) == 200 }, "bridge never ready")
    }

    /// Starts the process and returns once its metrics answer (not necessarily ready).
    func startWithoutWaiting() throws {
        let p = Process()
        p.executableURL = bridgeBinary()
        p.arguments = ["run", "--config", configPath]
        p.environment = ProcessInfo.processInfo.environment.merging(["BRIDGE_DATABASE_URL": url, "SIM_PASSWORD": "simpass"].merging(env) { $1 }) { $1 }
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        h.seekToEndOfFile()
        p.standardError = h
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        process = p
        XCTAssertTrue(waitUntil(30) { (try? BridgeHTTP.request(self.base, path: "/healthz").status) == 200 }, "bridge never answered")
    }

    func kill9() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    @discardableResult
    func stop() -> Int32 {
        guard let p = process else { return -1 }
        p.terminate()
        p.waitUntilExit()
        process = nil
        return p.terminationStatus
    }

    /// Resident memory of the bridge process, in MiB.
    var rssMiB: Double {
        guard let p = process, let s = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }

    func metric(_ name: String, _ labels: [String: String] = [:]) -> Double {
        guard let page = try? String(decoding: BridgeHTTP.request(base, path: "/metrics").body, as: UTF8.self) else { return -1 }
        return MetricSample.parse(page).filter { s in s.name == name && labels.allSatisfy { k, v in s.labels[k] == v } }.reduce(0) { $0 + $1.value }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// What the fault, failover and hostile cases share: a temp folder, an SMSC simulator
/// that retries like a real one, and the audit of its log against the table.
class BridgeProcessCase: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "fault-\(getpid())-\(UInt32.random(in: 0...999_999))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func makeSim(count: Int, rate: Double = 0, faults: SimulatorFaults = SimulatorFaults(), seed: UInt64 = 11, multipart: Double = 0.2) throws -> SMSCSimulator {
        var c = SimulatorConfig()
        c.port = 0
        c.count = count
        c.rate = rate
        c.window = 32
        c.password = "simpass"
        c.logPath = dir + "/sim-\(seed).jsonl"
        c.mix = TrafficMix(multipartRatio: multipart, seed: seed)
        c.faults = faults
        c.maxRetries = 10_000  // a real SMSC keeps trying for hours; the test waits for every message
        c.retryDelay = 0.2
        c.responseTimeout = 3
        let s = SMSCSimulator(config: c)
        try s.start()
        return s
    }

    /// After each case: zero acked-but-missing, zero duplicates, every message acked.
    @discardableResult
    func assertDelivered(_ sim: SMSCSimulator, url: String, carrier: String = "sim", timeout: Double = 90,
                         file: StaticString = #filePath, line: UInt = #line) throws -> DeliveryAudit {
        XCTAssertTrue(sim.waitUntilDone(timeout: timeout), "simulator not done: \(sim.currentSummary.json)", file: file, line: line)
        sim.stop()
        let a = try DeliveryAudit.run(simLog: sim.config.logPath!, mix: sim.config.mix, count: sim.config.count, carrier: carrier,
                                      db: PostgresConnection(url), faults: sim.config.faults)
        XCTAssertEqual(a.lost, 0, "acked but missing: \(a.lostIDs)", file: file, line: line)
        XCTAssertEqual(a.duplicated, 0, "stored twice", file: file, line: line)
        XCTAssertEqual(a.acked, a.sent, "every message waitUntil acked", file: file, line: line)
        XCTAssertEqual(a.stored, a.sent, "every message stored", file: file, line: line)
        XCTAssertEqual(a.unexpected, 0, "stored messages the SMSC never sent (phantoms)", file: file, line: line)
        return a
    }
}

final class FaultTests: BridgeProcessCase {

    // 1. kill -9 the bridge mid-stream, then restart it.
    func testKill9MidStreamThenRestart() throws {
        let url = try TestDatabase.fresh()
        let n = soak ? 40_000 : 4000
        let sim = try makeSim(count: n, rate: soak ? 4000 : 2000)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 2)])
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > n / 3 })
        bridge.kill9()
        usleep(300_000)
        try bridge.start()
        try assertDelivered(sim, url: url)
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 2. PostgreSQL restarted mid-stream, and an outage during which temporary errors
    // are answered; the SMSC's retries succeed later; the bridge heals by itself.
    func testDatabaseRestartAndOutage() throws {
        let url = try TestDatabase.fresh()
        let pg = try TestDatabase.server.get()
        let n = soak ? 30_000 : 3000
        let sim = try makeSim(count: n, rate: soak ? 1000 : 1000, seed: 12)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 2)], extra: "[database]\ncommit_deadline_ms = 1000\n")
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > n / 5 })
        try pg.stop(immediate: true)  // a crash
        try pg.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > n / 2 })
        try pg.stop(immediate: true)
        sleep(soak ? 30 : 3)  // the outage: messages wait, then get ESME_RX_T_APPN
        let during = try BridgeHTTP.request(bridge.base, path: "/readyz")
        XCTAssertEqual(during.status, 503, "not ready while the database is down")
        let duringText = String(decoding: during.body, as: UTF8.self)
        XCTAssertTrue(duringText.contains("database"), duringText)
        try pg.start()
        let a = try assertDelivered(sim, url: url, timeout: 120)
        _ = a
        let log = try String(contentsOfFile: sim.config.logPath!, encoding: .utf8)
        XCTAssertTrue(log.contains("\"event\":\"nacked\"") && log.contains("\"status\":100"), "ESME_RX_T_APPN (0x64) answered during the outage")
        XCTAssertGreaterThan(bridge.metric("smpp_bridge_db_failures_total"), 0)
        // Healed without a restart: nothing about the database in /readyz (the SMSC itself is gone by now).
        XCTAssertTrue(waitUntil(20) { !(((try? String(decoding: BridgeHTTP.request(bridge.base, path: "/readyz").body, as: UTF8.self)) ?? "database").contains("database")) },
                      "healed without a restart")
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 3. The TCP connection cut mid-window: by the SMSC, and on the network (both directions at once).
    func testConnectionCutMidWindow() throws {
        let url = try TestDatabase.fresh()
        var f = SimulatorFaults()
        f.dropAfter = 700
        let sim = try makeSim(count: soak ? 20_000 : 3000, rate: 1500, faults: f, seed: 13)
        let proxy = try CuttableProxy(to: sim.port)
        defer { proxy.stop() }
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", proxy.port, 2)])
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > 1500 })
        proxy.cutAll()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > 2200 })
        proxy.cutAll()
        try assertDelivered(sim, url: url)
        XCTAssertGreaterThanOrEqual(bridge.metric("smpp_bridge_reconnects_total"), 2)
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 4. Every malformed fixture between good PDUs: each answered (or the connection
    // closed on insane framing), the good ones all stored.
    func testMalformedFixturesBetweenGoodPDUs() throws {
        let url = try TestDatabase.fresh()
        var f = SimulatorFaults()
        f.malformedEvery = 15
        f.injectedPDUs = try malformedFixtures()
        XCTAssertGreaterThanOrEqual(f.injectedPDUs.count, 27)
        let sim = try makeSim(count: soak ? 10_000 : 1500, faults: f, seed: 14)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)])
        try bridge.start()
        try assertDelivered(sim, url: url, timeout: 120)
        XCTAssertGreaterThan(bridge.metric("smpp_bridge_malformed_pdus_total"), 10)
        // The deliver_sm and data_sm among them frame correctly: kept as evidence, each with its reason and PDU.
        let kept = try PostgresConnection(url).execute("""
            SELECT count(*), count(DISTINCT invalid_reason), bool_and(outcome = 'invalid' AND array_length(raw_pdus, 1) = 1 AND otp_code IS NULL)
            FROM messages WHERE invalid_reason IS NOT NULL
            """).rows.first!
        XCTAssertGreaterThan(Int(kept[0] ?? "0") ?? 0, 10, "malformed deliver_sm kept as evidence")
        XCTAssertGreaterThanOrEqual(Int(kept[1] ?? "0") ?? 0, 5, "with their reasons")
        XCTAssertEqual(kept[2], "t")
        // Each fixture is injected many times: the repeats (same body) are recorded as redeliveries of its row.
        XCTAssertGreaterThanOrEqual(bridge.metric("smpp_bridge_invalid_pdus_kept_total"), Double(kept[0] ?? "0") ?? 0)
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 5. Redelivered acked PDUs, parts out of order and duplicated, one part missing:
    // stored once; the incomplete message stored after the timeout and marked.
    func testRedeliveryDuplicatesAndMissingParts() throws {
        let url = try TestDatabase.fresh()
        var f = SimulatorFaults()
        f.duplicateEvery = 4
        f.omitPartEvery = 3
        let sim = try makeSim(count: soak ? 10_000 : 1500, faults: f, seed: 15, multipart: 0.5)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 2)], extra: "[routing]\nreassembly_timeout_s = 2\n")
        try bridge.start()
        XCTAssertTrue(sim.waitUntilDone(timeout: 60))
        XCTAssertTrue(waitUntil(20) { bridge.metric("smpp_bridge_reassembly_pending") == 0 }, "incomplete messages not stored after the timeout")
        sleep(1)
        let a = try assertDelivered(sim, url: url)
        XCTAssertGreaterThan(a.withheld, 20)
        XCTAssertEqual(a.incompleteStored, a.withheld, "every incomplete message stored, marked with missing_parts")
        XCTAssertGreaterThan(bridge.metric("smpp_bridge_routing_outcomes_total", ["outcome": "duplicate"]), 100)
        // Redelivered whole messages (an ack the SMSC never got) are recorded on the stored row, one for one.
        let recorded = try PostgresConnection(url).execute("SELECT sum(redelivery_count) FROM messages").rows.first?.first ?? nil
        XCTAssertGreaterThan(Double(recorded ?? "0") ?? 0, 50)
        XCTAssertEqual(Double(recorded ?? "0") ?? 0, bridge.metric("smpp_bridge_redeliveries_total"))
        let marked = try PostgresConnection(url).execute("SELECT count(*) FROM messages WHERE missing_parts <> '{}'").rows.first?.first ?? nil
        XCTAssertEqual(marked.flatMap { Int($0) }, a.withheld)
        let badEvidence = try PostgresConnection(url).execute(
            "SELECT count(*) FROM messages WHERE array_length(raw_pdus, 1) <> part_count - cardinality(missing_parts)").rows.first?.first ?? nil
        XCTAssertEqual(badEvidence, "0", "one raw PDU per received part, no more, no less")
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 5, after a restart. The new process no longer remembers the messages the old one
    // finished, and the SMSC redelivers a part of some (their acks were lost with the
    // old process). The store knows those parts consumed: no phantom incomplete
    // message after the timeout. It was one before the store told the reassembler.
    func testAPartRedeliveredAfterARestartMakesNoPhantom() throws {
        let url = try TestDatabase.fresh()
        let first = try makeSim(count: 40, seed: 17, multipart: 1.0)
        let extra = "[routing]\nreassembly_timeout_s = 2\n"
        let old = try BridgeProcess(url: url, dir: dir, carriers: [("sim", first.port, 1)], extra: extra)
        try old.start()
        let a = try assertDelivered(first, url: url)
        XCTAssertEqual(old.stop(), 0)
        var f = SimulatorFaults()
        f.malformedEvery = 1  // one injected PDU before every message
        f.injectedPDUs = (0..<5).map { first.config.mix.message($0).parts.last! }
        let second = try makeSim(count: 10, faults: f, seed: 18, multipart: 0)
        // A timeout past the store lookup (after 2 s), so that the lookup finds them first.
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", second.port, 1)], extra: "[routing]\nreassembly_timeout_s = 8\n")
        try bridge.start()
        XCTAssertTrue(second.waitUntilDone(timeout: 60))
        XCTAssertTrue(waitUntil(20) { bridge.metric("smpp_bridge_reassembly_held_redeliveries") > 0 }, "redelivered parts not held")
        XCTAssertTrue(waitUntil(20) {
            bridge.metric("smpp_bridge_reassembly_pending") == 0 && bridge.metric("smpp_bridge_reassembly_held_redeliveries") == 0
        }, "redelivered parts still held after the timeout")
        XCTAssertEqual(bridge.metric("smpp_bridge_reassembly_timed_out_total"), 0)
        sleep(1)
        let db = try PostgresConnection(url)
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages WHERE missing_parts <> '{}'").rows.first?.first, "0", "phantom incomplete messages")
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, String(a.stored + 10))
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 6. A slow database: memory stays bounded by backpressure (measured).
    func testSlowDatabaseBackpressureBoundsMemory() throws {
        let url = try TestDatabase.fresh()
        let sim = try makeSim(count: soak ? 30_000 : 6000, seed: 16)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 2)], extra: "[database]\ncommit_deadline_ms = 60000\n")
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > 1000 })
        let before = bridge.rssMiB
        // Every statement on message_dedup waits: the writer stalls as on a very slow disk.
        let locker = try PostgresConnection(url)
        try locker.execute("BEGIN")
        try locker.execute("LOCK TABLE message_dedup IN EXCLUSIVE MODE")
        var maxQueue = 0.0, maxUnacked = 0.0, maxRSS = before
        let doneAtStall = sim.currentSummary.messagesDone
        for _ in 0..<(soak ? 100 : 15) {
            usleep(200_000)
            maxQueue = max(maxQueue, bridge.metric("smpp_bridge_db_queue_depth"))
            maxUnacked = max(maxUnacked, bridge.metric("smpp_bridge_unacked_inbound"))
            maxRSS = max(maxRSS, bridge.rssMiB)
        }
        let progressed = sim.currentSummary.messagesDone - doneAtStall
        try locker.execute("COMMIT")
        try assertDelivered(sim, url: url)
        // 2 binds × max_unacked 64: the sessions stop reading, the SMSC's window fills, TCP holds the rest.
        XCTAssertLessThanOrEqual(maxQueue, 2 * 64 + 64, "writer queue bounded by the binds' max_unacked")
        XCTAssertLessThanOrEqual(maxUnacked, 2 * 64)
        XCTAssertLessThan(maxRSS - before, 30, "RSS grew \(maxRSS - before) MiB while stalled")
        XCTAssertLessThan(progressed, 200, "nothing acked while nothing commits")
        print("slow database: RSS \(String(format: "%.1f", before)) → max \(String(format: "%.1f", maxRSS)) MiB, max queue \(Int(maxQueue)), max unacked \(Int(maxUnacked))")
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 7. A lease changes while messages for its number are in flight: each message
    // is routed by the lease as it was when routed, and the change is seen promptly.
    func testLeaseChangeWhileInFlight() throws {
        let url = try TestDatabase.fresh(leases: 10_000)
        let db = try PostgresConnection(url)
        let sim = try makeSim(count: soak ? 20_000 : 4000, rate: 1500, seed: 17)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 2)])
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > 1000 })
        // Hand every number to a new order (version 2) mid-stream.
        try db.execute("UPDATE leases SET order_id = order_id + 1000000, version = version + 1, updated_at = now() WHERE expires_at > now()")
        try assertDelivered(sim, url: url)
        let rows = try db.execute("""
            SELECT count(*) FILTER (WHERE lease_version = 1 AND order_id < 1000000),
                   count(*) FILTER (WHERE lease_version = 2 AND order_id >= 1000000),
                   count(*) FILTER (WHERE NOT ((lease_version = 1 AND order_id < 1000000) OR (lease_version = 2 AND order_id >= 1000000)))
            FROM messages WHERE outcome = 'routed'
            """).rows.first!
        XCTAssertGreaterThan(Int(rows[0]!)!, 100, "routed to the old order before the change")
        XCTAssertGreaterThan(Int(rows[1]!)!, 100, "routed to the new order after the change")
        XCTAssertEqual(rows[2], "0", "never a mix of an old order and a new version")
        // Every change reached the table within 2.5 s: all of them in the histogram bucket up to 2.5 s.
        let changes = bridge.metric("smpp_bridge_lease_sync_lag_seconds_count")
        XCTAssertGreaterThan(changes, 0)
        XCTAssertEqual(bridge.metric("smpp_bridge_lease_sync_lag_seconds_bucket", ["le": "2.5"]), changes)
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 8. A flood: the SMSC pushes as fast as its windows allow on many binds; the bridge
    // slows it through the window and TCP and neither crashes nor drops.
    func testFloodIsSlowedNotDropped() throws {
        let url = try TestDatabase.fresh()
        let sim = try makeSim(count: soak ? 100_000 : 15_000, rate: 0, seed: 18)
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 6)])
        try bridge.start()
        var maxRSS = 0.0
        while !sim.waitUntilDone(timeout: 0.5) { maxRSS = max(maxRSS, bridge.rssMiB) }
        XCTAssertEqual(bridge.metric("smpp_bridge_ready"), 1, "ready while its SMSC is up")
        try assertDelivered(sim, url: url)
        XCTAssertLessThan(maxRSS, 150, "bridge RSS \(maxRSS) MiB under a flood")
        // The SMSC is gone now: no bind up for its carrier, so not ready, and /readyz says why.
        XCTAssertTrue(waitUntil(10) { bridge.metric("smpp_bridge_ready") == 0 })
        XCTAssertTrue(((try? String(decoding: BridgeHTTP.request(bridge.base, path: "/readyz").body, as: UTF8.self)) ?? "").contains("carrier sim: no bind up"))
        print("flood: \(sim.currentSummary.rate) msgs/s acked after commit, max RSS \(String(format: "%.1f", maxRSS)) MiB")
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 10. Two bridges on different binds against one database, with redeliveries
    // crossing between them: stored once, routed correctly.
    func testTwoBridgesOneDatabase() throws {
        let url = try TestDatabase.fresh()
        var f = SimulatorFaults()
        f.duplicateEvery = 5
        let sim = try makeSim(count: soak ? 20_000 : 3000, faults: f, seed: 19)
        let a = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)])
        let b = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)])
        try a.start()
        try b.start()
        // Parts of one message reach both bridges; a bridge completes it from the other's
        // stored parts within seconds (every part was acked once its row was committed).
        XCTAssertTrue(sim.waitUntilDone(timeout: 60))
        XCTAssertTrue(waitUntil(30) { a.metric("smpp_bridge_reassembly_pending") == 0 && b.metric("smpp_bridge_reassembly_pending") == 0 },
                      "split messages not completed across bridges: pending \(a.metric("smpp_bridge_reassembly_pending")) + \(b.metric("smpp_bridge_reassembly_pending")), open parts \(String(describing: try? PostgresConnection(url).execute("SELECT count(*), count(DISTINCT (destination_addr, reference)) FROM message_parts WHERE message_dedup_key IS NULL").rows ?? []))\n\(a.log.suffix(3000))")
        try assertDelivered(sim, url: url)
        let wrong = try PostgresConnection(url).execute("""
            SELECT count(*) FROM messages m JOIN leases l ON l.msisdn = m.destination_normalized
            WHERE m.outcome = 'routed' AND m.order_id <> l.order_id
            """).rows.first?.first ?? nil
        XCTAssertEqual(wrong, "0", "routed to the lease of its number")
        XCTAssertGreaterThan(a.metric("smpp_bridge_deliver_sm_total"), 500)
        XCTAssertGreaterThan(b.metric("smpp_bridge_deliver_sm_total"), 500)
        XCTAssertEqual(a.stop(), 0)
        XCTAssertEqual(b.stop(), 0)
    }

    // 12. Acks the SMSC never got: the commit stalls past the SMSC's response timer, so
    // it gives up on PDUs the bridge then commits and acks too late, and sends them
    // again. Each is stored once, its redelivery recorded on the stored row.
    func testAnAckTheSMSCNeverGotIsARedeliveryRecorded() throws {
        let url = try TestDatabase.fresh()
        var c = SimulatorConfig()
        c.port = 0
        c.count = soak ? 5000 : 800
        c.rate = 400
        c.window = 32
        c.password = "simpass"
        c.logPath = dir + "/sim-lostack.jsonl"
        c.mix = TrafficMix(multipartRatio: 0, seed: 23)
        c.maxRetries = 10_000
        c.retryDelay = 0.2
        c.responseTimeout = 0.5
        let sim = SMSCSimulator(config: c)
        try sim.start()
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)])
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > 200 })
        let locker = try PostgresConnection(url)
        try locker.execute("BEGIN")
        try locker.execute("LOCK TABLE message_dedup IN EXCLUSIVE MODE")
        usleep(1_500_000)  // the SMSC times out what is in flight and sends it again
        try locker.execute("COMMIT")
        let a = try assertDelivered(sim, url: url)
        let log = try String(contentsOfFile: c.logPath!, encoding: .utf8)
        XCTAssertTrue(log.contains("\"event\":\"timeout\""), "the SMSC's response timer fired")
        let recorded = try PostgresConnection(url).execute("SELECT coalesce(sum(redelivery_count), 0) FROM messages").rows.first?.first ?? nil
        XCTAssertGreaterThan(Int(recorded ?? "0") ?? 0, 0, "redeliveries recorded on the stored rows")
        XCTAssertEqual(Double(recorded ?? "0") ?? 0, bridge.metric("smpp_bridge_redeliveries_total"))
        XCTAssertEqual(a.duplicated, 0)
        XCTAssertEqual(bridge.stop(), 0)
    }

    // 11. Identical texts to re-rented numbers, with a kill -9 in the middle. The same
    // SMSC traffic (byte for byte: same numbers, same texts) twice, the numbers
    // re-rented between the runs and the gap longer than the dedup window: every
    // message stored once per run, each run's copy with the order renting the number
    // then; the redeliveries the kill causes are recorded, never stored twice.
    func testIdenticalTextsToReRentedNumbersAcrossAKill() throws {
        let url = try TestDatabase.fresh(leases: 20)
        let db = try PostgresConnection(url)
        let window = 8.0
        func sim() throws -> SMSCSimulator {
            var c = SimulatorConfig()
            c.port = 0
            c.count = soak ? 3000 : 400
            c.rate = soak ? 1000 : 200
            c.window = 32
            c.password = "simpass"
            c.logPath = dir + "/sim-rerent-\(UInt32.random(in: 0...999_999)).jsonl"
            c.mix = TrafficMix(destinations: 447_700_900_001...447_700_900_019, multipartRatio: 0.2, seed: 21)
            c.maxRetries = 10_000
            c.retryDelay = 0.2
            c.responseTimeout = 3
            let s = SMSCSimulator(config: c)
            try s.start()
            return s
        }
        let first = try sim()
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", first.port, 2)], extra: "[routing]\ndedup_window_s = \(Int(window))\n")
        try bridge.start()
        let a = try assertDelivered(first, url: url)
        // `stored` counts the simulator's messages found stored; a message whose content repeats an
        // earlier one inside the window (3000 messages to 19 numbers make one) is that earlier row.
        let distinct = first.config.count - a.contentDuplicates
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages WHERE invalid_reason IS NULL").rows.first?.first, String(distinct),
                       "one row per distinct message, its repeats recorded on it")
        // Re-rent every number: the old leases end, new orders start now.
        try db.execute("UPDATE leases SET status = 'ended', updated_at = now()")
        try db.execute("""
            INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at)
            SELECT order_id + 1000000, msisdn, service, now(), now() + interval '2 hours' FROM leases
            """)
        let lastFirst = try db.execute("SELECT extract(epoch FROM now() - max(received_at)) FROM messages").rows.first?.first ?? nil
        usleep(UInt32(max(0, window + 1 - (Double(lastFirst ?? "0") ?? 0)) * 1_000_000))
        let second = try sim()
        XCTAssertEqual(bridge.stop(), 0)
        let b2 = try BridgeProcess(url: url, dir: dir, carriers: [("sim", second.port, 2)], extra: "[routing]\ndedup_window_s = \(Int(window))\n")
        try b2.start()
        XCTAssertTrue(waitUntil(30) { second.currentSummary.messagesDone > second.config.count / 3 })
        b2.kill9()
        usleep(300_000)
        try b2.start()
        XCTAssertTrue(second.waitUntilDone(timeout: 90), "second run not done: \(second.currentSummary.json)")
        second.stop()
        sleep(1)
        // Each key twice: once per run, the first with an old order, the second with a new one.
        let rows = try db.execute("""
            SELECT dedup_key, count(*) AS n,
                   bool_and(order_id IS NULL OR (received_at < (SELECT min(starts_at) FROM leases WHERE order_id >= 1000000)) = (order_id < 1000000)) AS right_order,
                   sum(redelivery_count) AS redeliveries
            FROM messages WHERE invalid_reason IS NULL GROUP BY dedup_key
            """)
        let col = { (name: String) in rows.columns.firstIndex(of: name)! }
        XCTAssertEqual(rows.rows.count, distinct, "one key per distinct message")
        XCTAssertEqual(rows.rows.filter { $0[col("n")] != "2" }.count, 0, "every message stored once per run: \(rows.rows.filter { $0[col("n")] != "2" })")
        XCTAssertEqual(rows.rows.filter { $0[col("right_order")] != "t" }.count, 0, "each copy with the order renting the number when it arrived")
        let wrongRenter = try db.execute("""
            SELECT count(*) FROM messages m JOIN leases l ON l.order_id = m.order_id
            WHERE m.outcome = 'routed' AND NOT (m.received_at >= l.starts_at AND m.received_at < CASE WHEN l.status = 'active' THEN l.expires_at ELSE LEAST(l.expires_at, l.updated_at) END)
            """).rows.first?.first ?? nil
        XCTAssertEqual(wrongRenter, "0", "no message routed to an order outside its lease")
        XCTAssertEqual(second.currentSummary.messagesDone, second.config.count, "every message of the second run acked")
        XCTAssertEqual(second.currentSummary.failed, 0)
        print("re-rented numbers: \(a.stored) distinct messages twice, redeliveries recorded \(rows.rows.compactMap { Int($0[col("redeliveries")] ?? "0") }.reduce(0, +))")
        XCTAssertEqual(b2.stop(), 0)
    }

    func malformedFixtures() throws -> [[UInt8]] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("protocol-fixtures/malformed")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().compactMap { name -> [UInt8]? in
            guard name.hasSuffix(".json") else { return nil }
            let o = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(name))) as! [String: Any]
            let hex = Array((o["hex"] as! String).utf8)
            return stride(from: 0, to: hex.count - 1, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
        }
    }
}

/// A TCP relay whose connections can be cut at once in both directions (a network fault).
final class CuttableProxy: @unchecked Sendable {
    let port: Int
    private let listenFD: Int32
    private let upstream: Int
    private let lock = NSLock()
    private var fds: [Int32] = []
    private var stopped = false

    init(to upstream: Int) throws {
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listen(fd, 16)
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    private func acceptLoop() {
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 { return }
            let u = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: UInt16(upstream).bigEndian, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            let ok = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(u, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if ok != 0 { close(c); close(u); continue }
            lock.withLock { fds += [c, u] }
            Thread.detachNewThread { Self.pump(c, u) }
            Thread.detachNewThread { Self.pump(u, c) }
        }
    }

    static func pump(_ from: Int32, _ to: Int32) {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(from, &buf, buf.count)
            if n <= 0 { shutdown(to, Int32(SHUT_RDWR)); return }
            var off = 0
            while off < n {
                let w = buf[off..<n].withUnsafeBytes { send(to, $0.baseAddress, n - off, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { shutdown(from, Int32(SHUT_RDWR)); return }
                off += w
            }
        }
    }

    /// Cuts every relayed connection, both directions at once.
    func cutAll() {
        let all = lock.withLock { () -> [Int32] in let f = fds; fds = []; return f }
        for fd in all { shutdown(fd, Int32(SHUT_RDWR)) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { for fd in all { close(fd) } }
    }

    func stop() {
        cutAll()
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }
}
