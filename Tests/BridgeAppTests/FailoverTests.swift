import Foundation
import SMPPSimulator
import Store
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// A primary and a synchronous streaming-replication standby on loopback, from
/// Debian's PostgreSQL (no Patroni: `pg_basebackup -R` and `pg_ctl promote`), each in
/// its own temp folder and port, stopped and removed at the end.
final class ReplicatedPostgres {
    let primary: ThrowawayPostgres
    let standbyDir: String
    let standbyPort: Int
    let database = "failover"

    init() throws {
        primary = try ThrowawayPostgres(fsync: false)
        let db = try PostgresConnection(primary.url)
        try db.execute("CREATE DATABASE \(database)")
        let app = try PostgresConnection(primary.url(database: database))
        try Migrator.migrate(app)
        try TestDatabase.seedLeases(app, count: 8000)
        var template = Array("/tmp/smpp-pg-standby-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ThrowawayPostgres.Failure(description: "mkdtemp failed") }
        standbyDir = String(cString: p)
        if primary.asRoot { try ThrowawayPostgres.run(["chown", "postgres", standbyDir], asPostgres: false) }
        try ThrowawayPostgres.run([primary.bin + "/pg_basebackup", "-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres",
                                   "-D", standbyDir + "/data", "-R", "-X", "stream", "-c", "fast"], asPostgres: primary.asRoot)
        standbyPort = try ThrowawayPostgres.freePort()
        try ThrowawayPostgres.run([primary.bin + "/pg_ctl", "-D", standbyDir + "/data", "-l", standbyDir + "/pg.log", "-w", "-t", "60", "-o",
                                   "-p \(standbyPort) -k \(standbyDir) -c listen_addresses=127.0.0.1 -c fsync=off", "start"], asPostgres: primary.asRoot)
        // Synchronous from now on: a COMMIT returns once the standby has the WAL. Set after the
        // base backup, so that the standby, once promoted and alone, does not wait for a standby of its own.
        try db.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        try db.execute("SELECT pg_reload_conf()")
        let synced = (0..<100).contains { _ in
            usleep(100_000)
            return (try? db.execute("SELECT sync_state FROM pg_stat_replication").rows.first?.first) == "sync"
        }
        guard synced else { throw ThrowawayPostgres.Failure(description: "the standby never became synchronous") }
    }

    /// Both servers, the primary first: libpq tries them in order and keeps the one that takes writes.
    var url: String {
        "host=127.0.0.1,127.0.0.1 port=\(primary.port),\(standbyPort) user=postgres dbname=\(database) target_session_attrs=read-write connect_timeout=2"
    }
    var standbyURL: String { "host=127.0.0.1 port=\(standbyPort) user=postgres dbname=\(database)" }

    /// The primary's postmaster dies as in a crash (SIGKILL; its backends follow).
    func killPrimary() throws {
        let pidFile = try String(contentsOfFile: primary.dir + "/data/postmaster.pid", encoding: .utf8)
        guard let pid = pidFile.split(separator: "\n").first.flatMap({ Int32($0) }) else {
            throw ThrowawayPostgres.Failure(description: "no postmaster pid")
        }
        kill(pid, SIGKILL)
    }

    func promoteStandby() throws {
        try ThrowawayPostgres.run([primary.bin + "/pg_ctl", "-D", standbyDir + "/data", "-w", "promote"], asPostgres: primary.asRoot)
    }

    func destroy() {
        try? ThrowawayPostgres.run([primary.bin + "/pg_ctl", "-D", standbyDir + "/data", "-m", "immediate", "-w", "stop"], asPostgres: primary.asRoot)
        try? FileManager.default.removeItem(atPath: standbyDir)
        try? primary.stop(immediate: true)
        primary.destroy()
    }
}

/// Failover (issue 25, short form): the primary dies mid-stream, the synchronous
/// standby is promoted, the bridge finds it through its multi-host URL. Every message
/// acked before, during and after is stored once on the new primary. Also: two bridges
/// on one database, one SIGKILLed mid-stream.
final class FailoverTests: BridgeProcessCase {
    /// The longest time without an ack at the SMSC, from its log (the outage as the carrier
    /// sees it), among the gaps that overlap [from, to] (the simulator's clock, ms).
    static func longestAckGapMillis(_ logPath: String, from: Int = 0, to: Int = .max) throws -> Int {
        let times = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("\"event\":\"acked\"") }
            .compactMap { line -> Int? in
                guard let r = line.range(of: "\"t_ms\":") else { return nil }
                return Int(line[r.upperBound...].prefix { $0.isNumber })
            }.sorted()
        return zip(times, times.dropFirst()).filter { $1 >= from && $0 <= to }.map { $1 - $0 }.max() ?? 0
    }

    func testThePrimaryDiesAndTheStandbyIsPromotedNothingAckedIsLost() throws {
        let t0 = Date()
        let pg = try ReplicatedPostgres()
        print("failover: primary and synchronous standby up in \(Int(Date().timeIntervalSince(t0))) s")
        defer { pg.destroy() }
        let n = soak ? 30_000 : 4000
        let sim = try makeSim(count: n, rate: 800, seed: 41)
        let bridge = try BridgeProcess(url: pg.url, dir: dir, carriers: [("sim", sim.port, 2)])
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > n / 4 })
        try pg.killPrimary()
        usleep(1_000_000)  // as a failover manager would: notice, then promote
        try pg.promoteStandby()
        XCTAssertTrue(waitUntil(60) { sim.currentSummary.messagesDone > n * 3 / 4 }, "traffic did not resume on the new primary")
        print("failover: traffic resumed at \(Int(Date().timeIntervalSince(t0))) s")
        try assertDelivered(sim, url: pg.standbyURL, timeout: 120)
        print("failover: audited at \(Int(Date().timeIntervalSince(t0))) s")
        let gap = try Self.longestAckGapMillis(sim.config.logPath!)
        print("failover: longest time without an ack \(gap) ms (primary killed, standby promoted 1 s later)")
        XCTAssertLessThan(gap, 15_000, "the outage as the SMSC saw it")
        XCTAssertGreaterThan(bridge.metric("smpp_bridge_db_reconnects_total"), 0)
        let standby = "127.0.0.1:\(pg.standbyPort)"
        XCTAssertTrue(waitUntil(20) { bridge.metric("smpp_bridge_db_server_info", ["server": standby, "role": "primary"]) == 1 },
                      "the writer is on the promoted server, which is the primary now")
        XCTAssertGreaterThan(bridge.metric("smpp_bridge_db_last_commit_timestamp_seconds"), Date().timeIntervalSince1970 - 60)
        XCTAssertEqual(bridge.stop(), 0)
    }

    func testTwoBridgesOneKilledMidStreamTheOtherCarriesOn() throws {
        let url = try TestDatabase.fresh()
        let n = soak ? 20_000 : 3000
        let sim = try makeSim(count: n, rate: 1000, seed: 43)
        let a = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)])
        let b = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)])
        try a.start()
        try b.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > n / 3 })
        a.kill9()  // its unacked messages are redelivered to b's bind; b completes the multi-part ones a held parts of from the store
        XCTAssertTrue(sim.waitUntilDone(timeout: 120), "simulator not done: \(sim.currentSummary.json)")
        XCTAssertTrue(waitUntil(30) { b.metric("smpp_bridge_reassembly_pending") == 0 }, "every split message completed by the survivor")
        try assertDelivered(sim, url: url, timeout: 120)
        XCTAssertEqual(b.stop(), 0)
    }
}
