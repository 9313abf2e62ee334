import Dispatch
import Foundation
import Routing
import SMPPWire
@testable import Store
import TestSupport
import XCTest

/// Builds real routing decisions: PDUs through a SessionRouter against a lease table.
struct Traffic {
    let router: SessionRouter
    let now: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)

    init() {
        let table = LeaseTable()
        let wa = table.serviceID("whatsapp")
        let s = UInt32(now / 1000)
        table.upsert(MSISDNKey("447700900123")!, Lease(orderID: 1001, service: wa, startsAt: s - 600, expiresAt: s + 600, version: 3))
        router = SessionRouter(carrier: CarrierProfile(name: "c1", plan: .uk), table: table, reassembler: Reassembler(), extractor: OTPExtractor())
    }

    func message(_ i: Int, to: String = "447700900123") -> StoredMessage {
        var m = ShortMessage()
        m.sourceAddrTON = .alphanumeric
        m.sourceAddr = "WhatsApp"
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = COctetString(to)
        m.shortMessage = GSM7.encodeUnpacked("Your WhatsApp code: \(100 + i % 900)-\(100 + i % 899)")!
        let bytes = PDU(.deliverSM, sequenceNumber: UInt32(i + 1), body: .shortMessage(m)).encode()
        return bytes.withUnsafeBytes { p in
            let v = try! ShortMessageView(validating: p)
            var ev: [InboundMessage] = []
            guard case .message(let msg) = router.accept(v, receivedAt: now, evicted: &ev) else { fatalError() }
            return StoredMessage(decision: router.decide(msg), bind: "c1-1", sourceTON: .alphanumeric, destTON: .international, rawPDUs: [bytes])
        }
    }
}

final class Acks: @unchecked Sendable {
    let lock = NSLock()
    var statuses: [CommandStatus] = []
    func add(_ s: CommandStatus) { lock.withLock { statuses.append(s) } }
    func add(_ r: BatchWriter.Result) { add(r.status) }
    var count: Int { lock.withLock { statuses.count } }
    var all: [CommandStatus] { lock.withLock { statuses } }
}


final class WriterTests: XCTestCase {
    /// A writer that waits up to 0.2 s for a batch to fill, so that what a test submits
    /// at once is one batch; stopped when the test ends.
    func oneBatchWriter(_ url: String) -> BatchWriter {
        var cfg = BatchWriter.Config(url: url)
        cfg.maxWait = 0.2
        let writer = BatchWriter(config: cfg)
        addTeardownBlock { writer.stop() }
        return writer
    }

    func migrated() throws -> (String, PostgresConnection) {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        return (url, db)
    }

    func testBatchesAreAckedAfterCommitAndNotified() throws {
        let (url, db) = try migrated()
        let listener = try PostgresConnection(url)
        try listener.listen("sms_received")
        let writer = BatchWriter(config: .init(url: url))
        defer { writer.stop() }
        let t = Traffic()
        let acks = Acks()
        for i in 0..<300 { writer.submit(.message(t.message(i))) { acks.add($0) } }
        XCTAssertTrue(waitUntil { acks.count == 300 })
        XCTAssertEqual(Set(acks.all), [.ok])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "300")
        XCTAssertEqual(try db.execute("SELECT count(*) FROM otp_codes WHERE order_id = 1001").rows.first?.first, "300")
        let row = try db.execute("SELECT outcome, order_id, lease_version, service, otp_code, destination_normalized, array_length(raw_pdus, 1) FROM messages LIMIT 1").rows.first!
        XCTAssertEqual(row, ["routed", "1001", "3", "whatsapp", row[4], "447700900123", "1"])
        XCTAssertNotNil(row[4])
        XCTAssertLessThan(writer.stats.batches, 300, "group commit: several rows per transaction")
        // Every routed message is announced once, with its id and order, in batched payloads.
        var announced: [[String: Any]] = []
        XCTAssertTrue(waitUntil {
            for (channel, payload) in (try? listener.notifications()) ?? [] where channel == "sms_received" {
                announced += (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [[String: Any]] ?? []
                XCTAssertLessThan(payload.utf8.count, 8000, "NOTIFY payload limit")
            }
            return announced.count >= 300
        }, "NOTIFY sms_received: \(announced.count) of 300")
        let ids = Set(announced.compactMap { $0["message_id"] as? Int })
        XCTAssertEqual(ids.count, 300)
        XCTAssertEqual(Set(announced.compactMap { $0["order_id"] as? Int }), [1001])
        let stored = Set(try db.execute("SELECT id FROM messages").rows.compactMap { $0[0].flatMap { Int($0) } })
        XCTAssertEqual(ids, stored)
    }

    func testNoAckBeforeCommit() throws {
        let (url, db) = try migrated()
        let writer = BatchWriter(config: .init(url: url))
        defer { writer.stop() }
        // Stall the commit: another transaction holds a lock the writer's insert needs.
        let locker = try PostgresConnection(url)
        try locker.execute("BEGIN")
        try locker.execute("LOCK TABLE message_dedup IN EXCLUSIVE MODE")
        let acks = Acks()
        let t = Traffic()
        for i in 0..<5 { writer.submit(.message(t.message(i))) { acks.add($0) } }
        usleep(500_000)  // a negative check: nothing may be acked while the commit is stalled
        XCTAssertEqual(acks.count, 0, "acked before commit")
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "0")
        try locker.execute("COMMIT")
        XCTAssertTrue(waitUntil { acks.count == 5 })
        XCTAssertEqual(Set(acks.all), [.ok])
    }

    func testRedeliveryIsAckedAndStoredOnce() throws {
        let (url, db) = try migrated()
        let writer = BatchWriter(config: .init(url: url))
        defer { writer.stop() }
        let t = Traffic()
        let m = t.message(7)
        let acks = Acks()
        writer.submit(.message(m)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 1 })
        writer.submit(.message(m)) { acks.add($0) }  // the SMSC redelivers
        XCTAssertTrue(waitUntil { acks.count == 2 })
        XCTAssertEqual(acks.all, [.ok, .ok])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "1")
        XCTAssertEqual(writer.stats.duplicates, 1)
        // The dispute lookup of docs/storefront-contract.md: from a PDU's key to its message.
        let found = try db.execute("""
            SELECT m.id, m.destination_addr FROM message_dedup d
            JOIN messages m ON m.id = d.message_id AND m.received_at = d.received_at WHERE d.dedup_key = $1::uuid
            """, [.text(m.decision.dedupKey.description)]).rows
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?[1], m.decision.destinationRaw)
        XCTAssertEqual(found.first?[0], try db.execute("SELECT id::text FROM messages").rows.first?.first)
    }

    /// A batch is first written with plain inserts. A redelivered key among new ones
    /// fails that one statement; the batch is rolled back and written again with
    /// ON CONFLICT DO NOTHING: the new messages stored, the redelivery acked and
    /// stored once. Redeliveries come in runs, so batches stay on ON CONFLICT for a
    /// while (the second batch below needs no second attempt).
    func testARedeliveryAmongNewMessagesIsRetriedWithOnConflict() throws {
        let (url, db) = try migrated()
        let writer = oneBatchWriter(url)  // each round below is one batch
        let t = Traffic()
        let acks = Acks()
        for i in 0..<10 { writer.submit(.message(t.message(i))) { acks.add($0) } }
        XCTAssertTrue(waitUntil { acks.count == 10 })
        XCTAssertEqual(writer.stats.dedupRetries, 0)
        XCTAssertEqual(writer.stats.batches, 1)
        let redelivery = Acks()
        for i in [3] + Array(10..<20) { writer.submit(.message(t.message(i))) { redelivery.add($0) } }
        XCTAssertTrue(waitUntil { redelivery.count == 11 })
        XCTAssertEqual(redelivery.all, Array(repeating: .ok, count: 11))
        XCTAssertEqual(writer.stats.dedupRetries, 1)
        XCTAssertEqual(writer.stats.duplicates, 1)
        XCTAssertEqual(writer.stats.failures, 0, "a redelivery is not a failed batch")
        XCTAssertEqual(try db.execute("SELECT count(*), count(DISTINCT dedup_key) FROM messages").rows.first, ["20", "20"])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM message_dedup").rows.first?.first, "20")
        // The next batch with a redelivery is written with ON CONFLICT straight away.
        let again = Acks()
        for i in [5, 20, 21] { writer.submit(.message(t.message(i))) { again.add($0) } }
        XCTAssertTrue(waitUntil { again.count == 3 })
        XCTAssertEqual(again.all, [.ok, .ok, .ok])
        XCTAssertEqual(writer.stats.dedupRetries, 1)
        XCTAssertEqual(writer.stats.duplicates, 2)
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "22")
    }

    /// The same PDU twice in one batch (a fast redelivery), and text that needs
    /// escaping in an array literal: stored once, byte for byte.
    func testDuplicateWithinOneBatchAndAwkwardTextRoundTrip() throws {
        let (url, db) = try migrated()
        let writer = oneBatchWriter(url)  // one batch for everything below
        var m = Traffic().message(3)
        m.decision.text = #"quote " backslash \ brace {x} comma, NULL ünïcødé 😀 \#u{0} end"#
        m.rawPDUs = [[0x00, 0x5C, 0x22, 0x7B, 0xFF], [0x01]]
        let acks = Acks()
        for _ in 0..<3 { writer.submit(.message(m)) { acks.add($0) } }
        XCTAssertTrue(waitUntil { acks.count == 3 })
        XCTAssertEqual(acks.all, [.ok, .ok, .ok])
        let rows = try db.execute("SELECT text, encode(raw_pdus[1], 'hex'), encode(raw_pdus[2], 'hex'), missing_parts::text FROM messages").rows
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?[0], #"quote " backslash \ brace {x} comma, NULL ünïcødé 😀 \#u{FFFD} end"#)
        XCTAssertEqual(rows.first?[1], "005c227bff")
        XCTAssertEqual(rows.first?[2], "01")
        XCTAssertEqual(rows.first?[3], "{}")
        XCTAssertEqual(writer.stats.duplicates, 2)
    }

    /// The columns go over in PostgreSQL's binary array form: every one of them,
    /// NULLs and edge values included, reads back as it was submitted.
    func testEveryColumnRoundTripsThroughTheBinaryArrays() throws {
        let (url, db) = try migrated()
        let writer = oneBatchWriter(url)
        let t = Traffic()
        var routed = t.message(1)
        routed.decision.receivedAt = 1_780_000_123_456  // 2026-05-28T20:28:43.456Z
        routed.decision.orderID = UInt64(Int64.max)
        routed.decision.leaseVersion = UInt32(Int32.max)
        routed.decision.confidence = 0.875
        routed.decision.partCount = 3
        routed.decision.missingParts = [2]
        routed.rawPDUs = [[0x01, 0x02], [0xFF]]
        var bare = t.message(2, to: "449999999999")
        bare.decision.orderID = nil
        bare.decision.leaseVersion = nil
        bare.decision.service = nil
        bare.decision.code = nil
        bare.decision.confidence = nil
        bare.decision.rule = nil
        bare.decision.textInvalid = true
        bare.decision.serviceMismatch = true
        bare.decision.text = ""
        let acks = Acks()
        for m in [routed, bare] { writer.submit(.message(m)) { acks.add($0) } }
        XCTAssertTrue(waitUntil { acks.count == 2 })
        XCTAssertEqual(acks.all, [.ok, .ok])
        let cols = """
            to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'), carrier, bind, source_addr, source_ton,
            source_normalized, destination_addr, destination_ton, destination_normalized, order_id, lease_version, service,
            outcome, service_mismatch, data_coding, text, text_invalid, otp_code, otp_confidence, otp_rule, part_count,
            missing_parts::text, dedup_key::text, array_to_string(ARRAY(SELECT encode(p, 'hex') FROM unnest(raw_pdus) p), ',')
            """
        let a = try db.execute("SELECT \(cols) FROM messages WHERE dedup_key = $1::uuid", [.text(routed.decision.dedupKey.hex)]).rows
        let d = routed.decision
        func uuid(_ h: String) -> String {
            let c = Array(h)
            return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(c[$0]) }.joined(separator: "-")
        }
        XCTAssertEqual(a.first, ["2026-05-28T20:28:43.456", "c1", "c1-1", "WhatsApp", "5", BatchSQL.normalized(d.source), "447700900123", "1",
                                 "447700900123", "9223372036854775807", "2147483647", "whatsapp", "routed", "f", "0", d.text, "f", d.code,
                                 "0.875", d.rule, "3", "{2}", uuid(d.dedupKey.hex), "0102,ff"])
        let b = try db.execute("SELECT \(cols) FROM messages WHERE dedup_key = $1::uuid", [.text(bare.decision.dedupKey.hex)]).rows
        XCTAssertEqual(b.first?[9], nil)  // order_id
        XCTAssertEqual(b.first?[10], nil)
        XCTAssertEqual(b.first?[11], nil)
        XCTAssertEqual(Array(b.first?[12...21] ?? []), [bare.decision.outcome.rawValue, "t", "0", "", "t", nil, nil, nil, "1", "{}"])
        XCTAssertEqual(b.first?[23], bare.rawPDUs[0].map { String(format: "%02x", $0) }.joined())
    }

    /// One batch of one-part and multi-part messages, interleaved: each multi-part
    /// message's PDUs travel as its slice of one bytea[] for the batch, and each
    /// message gets exactly its own, in order (an empty PDU and an empty list included).
    func testEachMessageOfABatchGetsItsOwnRawPDUs() throws {
        let (url, db) = try migrated()
        let writer = oneBatchWriter(url)  // one batch
        let t = Traffic()
        let shapes: [[[UInt8]]] = [[[0x0A]], [[0x01], [0x02, 0x03], [0x04]], [[0x0B, 0x0C]], [[], [0x05]], [[0x06], [0x07]], [[0x0D]], []]
        var sent: [(DedupKey, [[UInt8]])] = []
        let acks = Acks()
        for (i, pdus) in shapes.enumerated() {
            var m = t.message(i)
            m.rawPDUs = pdus
            sent.append((m.decision.dedupKey, pdus))
            writer.submit(.message(m)) { acks.add($0) }
        }
        XCTAssertTrue(waitUntil { acks.count == shapes.count })
        XCTAssertEqual(acks.all, Array(repeating: .ok, count: shapes.count))
        XCTAssertEqual(writer.stats.batches, 1)
        for (key, pdus) in sent {
            let got = try db.execute("""
                SELECT coalesce(array_length(raw_pdus, 1), 0), array_to_string(ARRAY(SELECT encode(p, 'hex') FROM unnest(raw_pdus) p), ',')
                FROM messages WHERE dedup_key = $1::uuid
                """, [.text(key.hex)]).rows
            XCTAssertEqual(got.first, [String(pdus.count), pdus.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: ",")])
        }
    }

    func testUnreachableDatabaseAnswersTemporaryErrorAfterTheDeadline() throws {
        var cfg = BatchWriter.Config(url: "host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=1")
        cfg.commitDeadline = 0.5
        cfg.reconnectDelay = 0.05
        let writer = BatchWriter(config: cfg)
        defer { writer.stop(timeout: 2) }
        let acks = Acks()
        writer.submit(.message(Traffic().message(1))) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 1 })
        XCTAssertEqual(acks.all, [.temporaryAppError], "never ESME_ROK for something not committed")
    }

    /// PostgreSQL dies mid-stream and comes back: every message acked ESME_ROK is in the
    /// table exactly once, the writer recovers by itself, and what could not be
    /// committed in time was answered with a temporary error (the SMSC retries those).
    func testDatabaseRestartMidStreamLosesNothing() throws {
        _ = try TestDatabase.server.get()  // PostgreSQL is up: the test restarts it
        let (url, _) = try migrated()
        var cfg = BatchWriter.Config(url: url)
        cfg.commitDeadline = 30
        cfg.reconnectDelay = 0.1
        let writer = BatchWriter(config: cfg)
        defer { writer.stop() }
        let t = Traffic()
        let acks = Acks()
        let okKeys = Box()
        for i in 0..<2000 {
            let m = t.message(i, to: "4477009\(String(format: "%05d", i))")
            writer.submit(.message(m)) { s in
                acks.add(s)
                if s.status == .ok { okKeys.add([m.decision.dedupKey.hex]) }
            }
            if i == 700 { try TestDatabase.restart(downFor: 1) }
        }
        XCTAssertTrue(waitUntil(60) { acks.count == 2000 }, "\(acks.count) of 2000 answered")
        let db = try PostgresConnection(url)
        let stored = try db.execute("SELECT replace(dedup_key::text, '-', '') FROM messages").rows.compactMap { $0[0] }
        XCTAssertEqual(stored.count, Set(stored).count, "no duplicates")
        let acked = Set(okKeys.values)
        XCTAssertTrue(acked.isSubset(of: Set(stored)), "acked but missing: \(acked.subtracting(Set(stored)).count)")
        XCTAssertEqual(acks.all.filter { $0 == .ok }.count, 2000, "all committed after recovery (deadline not reached)")
        XCTAssertGreaterThanOrEqual(writer.stats.reconnects, 1, "\(writer.stats)")
    }

    func testPartsArePersistedAndRestorable() throws {
        let (url, db) = try migrated()
        let writer = BatchWriter(config: .init(url: url))
        defer { writer.stop() }
        let key = PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: 42, referenceBits: 8, total: 2)
        let part = Part(key: key, sequence: 2, dataCoding: 0, body: GSM7.encodeUnpacked("your Google code.")!, rawPDU: [1, 2, 3], receivedAt: 1_800_000_000_000)
        let acks = Acks()
        writer.submit(.part(part, dedupKey: DedupKey.part(part))) { acks.add($0) }
        writer.submit(.part(part, dedupKey: DedupKey.part(part))) { acks.add($0) }  // redelivered part
        XCTAssertTrue(waitUntil { acks.count == 2 })
        XCTAssertEqual(try db.execute("SELECT count(*) FROM message_parts").rows.first?.first, "1")
        // After a restart: the stored part rebuilds the reassembler; the next part completes the message.
        let restored = try PartStore.pending(db)
        XCTAssertEqual(restored, [part])
        // Streamed a chunk at a time, as the bridge restores at start: the same parts, in order.
        let other = Part(key: PartKey(carrier: "c1", source: "Google", destination: "447700900124", reference: 43, referenceBits: 8, total: 2),
                         sequence: 1, dataCoding: 0, body: [0x41], rawPDU: [5], receivedAt: 1_800_000_000_500)
        writer.submit(.part(other, dedupKey: DedupKey.part(other))) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 3 })
        var chunks: [[Part]] = []
        try PartStore.pending(db, chunk: 1) { chunks.append($0) }
        XCTAssertEqual(chunks, [[part], [other]])
        try db.execute("DELETE FROM message_parts WHERE destination_addr = '447700900124'")
        acks.lock.withLock { acks.statuses.removeLast() }
        let r = Reassembler()
        XCTAssertTrue(r.restore(restored).isEmpty)
        var ev: [AssembledMessage] = []
        let first = Part(key: key, sequence: 1, dataCoding: 0, body: GSM7.encodeUnpacked("G-123456 is ")!, rawPDU: [4], receivedAt: 1_800_000_001_000)
        guard case .complete(let m) = r.add(first, evicted: &ev) else { return XCTFail("not completed") }
        XCTAssertEqual(m.decodeText().text, "G-123456 is your Google code.")
        // Storing the assembled message marks its parts consumed: a later restart rebuilds nothing.
        var stored = Traffic().message(1)
        stored.parts = [part]
        writer.submit(.message(stored)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 3 })
        XCTAssertEqual(try PartStore.pending(db), [])
    }

    /// What a bridge asks the store about a message it holds parts of: the other
    /// bridges' pending parts of that message, and which of its own parts a stored
    /// message consumed. Consumed parts of other messages sharing the key, and this
    /// bridge's parts still pending, are neither.
    func testTheStoreAnswersPendingPartsByMessageAndConsumedOnesByKey() throws {
        let (url, db) = try migrated()
        let writer = oneBatchWriter(url)
        let key = PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: 9, referenceBits: 8, total: 3)
        func part(_ seq: UInt8, _ text: String, at: UInt64) -> Part {
            Part(key: key, sequence: seq, dataCoding: 0, body: GSM7.encodeUnpacked(text)!, rawPDU: [seq], receivedAt: at)
        }
        // An earlier message under the same key, stored whole: its parts are consumed.
        let old = [part(1, "G-111111 ", at: 1_800_000_000_000), part(2, "is your ", at: 1_800_000_000_001), part(3, "code", at: 1_800_000_000_002)]
        var stored = Traffic().message(1)
        stored.parts = old
        stored.rawPDUs = [[1], [2], [3]]
        // Another bridge's pending part of a new message under that key.
        let theirs = part(2, "is now your ", at: 1_800_000_100_000)
        let acks = Acks()
        writer.submit(.message(stored)) { acks.add($0) }
        writer.submit(.part(theirs, dedupKey: DedupKey.part(theirs))) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 2 })
        XCTAssertEqual(acks.all, [.ok, .ok])
        // This bridge holds a redelivery of the old message's part 1 and a new part 3.
        let mine = [old[0], part(3, "code.", at: 1_800_000_100_001)]
        let answer = try PartStore.parts(of: key, consumedAmong: mine.map(DedupKey.part), db)
        XCTAssertEqual(answer.open, [theirs])
        XCTAssertEqual(answer.consumed, [DedupKey.part(old[0])])
        XCTAssertEqual(try PartStore.parts(of: key, consumedAmong: [], db).consumed, [])
        // Only the pending row is in the by-message index.
        XCTAssertEqual(try db.execute("""
            SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'message_parts_message_idx'::regclass
            """).rows.first?.first, "(message_dedup_key IS NULL)")
    }

    /// The usual case at load: a part and the part completing its message reach one
    /// batch. The first part's row is written once, already consumed, instead of being
    /// inserted pending and then updated; both are acked after the COMMIT.
    func testAPartCompletedInTheSameBatchIsWrittenOnceAsConsumed() throws {
        let (url, db) = try migrated()
        let writer = oneBatchWriter(url)  // one batch for both
        let key = PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: 7, referenceBits: 8, total: 2)
        let p1 = Part(key: key, sequence: 1, dataCoding: 0, body: GSM7.encodeUnpacked("G-123456 is ")!, rawPDU: [1], receivedAt: 1_800_000_000_000)
        let p2 = Part(key: key, sequence: 2, dataCoding: 0, body: GSM7.encodeUnpacked("your code.")!, rawPDU: [2], receivedAt: 1_800_000_000_001)
        var message = Traffic().message(1)
        message.parts = [p1, p2]
        message.rawPDUs = [[1], [2]]
        let acks = Acks()
        writer.submit(.part(p1, dedupKey: DedupKey.part(p1))) { acks.add($0) }
        writer.submit(.message(message)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 2 })
        XCTAssertEqual(acks.all, [.ok, .ok])
        XCTAssertEqual(writer.stats.batches, 1)
        let rows = try db.execute("SELECT dedup_key::text, message_dedup_key::text, ctid::text FROM message_parts ORDER BY ctid").rows
        XCTAssertEqual(rows.count, 2)
        for r in rows { XCTAssertEqual(r[1].flatMap { DedupKey(uuid: $0) }, message.decision.dedupKey, "every part consumed by the message") }
        // A fresh table written by inserts only holds its rows at (0,1), (0,2); an
        // insert-then-update would have left the live version of one at (0,3).
        XCTAssertEqual(rows.map { $0[2] }, ["(0,1)", "(0,2)"])
        XCTAssertEqual(try PartStore.pending(db), [])
        XCTAssertEqual(try db.execute("SELECT array_length(raw_pdus, 1) FROM messages").rows.first, ["2"])
        // Written consumed, a part row holds no copy of the PDU: the message's raw_pdus has it.
        XCTAssertEqual(try db.execute("SELECT length(body), length(raw_pdu) FROM message_parts").rows, [["0", "0"], ["0", "0"]])
        XCTAssertEqual(try db.execute("SELECT encode(raw_pdus[1], 'hex'), encode(raw_pdus[2], 'hex') FROM messages").rows.first, ["01", "02"])
        // The SMSC redelivers the completing part: the message is a duplicate, and its
        // parts, already consumed by it, are not rewritten.
        writer.submit(.message(message)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 3 })
        XCTAssertEqual(acks.all, [.ok, .ok, .ok])
        XCTAssertEqual(try db.execute("SELECT ctid::text FROM message_parts ORDER BY ctid").rows.map { $0[0] }, ["(0,1)", "(0,2)"])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "1")
    }

    /// A new message that reuses a finished message's reference and repeats one of its
    /// parts exactly (the same template's tail to the same number). That part's row
    /// exists, consumed by the first message: written again pending it is absorbed
    /// (and acked), and the new message that completes with it is stored.
    func testANewMessageSharingAPartWithAFinishedOneIsStored() throws {
        let (url, db) = try migrated()
        let writer = BatchWriter(config: BatchWriter.Config(url: url))
        defer { writer.stop() }
        let key = PartKey(carrier: "c1", source: "Amazon", destination: "447700900123", reference: 221, referenceBits: 8, total: 2)
        func part(_ seq: UInt8, _ text: String, at: UInt64) -> Part {
            Part(key: key, sequence: seq, dataCoding: 0, body: GSM7.encodeUnpacked(text)!, rawPDU: [seq], receivedAt: at)
        }
        let tail = part(2, " It expires in 10 minutes.", at: 1_800_000_000_001)
        var first = Traffic().message(1)
        first.parts = [part(1, "Your code is 997387.", at: 1_800_000_000_000), tail]
        first.rawPDUs = [[1], [2]]
        var second = Traffic().message(2)
        let repeated = part(2, " It expires in 10 minutes.", at: 1_800_000_014_000)
        XCTAssertEqual(DedupKey.part(repeated), DedupKey.part(tail), "the same part, as far as its content can tell")
        second.parts = [part(1, "Your code is 120455.", at: 1_800_000_014_001), repeated]
        second.rawPDUs = [[1], [2]]
        let acks = Acks()
        writer.submit(.message(first)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 1 })
        writer.submit(.part(repeated, dedupKey: DedupKey.part(repeated))) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 2 })
        writer.submit(.message(second)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 3 })
        XCTAssertEqual(acks.all, [.ok, .ok, .ok])
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "2")
        XCTAssertEqual(try db.execute("SELECT count(*) FROM message_parts").rows.first?.first, "3")
        XCTAssertEqual(try PartStore.pending(db), [], "every part consumed")
    }

    /// A statement that fails inside the batch's transaction (here a deadlock) leaves
    /// the session in an aborted transaction: the pipeline skips the COMMIT. The retry
    /// must start clean; it used to fail at its BEGIN (25P02) and answer the whole
    /// batch with a temporary error although the database was fine.
    func testABatchThatDeadlockedIsRolledBackAndRetried() throws {
        let (url, db) = try migrated()
        var cfg = BatchWriter.Config(url: url)
        cfg.connections = 1
        cfg.maxWait = 0.05  // both messages in one batch
        let writer = BatchWriter(config: cfg)
        defer { writer.stop() }
        let t = Traffic()
        let pair = [t.message(1), t.message(2)].sorted { $0.decision.dedupKey < $1.decision.dedupKey }
        let (first, second) = (pair[0].decision.dedupKey.hex, pair[1].decision.dedupKey.hex)
        // The other transaction holds the key the batch inserts second, and its deadlock
        // check runs later than the writer's, so the writer is the one PostgreSQL aborts.
        let locker = try PostgresConnection(url)
        try locker.execute("SET deadlock_timeout = '10s'")
        try locker.execute("BEGIN")
        try locker.execute("INSERT INTO message_dedup VALUES ($1::uuid, now())", [.text(second)])
        let acks = Acks()
        for m in pair { writer.submit(.message(m)) { acks.add($0) } }
        usleep(300_000)  // the batch now holds `first` and waits for `second`
        let blocked = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? locker.execute("INSERT INTO message_dedup VALUES ($1::uuid, now())", [.text(first)])
            blocked.signal()
        }
        // The writer's own deadlock check (1 s) aborts its statement; once it rolls back,
        // the locker gets `first`, and then gives both keys up.
        XCTAssertEqual(blocked.wait(timeout: .now() + 20), .success, "the writer kept its aborted transaction open")
        XCTAssertTrue(waitUntil { writer.stats.failures >= 1 }, "no deadlock was reported")
        try locker.execute("ROLLBACK")
        XCTAssertTrue(waitUntil { acks.count == 2 })
        XCTAssertEqual(acks.all, [.ok, .ok], "the retry after the rollback commits: \(writer.stats.lastError ?? "")")
        XCTAssertEqual(writer.stats.temporaryErrors, 0)
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, "2")
    }

    /// Two writer connections (or two bridges) whose batches cross: each has a part
    /// pending that the other's message consumes. Written as two statements (pending,
    /// then consumed) they waited for each other until PostgreSQL's deadlock check broke
    /// the cycle a second later (seen in make bench); one statement in key order cannot.
    func testCrossingPartsInConcurrentBatchesDoNotDeadlock() throws {
        let (url, db) = try migrated()
        var cfg = BatchWriter.Config(url: url)
        cfg.connections = 1
        cfg.maxWait = 0.005
        let w1 = BatchWriter(config: cfg), w2 = BatchWriter(config: cfg)
        defer { w1.stop(); w2.stop() }
        let t = Traffic()
        let acks = Acks()
        let rounds = 40
        func parts(_ ref: Int) -> [Part] {
            let key = PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: UInt16(ref), referenceBits: 16, total: 2)
            return [Part(key: key, sequence: 1, dataCoding: 0, body: GSM7.encodeUnpacked("G-\(ref) is ")!, rawPDU: [1], receivedAt: t.now),
                    Part(key: key, sequence: 2, dataCoding: 0, body: GSM7.encodeUnpacked("your code.")!, rawPDU: [2], receivedAt: t.now)]
        }
        for r in 0..<rounds {
            let p = parts(2 * r), q = parts(2 * r + 1)
            var m = t.message(2 * r), n = t.message(2 * r + 1)
            m.parts = p; m.rawPDUs = [[1], [2]]
            n.parts = q; n.rawPDUs = [[1], [2]]
            w1.submit(.part(p[0], dedupKey: DedupKey.part(p[0]))) { acks.add($0) }
            w2.submit(.part(q[0], dedupKey: DedupKey.part(q[0]))) { acks.add($0) }
            w1.submit(.message(n)) { acks.add($0) }
            w2.submit(.message(m)) { acks.add($0) }
            XCTAssertTrue(waitUntil(30) { acks.count == 4 * (r + 1) })
        }
        XCTAssertEqual(Set(acks.all), [.ok])
        XCTAssertEqual(w1.stats.failures + w2.stats.failures, 0, "\(w1.stats.lastError ?? w2.stats.lastError ?? "")")
        XCTAssertEqual(try db.execute("SELECT count(*) FROM messages").rows.first?.first, String(2 * rounds))
        XCTAssertEqual(try db.execute("SELECT count(*), count(message_dedup_key) FROM message_parts").rows.first, [String(4 * rounds), String(4 * rounds)])
    }
}

final class LeaseSyncTests: XCTestCase {
    /// A fresh migrated database holding `count` active whatsapp leases, order ids
    /// 1...count on the numbers 447700000001 onwards.
    private func migratedWithLeases(_ count: Int) throws -> (String, PostgresConnection) {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        try db.execute("""
            INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at)
            SELECT g, (447700000000 + g)::text, 'whatsapp', now() - interval '1 minute', now() + interval '20 minutes'
            FROM generate_series(1, \(count)) g
            """)
        return (url, db)
    }

    /// `migratedWithLeases`, with a lease sync started on it (stopped after the test).
    private func syncing(_ leases: Int, reconcileInterval: Double = 3600) throws -> (PostgresConnection, LeaseTable, LeaseSync) {
        let (url, db) = try migratedWithLeases(leases)
        let table = LeaseTable()
        let sync = LeaseSync(url: url, table: table, reconcileInterval: reconcileInterval)
        try sync.start()
        addTeardownBlock { sync.stop() }
        return (db, table, sync)
    }

    func testLoadThenNotifyThenReloadAfterReconnect() throws {
        let (url, db) = try migratedWithLeases(5000)
        try db.execute("INSERT INTO leases (order_id, msisdn, service, status, starts_at, expires_at) VALUES (9000, '447700999999', 'telegram', 'ended', now() - interval '1 hour', now() + interval '1 hour')")
        let table = LeaseTable()
        let sync = LeaseSync(url: url, table: table, reconcileInterval: 3600)
        try sync.start()
        defer { sync.stop() }
        XCTAssertTrue(sync.isLoaded)
        XCTAssertEqual(table.count, 5001)
        let r = table.makeReader()
        let now = UInt32(Date().timeIntervalSince1970)
        guard case .active(let l) = r.lookup(MSISDNKey("447700000042")!, at: now) else { return XCTFail("not active") }
        XCTAssertEqual(l.orderID, 42)
        if case .active = r.lookup(MSISDNKey("447700999999")!, at: now) { XCTFail("an ended lease must not match") }

        // A new lease reaches the table through NOTIFY within a bounded time.
        try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (7777, '447711111111', 'google', now(), now() + interval '20 minutes')")
        XCTAssertTrue(waitUntil(5) { if case .active(let l) = r.lookup(MSISDNKey("447711111111")!, at: now + 1), l.orderID == 7777 { return true }; return false })
        // Ending it early reaches the table too.
        try db.execute("UPDATE leases SET status = 'ended', updated_at = now(), version = version + 1 WHERE order_id = 7777")
        XCTAssertTrue(waitUntil(5) { if case .expired(let l) = r.lookup(MSISDNKey("447711111111")!, at: now + 2), l.orderID == 7777 { return true }; return false })
        XCTAssertGreaterThanOrEqual(sync.stats.changesApplied, 2)

        // The listener's connection dies; a change made meanwhile is picked up by the reload.
        try db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'smpp-bridge-leases'")
        try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (8888, '447722222222', 'uber', now(), now() + interval '20 minutes')")
        XCTAssertTrue(waitUntil(10) { if case .active(let l) = r.lookup(MSISDNKey("447722222222")!, at: now + 1), l.orderID == 8888 { return true }; return false })
        XCTAssertTrue(waitUntil(5) { sync.stats.reconnects >= 1 && sync.stats.fullLoads >= 2 })
    }

    /// Changes whose notifications never came (the trigger disabled) are found by the
    /// periodic reconcile and corrected in place, without a full reload.
    func testReconcileCorrectsLostChangesInPlace() throws {
        let (db, table, sync) = try syncing(1000, reconcileInterval: 1)
        try db.execute("ALTER TABLE leases DISABLE TRIGGER leases_changed")
        try db.execute("UPDATE leases SET order_id = 50000, version = version + 1 WHERE order_id = 5")   // handed to a new order
        try db.execute("DELETE FROM leases WHERE order_id = 6")
        try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (7777, '447711111111', 'google', now() - interval '1 minute', now() + interval '20 minutes')")
        // An older lease of a renting number: the table must keep the later one.
        try db.execute("INSERT INTO leases (order_id, msisdn, service, status, starts_at, expires_at) VALUES (6666, '447700000008', 'uber', 'ended', now() - interval '3 hours', now() - interval '2 hours')")
        let r = table.makeReader()
        let now = UInt32(Date().timeIntervalSince1970)
        XCTAssertTrue(waitUntil(10) { sync.stats.reconcileCorrections >= 3 }, "\(sync.stats)")
        guard case .active(let five) = r.lookup(MSISDNKey("447700000005")!, at: now) else { return XCTFail("not active") }
        XCTAssertEqual(five.orderID, 50000)
        if case .active = r.lookup(MSISDNKey("447700000006")!, at: now + 2) { XCTFail("a deleted lease must end") }
        guard case .active(let new) = r.lookup(MSISDNKey("447711111111")!, at: now) else { return XCTFail("not added") }
        XCTAssertEqual(new.orderID, 7777)
        guard case .active(let eight) = r.lookup(MSISDNKey("447700000008")!, at: now) else { return XCTFail("the later lease must stay") }
        XCTAssertEqual(eight.orderID, 8)
        XCTAssertTrue(waitUntil(5) { sync.stats.reconciles >= 2 })
        let st = sync.stats
        XCTAssertEqual(st.fullLoads, 1, "corrected in place, not reloaded")
        XCTAssertEqual(st.reconcileCorrections, 3, "unchanged leases are not counted, and a later pass finds nothing new")
        XCTAssertEqual(table.count, 1001)
        XCTAssertTrue(waitUntil(2) { table.retiredGenerations == 0 })
    }

    /// Numbers no longer leased at all (nothing for them in the last day) keep their
    /// slots when reconciled in place; once they are a quarter of the table, the
    /// reconcile compacts it with a full reload.
    func testReconcileCompactsATableOfDeadNumbers() throws {
        let (db, table, sync) = try syncing(1000, reconcileInterval: 1)
        try db.execute("ALTER TABLE leases DISABLE TRIGGER leases_changed")
        try db.execute("UPDATE leases SET starts_at = now() - interval '3 days', expires_at = now() - interval '2 days' WHERE order_id <= 300")
        XCTAssertTrue(waitUntil(10) { sync.stats.fullLoads >= 2 }, "\(sync.stats)")
        XCTAssertEqual(table.count, 700, "the dead numbers are gone")
        XCTAssertGreaterThanOrEqual(sync.stats.reconciles, 1)
        let now = UInt32(Date().timeIntervalSince1970)
        XCTAssertEqual(table.makeReader().lookup(MSISDNKey("447700000042")!, at: now), .unknown)
        if case .active = table.makeReader().lookup(MSISDNKey("447700000542")!, at: now) {} else { XCTFail("a live lease stays") }
    }

    /// A reload while a session is routing with the table: the generation it replaced
    /// is freed as soon as that reader lets go, not at the next lease change or
    /// reconcile (a 1M-lease generation is 46 MB: it kept RSS 31 MiB higher for 5 minutes).
    func testAReloadFreesTheReplacedGenerationOnceItsReaderLetsGo() throws {
        let (db, table, sync) = try syncing(1000)
        let reader = table.makeReader()
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), released = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            reader.withSnapshot { _ in holding.signal(); release.wait() }
            released.signal()
        }
        holding.wait()
        // A reconnect reloads the table while the reader holds the generation in use.
        try db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'smpp-bridge-leases'")
        XCTAssertTrue(waitUntil(10) { sync.stats.fullLoads >= 2 })
        XCTAssertEqual(table.retiredGenerations, 1, "the replaced generation is still held by the reader")
        release.signal()
        released.wait()
        XCTAssertTrue(waitUntil(2) { table.retiredGenerations == 0 }, "freed with no other write to the table")
        XCTAssertEqual(table.count, 1000)
    }
}

/// The writer's queue: a batch goes when it has its target or when its oldest item has
/// waited `maxWait`, whichever is first. The bounds below are seconds apart, not timings.
final class WorkQueueTests: XCTestCase {
    /// `take` on another thread, as a writer worker calls it.
    final class Taker: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private(set) var batch: [Int]?
        init(_ q: WorkQueue<Int>, max: Int, maxWait: Double) {
            DispatchQueue.global().async { self.batch = q.take(max: max, maxWait: maxWait); self.done.signal() }
            usleep(100_000)  // it is waiting in take by now
        }
        func returned(within seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
    }

    func testAFullBatchWakesTheWaitingWorker() {
        let q = WorkQueue<Int>(target: 4)
        q.push(1)
        let taker = Taker(q, max: 4, maxWait: 30)
        for i in 2...4 { q.push(i) }
        XCTAssertTrue(taker.returned(within: 10), "a full batch must not wait for maxWait (30 s)")
        XCTAssertEqual(taker.batch, [1, 2, 3, 4])
    }

    /// A batch goes once it has its target: it does not wait for `max` (the SMSCs'
    /// windows may never let that many arrive before it commits), and it takes what
    /// came meanwhile, up to `max`.
    func testATargetBatchGoesWithoutWaitingForMax() {
        let q = WorkQueue<Int>(target: 3)
        q.push(1)
        let taker = Taker(q, max: 1000, maxWait: 30)
        XCTAssertFalse(taker.returned(within: 0.5), "one item of a target of three waits for more")
        q.push(2)
        q.push(3)
        XCTAssertTrue(taker.returned(within: 10), "three items must not wait for maxWait (30 s) or max (1000)")
        XCTAssertEqual(taker.batch, [1, 2, 3])
        for i in 4...10 { q.push(i) }
        XCTAssertEqual(q.take(max: 5, maxWait: 30), [4, 5, 6, 7, 8], "past the target: at most max")
        XCTAssertEqual(q.take(max: 2, maxWait: 30), [9, 10], "a max below the target is the target")
    }

    /// Below its target a batch waits `maxWait` from its first item, then goes as it is.
    func testABatchBelowTargetGoesAfterMaxWait() {
        let q = WorkQueue<Int>(target: 64)
        q.push(1)
        q.push(2)
        let start = Date()
        XCTAssertEqual(q.take(max: 1000, maxWait: 0.3), [1, 2])
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 0.2, "two items of a target of 64 wait for more, up to maxWait")
        XCTAssertLessThan(waited, 10)
    }

    /// What a worker took is the worker's alone: once its batch is done, nothing of
    /// it stays alive in the queue (a partial take included).
    func testTakenItemsAreNotKeptByTheQueue() {
        final class Item {}
        let q = WorkQueue<Item>(target: 100)
        weak var first: Item?
        weak var last: Item?
        do {
            let items = (0..<5).map { _ in Item() }
            first = items[0]
            last = items[4]
            for i in items { q.push(i) }
        }
        do {
            let some = q.take(max: 2, maxWait: 0)
            XCTAssertEqual(some?.count, 2)
        }
        XCTAssertNil(first, "a partly taken queue must not keep the taken items")
        XCTAssertNotNil(last)
        XCTAssertEqual(q.count, 3)
        do { XCTAssertEqual(q.take(max: 100, maxWait: 0)?.count, 3) }
        XCTAssertNil(last)
        XCTAssertEqual(q.count, 0)
    }

    /// Four sessions pushing, two workers taking (as the bridge runs it; under TSan in
    /// `make tsan`): every item is taken exactly once, and close() drains the rest.
    func testManyProducersAndTwoWorkersTakeEveryItemOnce() {
        let q = WorkQueue<Int>(target: 64)
        let producers = 4, each = 20_000
        let lock = NSLock()
        nonisolated(unsafe) var taken: [Int] = []
        let workers = DispatchGroup()
        for _ in 0..<2 {
            workers.enter()
            Thread.detachNewThread {
                var mine: [Int] = []
                while let batch = q.take(max: 64, maxWait: 0.001) { mine += batch }
                lock.withLock { taken += mine }
                workers.leave()
            }
        }
        DispatchQueue.concurrentPerform(iterations: producers) { p in
            for i in 0..<each { q.push(p * each + i) }
        }
        q.close()
        XCTAssertEqual(workers.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(lock.withLock { taken.count }, producers * each)
        XCTAssertEqual(lock.withLock { taken.sorted() }, Array(0..<producers * each))
        XCTAssertEqual(q.count, 0)
    }

    /// A carrier flooding the writer fills its own lane: another carrier's item goes
    /// in the next batch, not behind the flood.
    func testBatchesTakeTheLanesInTurn() {
        let q = WorkQueue<Int>(target: 4)
        for i in 0..<1000 { q.push(i, lane: 1) }  // the flood
        q.push(-1, lane: 2)
        q.push(-2, lane: 2)
        XCTAssertEqual(q.take(max: 4, maxWait: 0), [0, -1, 1, -2], "one from each lane in turn")
        XCTAssertEqual(q.take(max: 4, maxWait: 0), [2, 3, 4, 5], "a lane alone fills the batch")
        q.push(-3, lane: 2)
        XCTAssertEqual(q.take(max: 2, maxWait: 0), [6, -3], "a lane that was empty joins the turn: the next batch has its item")
        XCTAssertEqual(q.count, 1000 - 7)
    }

    /// A batch stops at its byte budget (the item that crosses it included), so large
    /// rows make smaller batches; a single item over the budget still goes.
    func testABatchStopsAtItsCost() {
        let q = WorkQueue<Int>(target: 100)
        for i in 0..<10 { q.push(i, lane: 1, cost: 65_536) }
        q.push(100, lane: 2, cost: 300)
        XCTAssertEqual(q.take(max: 100, maxCost: 200_000, maxWait: 0), [0, 100, 1, 2, 3], "196,908 bytes, then one over")
        XCTAssertEqual(q.take(max: 100, maxCost: 1, maxWait: 0), [4], "one item over the budget still goes")
        XCTAssertEqual(q.take(max: 100, maxCost: .max, maxWait: 0)?.count, 5)
    }

    func testItemsThatAlreadyWaitedAreTakenAtOnce() {
        let q = WorkQueue<Int>(target: 100)
        q.push(7)
        usleep(1_200_000)  // the worker comes late: the item has waited longer than maxWait already
        let start = Date()
        XCTAssertEqual(q.take(max: 100, maxWait: 1), [7])
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.9, "no second maxWait for an item that already waited")
        q.close()
        XCTAssertNil(q.take(max: 100, maxWait: 1))
    }
}
