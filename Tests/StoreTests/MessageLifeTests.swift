import Dispatch
import Foundation
import Primitives
import Logging
import Routing
import SMPPWire
@testable import BridgeRuntime
@testable import BridgeDevTools
@testable import BridgeRuntime
@testable import Store
import TestSupport
import XCTest

/// A number's whole life against the real PostgreSQL: redeliveries inside and past
/// the dedup window, re-rented numbers, the key upgrade, late leases, receipts and
/// malformed PDUs kept as evidence.
final class MessageLifeTests: XCTestCase {
    static let number = "447700900756"
    /// Taken when each test starts, not when XCTest makes the test objects (all at once, at
    /// the start of the run): late in a long run, "30 s ago" was minutes before the leases
    /// the test inserts, and the 30-second late lease did not cover its message.
    var nowMs: UInt64 = 0
    override func setUp() { nowMs = UInt64(Date().timeIntervalSince1970 * 1000) }
    let table = LeaseTable()
    lazy var router = SessionRouter(carrier: CarrierProfile(name: "c1", plan: .uk), table: table, reassembler: Reassembler(),
                                    extractor: OTPExtractor())

    func migrated() throws -> (String, PostgresConnection) {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        return (url, db)
    }

    func writer(_ url: String, window: Int = 3600) -> BatchWriter {
        var cfg = BatchWriter.Config(url: url)
        cfg.dedupWindowSeconds = window
        let w = BatchWriter(config: cfg)
        addTeardownBlock { w.stop() }
        return w
    }

    /// Leases `order` the number for [from, to) (seconds relative to now), in the table the router reads.
    func lease(_ order: UInt64, from: Int, to: Int, service: String = "microsoft") {
        let s = Int(nowMs / 1000)
        table.upsert(MSISDNKey(Self.number)!, Lease(orderID: order, service: table.serviceID(service), startsAt: UInt32(s + from),
                                                   expiresAt: UInt32(s + to), version: 1))
    }

    /// The SMS as the SMSC sends it, received `ago` seconds before now, routed against the table.
    func sms(_ text: String = "Use 8568 as Microsoft account security code", ago: Double = 0, esm: UInt8 = 0, tlvs: [TLV] = [],
             sequence: UInt32 = 1) -> StoredMessage {
        let bytes = Self.deliverSM(GSM7.encodeUnpacked(text)!, esm: esm, tlvs: tlvs, sequence: sequence)
        return bytes.withUnsafeBytes { p in
            let v = try! ShortMessageView(validating: p)
            var ev: [InboundMessage] = []
            guard case .message(let msg) = router.accept(v, receivedAt: nowMs - UInt64(ago * 1000), evicted: &ev) else { fatalError() }
            return StoredMessage(decision: router.decide(msg), bind: "c1-1", sourceTON: .alphanumeric, destTON: .international, rawPDUs: [bytes])
        }
    }

    /// A deliver_sm from Microsoft to the test's number, its short_message as given.
    static func deliverSM(_ sm: [UInt8], esm: UInt8 = 0, dataCoding: UInt8 = 0, tlvs: [TLV] = [], sequence: UInt32 = 1) -> [UInt8] {
        var m = ShortMessage()
        m.sourceAddrTON = .alphanumeric
        m.sourceAddr = "Microsoft"
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = COctetString(number)
        m.esmClass = ESMClass(esm)
        m.dataCoding = DataCoding(dataCoding)
        m.shortMessage = sm
        return PDU(.deliverSM, sequenceNumber: sequence, body: .shortMessage(m), tlvs: tlvs).encode()
    }

    @discardableResult
    func store(_ w: BatchWriter, _ items: [StoredMessage]) -> [BatchWriter.Result] {
        let results = Locked<[BatchWriter.Result]>([])
        for m in items { w.submit(.message(m)) { r in results.withLock { $0.append(r) } } }
        XCTAssertTrue(waitUntil { results.withLock { $0.count } == items.count })
        return results.withLock { $0 }
    }

    func rows(_ db: PostgresConnection) throws -> [[String?]] {
        try db.execute("SELECT order_id, outcome, otp_code, redelivery_count, last_redelivered_at IS NOT NULL FROM messages ORDER BY received_at, id").rows
    }

    // MARK: The dedup window

    /// The lost message: the same text to the same number, once inside the
    /// window (a redelivery: recorded, stored once) and once past it (a new SMS: stored).
    func testIdenticalTextInsideAndPastTheWindow() throws {
        let (url, db) = try migrated()
        lease(1, from: -10_800, to: 600)
        let w = writer(url)
        store(w, [sms(ago: 7200)])
        let inside = store(w, [sms(ago: 7000, sequence: 9)])  // 200 s later: a redelivery
        XCTAssertEqual(inside.map(\.status), [.ok])
        XCTAssertEqual(inside.map(\.duplicate), [true])
        XCTAssertEqual(try rows(db), [["1", "routed", "8568", "1", "t"]])
        let past = store(w, [sms(ago: 0, sequence: 10)])  // two hours later: a new SMS
        XCTAssertEqual(past.map(\.duplicate), [false])
        XCTAssertEqual(try rows(db), [["1", "routed", "8568", "1", "t"], ["1", "routed", "8568", "0", "f"]])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM otp_codes").rows.first?.first, "2")
        // And the key now names the newer message: a redelivery of it is found.
        XCTAssertEqual(store(w, [sms(ago: 0, sequence: 11)]).map(\.duplicate), [true])
        XCTAssertEqual(try db.execute("SELECT redelivery_count FROM messages ORDER BY received_at DESC LIMIT 1").rows, [["1"]])
    }

    /// The number re-rented between the SMS and its copy. Inside the window the copy is
    /// the first order's (never routed to the next renter, never announced); past the
    /// window it is a new SMS for whoever rents the number then.
    func testReRentedNumberInsideAndPastTheWindow() throws {
        for (window, firstAgo, expectNew) in [(3600, 900.0, false), (600, 900.0, true)] {
            let (url, db) = try migrated()
            let listener = try PostgresConnection(url)
            try listener.listen("sms_received")
            lease(1, from: -1200, to: -600)  // order 1 had the number 20 to 10 minutes ago
            let first = sms(ago: firstAgo)
            lease(2, from: -300, to: 900)  // order 2 has it now
            let copy = sms(ago: 0, sequence: 2)
            XCTAssertEqual(copy.decision.orderID, 2, "the router alone would give the copy to the new renter")
            let w = writer(url, window: window)
            store(w, [first])
            _ = try listener.notifications()
            let r = store(w, [copy])
            XCTAssertEqual(r.map(\.duplicate), [!expectNew], "window \(window)")
            let orders = try db.execute("SELECT order_id FROM messages ORDER BY received_at").rows.map { $0[0] }
            XCTAssertEqual(orders, expectNew ? ["1", "2"] : ["1"], "window \(window)")
            usleep(200_000)
            let announced = try listener.notifications().map(\.1).joined()
            XCTAssertEqual(announced.contains("\"order_id\":2"), expectNew, "announced to order 2: \(announced)")
        }
    }

    /// Copies in one batch (an SMSC resending before the first copy's ack went out):
    /// one row, the copies counted on it.
    func testCopiesInOneBatchAreCountedOnTheRow() throws {
        let (url, db) = try migrated()
        lease(1, from: -600, to: 600)
        var cfg = BatchWriter.Config(url: url)
        cfg.maxWait = 0.2
        let w = BatchWriter(config: cfg)
        defer { w.stop() }
        let r = store(w, [sms(sequence: 1), sms(sequence: 2), sms(sequence: 3)])
        XCTAssertEqual(r.filter(\.duplicate).count, 2)
        XCTAssertEqual(try rows(db), [["1", "routed", "8568", "2", "t"]])
    }

    /// Keys stored by the previous build (another hash) inside the window are carried
    /// over by migration 7: a redelivery of such a message is still found; one past the
    /// window keeps its old key and matters no more.
    func testTheKeyUpgradeKeepsTheWindowsKeysFindable() throws {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try db.execute("CREATE TABLE bridge_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for m in Migrations.all where m.version <= 6 {
            try db.executeScript(m.sql)
            try db.execute("INSERT INTO bridge_schema_migrations (version, name) VALUES ($1, $2)", [.text(String(m.version)), .text(m.name)])
        }
        try db.execute("SELECT bridge_ensure_month(now() + make_interval(months => g)) FROM generate_series(-1, 1) AS g")
        lease(1, from: -10_800, to: 600)
        let recent = sms("Your code 1111", ago: 60), old = sms("Your code 2222", ago: 7200)
        // A multi-part message stored whole, and a part still pending, as version 6 wrote them.
        let parts = multipart("Your G- code is 334455. Do not share it with anyone, whatever they tell you on the phone", ref: 9)
        for (i, (m, legacy)) in [(recent, "00000000-0000-0000-0000-000000000001"), (old, "00000000-0000-0000-0000-000000000002"),
                                 (parts.message, "00000000-0000-0000-0000-000000000003")].enumerated() {
            try db.execute("""
                WITH d AS (INSERT INTO message_dedup (dedup_key, received_at, message_id)
                           VALUES ($1::uuid, to_timestamp($2::double precision / 1000), $3::bigint) RETURNING *)
                INSERT INTO messages (id, received_at, carrier, bind, source_addr, source_ton, destination_addr, destination_ton,
                                      destination_normalized, order_id, outcome, data_coding, text, dedup_key, raw_pdus)
                OVERRIDING SYSTEM VALUE
                SELECT message_id, received_at, 'c1', 'c1-1', 'Microsoft', 5, $4, 1, $4, 1, 'routed', 0, 'x', dedup_key,
                       ARRAY(SELECT decode(x, 'hex') FROM unnest(string_to_array($5, ',')) AS x) FROM d
                """, [.text(legacy), .text(String(m.decision.receivedAt)), .text(String(i + 1)), .text(Self.number),
                      .text(m.rawPDUs.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: ","))])
        }
        for (seq, p) in parts.parts.enumerated() {
            try db.execute("""
                INSERT INTO message_parts (dedup_key, carrier, source_addr, destination_addr, reference, reference_bits, total,
                    sequence, data_coding, body, raw_pdu, received_at, message_dedup_key)
                VALUES ($1::uuid, 'c1', 'Microsoft', $2, 9, 8, 2, $3::smallint, 0, '\\x', '\\x', now(), '00000000-0000-0000-0000-000000000003')
                """, [.text("00000000-0000-0000-0000-00000000001\(seq)"), .text(Self.number), .text(String(p.sequence))])
        }
        let pending = Part(key: PartKey(carrier: "c1", source: "Google", destination: Self.number, reference: 4, referenceBits: 8, total: 2),
                           sequence: 1, dataCoding: 0, body: [0x41, 0x42], rawPDU: [1], receivedAt: nowMs)
        try db.execute("""
            INSERT INTO message_parts (dedup_key, carrier, source_addr, destination_addr, reference, reference_bits, total,
                sequence, data_coding, body, raw_pdu, received_at)
            VALUES ('00000000-0000-0000-0000-0000000000ff', 'c1', 'Google', $1, 4, 8, 2, 1, 0, '\\x4142', '\\x01', now())
            """, [.text(Self.number)])
        XCTAssertEqual(try Migrator.migrate(db), [7])
        let w = writer(url)
        XCTAssertEqual(store(w, [sms("Your code 1111", ago: 0, sequence: 5)]).map(\.duplicate), [true], "inside the window: found")
        XCTAssertEqual(store(w, [parts.message]).map(\.duplicate), [true], "a multi-part one too")
        XCTAssertEqual(store(w, [sms("Your code 2222", ago: 0, sequence: 6)]).map(\.duplicate), [false], "past the window: new")
        XCTAssertEqual(try db.execute("SELECT redelivery_count FROM messages WHERE id IN (1, 3) ORDER BY id").rows, [["1"], ["1"]])
        let consumed = try PartStore.parts(of: parts.parts[0].key, consumedAmong: parts.parts.map(DedupKey.part), db).consumed
        XCTAssertEqual(consumed, Set(parts.parts.map(DedupKey.part)), "consumed parts answer under their new keys")
        let open = try PartStore.parts(of: pending.key, consumedAmong: [], db).open
        XCTAssertEqual(open.map(\.body), [pending.body])
        XCTAssertEqual(try db.execute("SELECT dedup_key::text FROM message_parts WHERE sequence = 1 AND reference = 4").rows.first?.first,
                       DedupKey.part(pending).uuidString, "the pending part's key is the new one")
    }

    /// A two-part UDH message to the number: its parts and the stored message.
    func multipart(_ text: String, ref: UInt8) -> (message: StoredMessage, parts: [Part]) {
        let encoded = GSM7.encodeUnpacked(text)!
        let half = encoded.count / 2
        let chunks = [Array(encoded[..<half]), Array(encoded[half...])]
        var completed: InboundMessage?
        var parts: [Part] = []
        var raws: [[UInt8]] = []
        for (i, c) in chunks.enumerated() {
            // 8-bit data coding: the body is the bytes as given.
            let bytes = Self.deliverSM([0x05, 0x00, 0x03, ref, 2, UInt8(i + 1)] + c, esm: ESMClass.udhIndicator.rawValue,
                                       dataCoding: 0x04, sequence: UInt32(i + 1))
            raws.append(bytes)
            bytes.withUnsafeBytes { p in
                let v = try! ShortMessageView(validating: p)
                var ev: [InboundMessage] = []
                if case .part(let part, _, let done) = router.accept(v, receivedAt: nowMs, evicted: &ev) {
                    parts.append(part)
                    if let done { completed = done }
                }
            }
        }
        let m = completed!
        return (StoredMessage(decision: router.decide(m), bind: "c1-1", sourceTON: .alphanumeric, destTON: .international,
                              rawPDUs: raws, parts: m.parts), parts)
    }

    // MARK: Late leases

    /// The lease reaches the bridge 50 ms, 2 s and 30 s after its SMS: each message
    /// ends routed to the order with its code, announced once, through the real path
    /// (INSERT → NOTIFY → lease sync → late matching).
    func testLateLeasesRouteTheirMessagesExactlyOnce() throws {
        let (url, db) = try migrated()
        let listener = try PostgresConnection(url)
        try listener.listen("sms_received")
        let sync = LeaseSync(url: url, table: table, reconcileInterval: 3600)
        let metrics = MetricsRegistry()
        M.defineAll(metrics)
        let late = LateMatching(url: url, lookbackSeconds: 900, settleSeconds: 0.3, metrics: metrics, logger: Logger(label: "test"),
                                extractor: { OTPExtractor() })
        sync.onLeasesApplied = { late.leasesApplied($0) }
        try sync.start()
        defer { sync.stop() }
        let w = writer(url)
        let numbers = ["447700900701", "447700900702", "447700900703"]
        for (i, (n, ago)) in zip(numbers, [0.05, 2, 30]).enumerated() {
            var m = sms("Use \(4000 + i) as Microsoft account security code", ago: ago)
            m.decision.destination = .msisdn(n)
            m.decision.destinationRaw = n
            m.decision.dedupKey = DedupKey(high: UInt64(i + 1), low: 7)
            XCTAssertEqual(m.decision.outcome, .unmatched)
            XCTAssertEqual(store(w, [m]).map(\.status), [.ok])
        }
        usleep(50_000)
        for (i, n) in numbers.enumerated() {
            try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES ($1::bigint, $2, 'microsoft', now() - interval '5 minutes', now() + interval '15 minutes')",
                           [.text(String(500 + i)), .text(n)])
        }
        XCTAssertTrue(waitUntil { (try? db.execute("SELECT count(*) FROM otp_codes").rows.first?.first) == "3" }, "late matched")
        usleep(600_000)  // the settle pass has run too
        late.drain()
        XCTAssertEqual(try db.execute("SELECT order_id, otp_code, late_matched_at IS NOT NULL FROM messages ORDER BY order_id").rows,
                       [["500", "4000", "t"], ["501", "4001", "t"], ["502", "4002", "t"]])
        var announced: [Int] = []
        for (_, payload) in try listener.notifications() {
            let items = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [[String: Any]] ?? []
            announced += items.compactMap { $0["order_id"] as? Int }
            XCTAssertTrue(items.allSatisfy { $0["received_at"] is String }, payload)
        }
        XCTAssertEqual(announced.sorted(), [500, 501, 502], "each announced exactly once")
        XCTAssertEqual(metrics.value(M.lateMatches, [("carrier", "c1")]), 3)
    }

    /// The lease reaches the table before its message commits: the message is routed
    /// unmatched against the old table and lands after the first late-match pass; the
    /// settle pass routes it.
    func testALeaseBeforeItsMessageCommitsIsCaughtByTheSettlePass() throws {
        let (url, db) = try migrated()
        let metrics = MetricsRegistry()
        M.defineAll(metrics)
        let late = LateMatching(url: url, lookbackSeconds: 900, settleSeconds: 1, metrics: metrics, logger: Logger(label: "test"),
                                extractor: { OTPExtractor() })
        let m = sms()
        XCTAssertEqual(m.decision.outcome, .unmatched)
        try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (9, $1, 'microsoft', now() - interval '5 minutes', now() + interval '15 minutes')",
                       [.text(Self.number)])
        late.leasesApplied([Self.number])
        usleep(300_000)
        store(writer(url), [m])
        XCTAssertTrue(waitUntil(5) { (try? db.execute("SELECT order_id FROM otp_codes").rows.first?.first) == "9" })
    }

    /// `smpp-bridge reroute --dry-run` lists without routing; without it, routes.
    func testRerouteByHandAndItsDryRun() throws {
        let (url, db) = try migrated()
        store(writer(url), [sms(ago: 120)])
        try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (3, $1, 'microsoft', now() - interval '1 hour', now() + interval '1 hour')",
                       [.text(Self.number)])
        let dry = try LateMatcher.run(db, lookbackSeconds: 60, dryRun: true, extractor: OTPExtractor())
        XCTAssertEqual(dry.count, 0, "received 2 minutes ago: outside a 1-minute look-back")
        XCTAssertEqual(try LateMatcher.run(db, lookbackSeconds: 900, dryRun: true, extractor: OTPExtractor()).map(\.orderID), [3])
        XCTAssertEqual(try db.execute("SELECT outcome FROM messages").rows.first?.first, "unmatched")
        XCTAssertEqual(try LateMatcher.run(db, lookbackSeconds: 900, extractor: OTPExtractor()).map(\.code), ["8568"])
        XCTAssertEqual(try LateMatcher.run(db, lookbackSeconds: 900, extractor: OTPExtractor()).count, 0, "exactly once")
        XCTAssertEqual(try db.execute("SELECT outcome, order_id, otp_code FROM messages").rows, [["routed", "3", "8568"]])
    }

    // MARK: Receipts and evidence

    func testAReceiptIsStoredAsOneAndNeverAsAnSMS() throws {
        let (url, db) = try migrated()
        lease(1, from: -600, to: 600)
        let listener = try PostgresConnection(url)
        try listener.listen("sms_received")
        let r = sms("id:77AB sub:001 dlvrd:001 submit date:2612060500 done date:2612060501 stat:UNDELIV err:011 text:code 4821", esm: 0x04)
        store(writer(url), [r])
        XCTAssertEqual(try db.execute("SELECT outcome, order_id, otp_code, receipt_message_id, receipt_stat, receipt_err FROM messages").rows,
                       [["receipt", nil, nil, "77AB", "UNDELIV", "011"]])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM otp_codes").rows.first?.first, "0")
        XCTAssertEqual(try db.execute("SELECT count(*) FROM storefront_v1_messages").rows.first?.first, "0")
        usleep(200_000)
        XCTAssertEqual(try listener.notifications().count, 0, "never announced as an SMS")
    }

    /// A real message with a 21-character sender: kept with its fields, reason and PDU.
    func testAMalformedMessageIsKeptAsEvidence() throws {
        let (url, db) = try migrated()
        lease(1, from: -600, to: 600)
        var m = ShortMessage()
        m.sourceAddrTON = .international
        m.sourceAddr = COctetString("447700900999123456789")  // 21 digits: over the limit of 20
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = COctetString(Self.number)
        m.shortMessage = GSM7.encodeUnpacked("Your code is 5150")!
        let bytes = PDU(.deliverSM, sequenceNumber: 3, body: .shortMessage(m)).encode()
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try ShortMessageView(validating: $0) })
        let d = bytes.withUnsafeBytes { router.invalid(pdu: $0, reason: "string_too_long", receivedAt: nowMs) }
        let stored = StoredMessage(decision: d, bind: "c1-1", sourceTON: .international, destTON: .international, rawPDUs: [bytes])
        let w = writer(url)
        XCTAssertEqual(store(w, [stored]).map(\.status), [.ok])
        XCTAssertEqual(try db.execute("""
            SELECT outcome, invalid_reason, source_addr, destination_normalized, text, order_id, otp_code, raw_pdus[1] = $1::bytea
            FROM messages
            """, [.bytes(bytes)]).rows, [["invalid", "string_too_long", "447700900999123456789", Self.number, "Your code is 5150", nil, nil, "t"]])
        XCTAssertEqual(store(w, [stored]).map(\.duplicate), [true], "its redelivery is one too")
    }
}

extension DedupKey {
    var uuidString: String {
        let h = hex
        let c = Array(h)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20...])
    }
}
