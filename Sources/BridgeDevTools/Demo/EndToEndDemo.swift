import BridgeRuntime
import Foundation
import SMPPWire
import Logging
import Routing
import SMPPSession
import SMPPSimulator
import Store

/// The summary `make demo` ends with (and `demo --json` prints).
struct DemoSummary {
    var sent = 0, acked = 0, stored = 0, lost = 0, duplicated = 0
    /// Stored messages the simulator never sent (a phantom, e.g. a redelivered part stored as a message of its own).
    var unexpected = 0
    var outcomes: [String: Int] = [:]
    var codesExtracted = 0
    var multipart = 0
    var msgsPerSecond = 0.0
    var ackP50 = 0.0, ackP99 = 0.0
    var retried = 0
    var contentDuplicates = 0
    var seconds = 0.0
    var samples: [String] = []
    var storefrontSQL = ""
    var storefrontExample = ""

    /// The summary as one JSON object (`demo --json`, checked by make demo-ci).
    var json: String {
        struct Summary: Encodable {
            var sent, acked, stored, lost, duplicated, unexpected, routed, unmatched, expired, invalid: Int
            var codesExtracted, multipart, retriedPdus, contentDuplicates: Int
            var msgsPerS, ackP50Ms, ackP99Ms, seconds: Double
            var samples: [String]
            var storefrontSql: String
        }
        func round(_ v: Double, _ places: Double) -> Double { (v * places).rounded() / places }
        let s = Summary(
            sent: sent, acked: acked, stored: stored, lost: lost, duplicated: duplicated, unexpected: unexpected,
            routed: outcomes["routed"] ?? 0, unmatched: outcomes["unmatched"] ?? 0, expired: outcomes["expired"] ?? 0,
            invalid: outcomes["invalid"] ?? 0, codesExtracted: codesExtracted, multipart: multipart, retriedPdus: retried,
            contentDuplicates: contentDuplicates, msgsPerS: round(msgsPerSecond, 10), ackP50Ms: round(ackP50, 1000),
            ackP99Ms: round(ackP99, 1000), seconds: round(seconds, 100), samples: samples, storefrontSql: storefrontSQL)
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(s)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    var text: String {
        var s = "\n== smpp-bridge demo: simulator → bridge → PostgreSQL (fsync on), \(sent) messages in \(String(format: "%.1f", seconds)) s\n\n"
        s += "delivery   sent \(sent)  acked \(acked)  stored \(stored)  lost \(lost)  duplicated \(duplicated)  unexpected \(unexpected)  (SMSC retries: \(retried) PDUs)\n"
        if contentDuplicates > 0 {
            s += "           \(contentDuplicates) simulated message(s) repeat an earlier one byte for byte (same sender, number and code): seconds apart, inside the dedup window (routing.dedup_window_s) they cannot be told from a redelivery: stored once, the repeat counted in redelivery_count\n"
        }
        s += "outcomes   " + ["routed", "unmatched", "expired", "invalid"].map { "\($0) \(outcomes[$0] ?? 0)" }.joined(separator: "  ") + "\n"
        s += "codes      \(codesExtracted) extracted; \(multipart) multi-part messages reassembled\n"
        s += "throughput \(String(format: "%.0f", msgsPerSecond)) msgs/s acknowledged after commit\n"
        s += "ack        p50 \(String(format: "%.2f", ackP50)) ms  p99 \(String(format: "%.2f", ackP99)) ms (deliver_sm sent → deliver_sm_resp, seen by the SMSC)\n"
        s += "\nsome decoded messages (numbers and codes masked):\n" + samples.map { "  " + $0 }.joined(separator: "\n") + "\n"
        s += "\nhow a storefront reads the code for an order:\n  \(storefrontSQL)\n  \(storefrontExample)\n"
        return s
    }
}

/// Runs the whole product on this machine and audits it.
struct EndToEndDemo {
    var count: Int
    var multipart: Double
    var binds: Int
    var window: Int
    var timeout: Double
    var showText: Bool

    func run() throws -> DemoSummary {
        let pg = try ThrowawayPostgres()
        defer { pg.destroy() }
        let url = pg.url
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        // Leases for 8,000 of the simulator's 10,000 numbers; every tenth already expired.
        try db.execute("""
            INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at)
            SELECT 500000 + g, (447700900000 + g)::text, (ARRAY['whatsapp','google','telegram','microsoft','amazon','uber'])[1 + g % 6],
                   now() - interval '1 hour',
                   CASE WHEN g % 10 = 0 THEN now() - interval '5 minutes' ELSE now() + interval '2 hours' END
            FROM generate_series(0, 7999) g
            """)
        let password = String(UInt32.random(in: 10_000_000...99_999_999))  // SMPP passwords are at most 8 characters
        let logDir = NSTemporaryDirectory() + "smpp-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: logDir) }
        var sc = SimulatorConfig()
        sc.port = 0
        sc.password = password
        sc.count = count
        sc.window = window
        sc.mix = TrafficMix(multipartRatio: multipart, seed: 7)
        sc.logPath = logDir + "/sim.jsonl"
        let sim = SMSCSimulator(config: sc)
        let port = try sim.start()
        defer { sim.stop() }

        setenv("SMPP_DEMO_DB_URL", url, 1)
        setenv("SMPP_DEMO_SIM_PASSWORD", password, 1)
        // Through the same loader and checks as an operator's bridge.toml.
        let cfg = try ConfigLoader.parse("""
            [bridge]
            instance = "demo"
            [database]
            url_env = "SMPP_DEMO_DB_URL"
            [[carrier]]
            name = "sim"
            host = "127.0.0.1"
            port = \(port)
            system_id = "\(sc.systemID)"
            password_env = "SMPP_DEMO_SIM_PASSWORD"
            binds = \(binds)
            window = \(window)
            max_unacked = \(max(256, window * 4))
            """, file: "<demo>")
        let sink = LogSink(handle: nil, capture: true)
        let logger = Logger(label: "demo") { LineLogHandler(label: $0, format: .json, logLevel: .warning, sink: sink) }
        let bridge = try BridgeService(config: cfg, logger: logger)
        let started = Date()
        try bridge.start()
        // Wait for the simulator to finish; give up early when nothing moves for 30 s.
        var lastDone = -1
        var lastProgress = Date()
        while !sim.waitUntilDone(timeout: 0.5) {
            let done = sim.currentSummary.messagesDone
            if done != lastDone { lastDone = done; lastProgress = Date() }
            if Date().timeIntervalSince(lastProgress) > 30 || Date().timeIntervalSince(started) > timeout {
                FileHandle.standardError.write(Data("smpp-bridge demo: no progress (\(done) of \(count) done); bridge log:\n".utf8))
                for l in sink.lines.suffix(20) { FileHandle.standardError.write(Data((l + "\n").utf8)) }
                break
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        bridge.shutdown()
        let simSummary = sim.currentSummary
        sim.stop()

        let audit = try DeliveryAudit.run(simLog: sc.logPath!, mix: sc.mix, count: count, carrier: "sim", db: db)
        var s = DemoSummary()
        s.sent = audit.sent
        s.acked = audit.acked
        s.stored = audit.stored
        s.lost = audit.lost
        s.duplicated = audit.duplicated
        s.unexpected = audit.unexpected
        s.contentDuplicates = audit.contentDuplicates
        s.seconds = elapsed
        s.msgsPerSecond = simSummary.rate
        let lat = simSummary.ackLatencyMicros.sorted()
        func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : Double(lat[min(lat.count - 1, Int(Double(lat.count) * p))]) / 1000 }
        s.ackP50 = pct(0.5)
        s.ackP99 = pct(0.99)
        s.retried = simSummary.retried
        for r in try db.execute("SELECT outcome, count(*) FROM messages GROUP BY 1").rows { if let o = r[0], let n = r[1].flatMap({ Int($0) }) { s.outcomes[o] = n } }
        s.codesExtracted = Int(try db.execute("SELECT count(*) FROM messages WHERE otp_code IS NOT NULL").rows.first?.first??.description ?? "0") ?? 0
        s.multipart = Int(try db.execute("SELECT count(*) FROM messages WHERE part_count > 1").rows.first?.first??.description ?? "0") ?? 0
        let mask = Mask(reveal: showText)
        let samples = try db.execute("""
            SELECT DISTINCT ON (service, data_coding, part_count > 1) outcome, source_addr, destination_normalized, order_id, service,
                   otp_code, part_count, text
            FROM messages WHERE outcome = 'routed' ORDER BY service, data_coding, part_count > 1, id LIMIT 8
            """).rows
        for r in samples {
            let parts = (Int(r[6] ?? "1") ?? 1) > 1 ? " [\(r[6]!) parts]" : ""
            s.samples.append("\(r[1] ?? "") -> \(mask.number(r[2] ?? "")) order \(r[3] ?? "-") (lease: \(r[4] ?? ""))\(parts): code \(mask.code(r[5]) ?? "none"): \(mask.text(r[7] ?? ""))")
        }
        s.storefrontSQL = "SELECT otp_code, otp_confidence, received_at FROM otp_codes WHERE order_id = $1 ORDER BY received_at DESC LIMIT 1;"
        if let ex = try db.execute("SELECT order_id, otp_code, otp_confidence FROM otp_codes ORDER BY received_at LIMIT 1").rows.first {
            s.storefrontExample = "-- e.g. order \(ex[0] ?? ""): otp_code \(mask.code(ex[1]) ?? "") (confidence \(ex[2] ?? ""))"
        }
        return s
    }
}
