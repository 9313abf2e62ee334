import Dispatch
import Foundation
import Routing
@testable import Store
import TestSupport
import XCTest

@testable import BridgeRuntime
@testable import BridgeDevTools
@testable import BridgeRuntime

final class MigrationTests: XCTestCase {
    func testMigrateFromEmptyAndAgain() throws {
        let db = try PostgresConnection(try TestDatabase.empty())
        XCTAssertEqual(try Migrator.pending(db), Migrations.all.map(\.version))
        XCTAssertEqual(try Migrator.migrate(db), Migrations.all.map(\.version))
        XCTAssertEqual(try db.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'message_dedup'::regclass AND attname = 'dedup_key'").rows.first?.first, "uuid")
        XCTAssertEqual(try Migrator.migrate(db), [], "re-running applies nothing")
        XCTAssertEqual(try Migrator.pending(db), [])
        let tables = try db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1").rows.compactMap { $0[0] }
        for t in ["leases", "messages", "message_dedup", "message_parts", "otp_codes", "bridge_schema_migrations"] {
            XCTAssertTrue(tables.contains(t), t)
        }
    }

    /// A fresh database with the migrations up to `version` applied, as an older
    /// bridge left it.
    private func database(at version: Int) throws -> PostgresConnection {
        let db = try PostgresConnection(try TestDatabase.empty())
        try db.execute("CREATE TABLE bridge_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for m in Migrations.all where m.version <= version {
            try db.executeScript(m.sql)
            try db.execute("INSERT INTO bridge_schema_migrations (version, name) VALUES ($1, $2)", [.text(String(m.version)), .text(m.name)])
        }
        return db
    }

    /// A database at version 3 keeps its messages findable from their keys: migration 4
    /// copies each message's id into its dedup row before dropping messages_dedup_idx.
    func testMigration4CopiesMessageIDsIntoTheDedupRows() throws {
        let db = try database(at: 3)
        try db.execute("SELECT bridge_ensure_month(now())")
        for k in ["00000000000000000000000000000001", "00000000000000000000000000000002"] {
            try db.execute("""
                WITH d AS (INSERT INTO message_dedup VALUES ($1::uuid, now()) RETURNING *)
                INSERT INTO messages (received_at, carrier, bind, source_addr, source_ton, destination_addr, destination_ton,
                                      outcome, data_coding, text, dedup_key, raw_pdus)
                SELECT received_at, 'c1', 'b1', 'Google', 5, '447700900123', 1, 'unmatched', 0, 'x', dedup_key, ARRAY['\\x00'::bytea] FROM d
                """, [.text(k)])
        }
        XCTAssertEqual(try Migrator.migrate(db), Migrations.all.map(\.version).filter { $0 > 3 })
        XCTAssertEqual(try db.execute("""
            SELECT count(*) FROM message_dedup d JOIN messages m ON m.id = d.message_id AND m.received_at = d.received_at
            WHERE m.dedup_key = d.dedup_key
            """).rows.first?.first, "2")
        XCTAssertEqual(try db.execute("SELECT to_regclass('messages_dedup_idx') IS NULL").rows.first?.first, "t")
    }

    /// A database at version 4 with parts in it, pending and consumed: after
    /// migrations 5 and 6 the pending part is still found by its message, the consumed
    /// one by its key, and the old dedup keys still go with retention.
    func testMigrations5And6KeepStoredPartsAndKeysFindable() throws {
        let db = try database(at: 4)
        let key = PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: 7, referenceBits: 8, total: 2)
        let pending = Part(key: key, sequence: 2, dataCoding: 0, body: [0x41], rawPDU: [2], receivedAt: 1_800_000_000_000)
        let consumed = Part(key: key, sequence: 1, dataCoding: 0, body: [0x42], rawPDU: [1], receivedAt: 1_800_000_000_000)
        let insert = """
            INSERT INTO message_parts (dedup_key, carrier, source_addr, destination_addr, reference, reference_bits, total,
                                       sequence, data_coding, body, raw_pdu, received_at, message_dedup_key)
            VALUES ($1::uuid, 'c1', 'Google', '447700900123', 7, 8, 2, $2::smallint, 0, $3::bytea, $4::bytea, to_timestamp(1800000000), $5::uuid)
            """
        try db.execute(insert, [.text(DedupKey.part(pending).hex), .text("2"), .text("\\x41"), .text("\\x02"), .null])
        try db.execute(insert, [.text(DedupKey.part(consumed).hex), .text("1"), .text("\\x42"), .text("\\x01"),
                                .text("00000000000000000000000000000009")])
        try db.execute("INSERT INTO message_dedup (dedup_key, received_at) VALUES ('00000000000000000000000000000009', '2024-01-20T10:00:00Z')")
        XCTAssertEqual(try Migrator.migrate(db), Migrations.all.map(\.version).filter { $0 > 4 })
        let answer = try PartStore.parts(of: key, consumedAmong: [DedupKey.part(consumed), DedupKey.part(pending)], db)
        XCTAssertEqual(answer.open, [pending])
        XCTAssertEqual(answer.consumed, [DedupKey.part(consumed)])
        XCTAssertEqual(try db.execute("SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'message_dedup_received_idx'").rows.first?.first, "brin")
        _ = try Migrator.retention(db, olderThanDays: 180) as Migrator.RetentionResult
        XCTAssertEqual(try db.execute("SELECT count(*) FROM message_dedup").rows.first?.first, "0")
    }

    func testTwoInstancesMigratingAtOnceDoNotRace() throws {
        let url = try TestDatabase.empty()
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            do {
                let db = try PostgresConnection(url)
                let a = try Migrator.migrate(db)
                box.add(a.map(String.init))
            } catch {
                box.add(["error: \(error)"])
            }
        }
        XCTAssertEqual(box.values, Migrations.all.map { String($0.version) }, "applied exactly once, no errors")
    }

    func testRetentionDropsOnlyOldPartitions() throws {
        let db = try PostgresConnection(try TestDatabase.empty())
        try Migrator.migrate(db)
        try db.execute("SELECT bridge_ensure_month('2024-01-15'::timestamptz)")
        let insert = """
            INSERT INTO messages (received_at, carrier, bind, source_addr, source_ton, destination_addr, destination_ton,
                                  outcome, data_coding, text, dedup_key, raw_pdus)
            VALUES ($1::timestamptz, 'c1', 'b1', 'Google', 5, '447700900123', 1, 'unmatched', 0, 'x', $2, ARRAY['\\\\x00'::bytea])
            """
        let old = "00000000000000000000000000000001", new = "00000000000000000000000000000002"
        try db.execute(insert, [.text("2024-01-20T10:00:00Z"), .text(old)])
        try db.execute(insert, [.text("now"), .text(new)])
        let part = """
            INSERT INTO message_parts (dedup_key, carrier, source_addr, destination_addr, reference, reference_bits, total,
                                       sequence, data_coding, body, raw_pdu, received_at)
            VALUES ($1::uuid, 'c1', 'Google', '447700900123', 7, 8, 2, 1, 0, '\\x00', '\\x00', $2::timestamptz)
            """
        try db.execute(part, [.text(old), .text("2024-01-20T10:00:00Z")])
        try db.execute(part, [.text(new), .text("now")])
        for (k, at) in [(old, "2024-01-20T10:00:00Z"), (new, "now")] {
            try db.execute("INSERT INTO message_dedup (dedup_key, received_at) VALUES ($1::uuid, $2::timestamptz)", [.text(k), .text(at)])
        }
        // Both deletes can be answered by their BRIN index (a large table's plan; this one is tiny).
        try db.execute("SET enable_seqscan = off")
        for t in ["message_dedup", "message_parts"] {
            let plan = try db.execute("EXPLAIN DELETE FROM \(t) WHERE received_at < now() - interval '180 days'").rows.compactMap { $0[0] }.joined(separator: "\n")
            XCTAssertTrue(plan.contains("Bitmap Index Scan on \(t)_received_idx"), plan)
        }
        try db.execute("RESET enable_seqscan")
        let plan = try Migrator.retention(db, olderThanDays: 180, dryRun: true) { _ in XCTFail("a dry run archives nothing") }
        XCTAssertEqual(plan, Migrator.RetentionResult(partitions: ["messages_2024_01"], dedupRows: 1, partRows: 1))
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM messages")[firstRow: "n"], "2", "a dry run changes nothing")
        // A failing archive leaves the partition detached (its rows kept, out of `messages`) and stops.
        struct Refused: Error {}
        XCTAssertThrowsError(try Migrator.retention(db, olderThanDays: 180) { _ in throw Refused() })
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM messages_2024_01")[firstRow: "n"], "1", "kept when the archive fails")
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM messages")[firstRow: "n"], "1", "detached from messages")
        XCTAssertEqual(try Migrator.retention(db, olderThanDays: 180, dryRun: true).partitions, ["messages_2024_01"],
                       "a partition left detached is still found")
        var archived: [String] = []
        let result = try Migrator.retention(db, olderThanDays: 180) { archived.append($0) }
        XCTAssertEqual(archived, ["messages_2024_01"], "archived after detaching, before dropping")
        XCTAssertEqual(result.partitions, ["messages_2024_01"])
        XCTAssertEqual(try db.execute("SELECT to_regclass('messages_2024_01') IS NULL AS gone")[firstRow: "gone"], "t")
        XCTAssertEqual(try db.execute("SELECT replace(dedup_key::text, '-', '') FROM messages").rows.map { $0[0] }, [new])
        XCTAssertEqual(try db.execute("SELECT replace(dedup_key::text, '-', '') FROM message_parts").rows.map { $0[0] }, [new],
                       "old part rows go with their month")
        XCTAssertEqual(try db.execute("SELECT replace(dedup_key::text, '-', '') FROM message_dedup").rows.map { $0[0] }, [new],
                       "old dedup keys go with their month")
    }
}

final class PostgresConnectionTests: XCTestCase {
    func testParametersPipelineAndStreaming() throws {
        let db = try PostgresConnection(try TestDatabase.empty(), statementTimeoutMillis: 5000)
        XCTAssertEqual(try db.execute("SELECT $1::int + 41, upper($2), $3::text IS NULL", [.text("1"), .text("smpp'; DROP TABLE x; --"), .null]).rows.first!,
                       ["42", "SMPP'; DROP TABLE X; --", "t"])
        try db.execute("CREATE TABLE t (k int PRIMARY KEY, v bytea)")
        let results = try db.pipeline([("BEGIN", [])] + (0..<100).map { ("INSERT INTO t VALUES ($1, $2) ON CONFLICT DO NOTHING", [.text(String($0 % 50)), .bytes([0, 1, 0xFF])]) } + [("COMMIT", [])])
        XCTAssertEqual(results.count, 102)
        XCTAssertEqual(results.dropFirst().dropLast().map(\.affected).reduce(0, +), 50, "ON CONFLICT DO NOTHING stored each key once")
        XCTAssertEqual(try db.execute("SELECT encode(v, 'hex') FROM t WHERE k = 7").rows.first?.first, "0001ff")
        // A failing statement fails the pipeline, and the connection stays usable.
        XCTAssertThrowsError(try db.pipeline([("SELECT 1/0", [])]))
        XCTAssertEqual(try db.execute("SELECT 1").rows.first?.first, "1")
        try db.execute("INSERT INTO t SELECT g, NULL FROM generate_series(1000, 30999) g")
        var n = 0
        try db.stream("SELECT k FROM t WHERE k >= 1000 ORDER BY k") { row in
            n += 1
            return row["k"] != nil
        }
        XCTAssertEqual(n, 30000)
    }

    func testStatementTimeout() throws {
        let db = try PostgresConnection(try TestDatabase.empty(), statementTimeoutMillis: 100)
        XCTAssertThrowsError(try db.execute("SELECT pg_sleep(2)")) { e in
            XCTAssertEqual((e as? PostgresError)?.sqlState, "57014", "\(e)")  // query_canceled
        }
    }

    func testBadPasswordErrorDoesNotEchoTheConnectionString() throws {
        let h = try TestDatabase.server.get()
        XCTAssertThrowsError(try PostgresConnection("host=127.0.0.1 port=\(h.port) user=postgres dbname=nosuchdb password=hunter2")) { e in
            XCTAssertFalse("\(e)".contains("hunter2"), "\(e)")
        }
    }

    /// The same server through a postgres:// URL (with sslmode): libpq parses both forms.
    func testPostgresURLForm() throws {
        let h = try TestDatabase.server.get()
        let db = try PostgresConnection("postgresql://postgres@127.0.0.1:\(h.port)/postgres?sslmode=disable&connect_timeout=5")
        XCTAssertEqual(try db.execute("SELECT current_user, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()").rows.first, ["postgres", "f"])
        XCTAssertThrowsError(try PostgresConnection("postgresql://postgres:s3cret@127.0.0.1:\(h.port)/postgres?sslmode=require")) { e in
            XCTAssertFalse("\(e)".contains("s3cret"), "\(e)")  // the server has no TLS: sslmode=require refuses
        }
    }

    func testLeaseChangesArriveThroughNotify() throws {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        let listener = try PostgresConnection(url)
        try listener.listen("lease_changed")
        let got = DispatchSemaphore(value: 0)
        let seen = Box()
        let src = listener.watchNotifications(queue: DispatchQueue(label: "notify"), { n in
            seen.add(n.map(\.1))
            got.signal()
        }, onFailure: { _ in })
        defer { src.cancel() }
        try db.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (42, '447700900123', 'whatsapp', now(), now() + interval '20 minutes')")
        XCTAssertEqual(got.wait(timeout: .now() + 5), .success, "NOTIFY within 5 s")
        let p = seen.values.first ?? ""
        XCTAssertTrue(p.contains("\"order_id\" : 42") && p.contains("447700900123") && p.contains("INSERT"), p)
    }
}

final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ x: [String]) { lock.withLock { items += x } }
    var values: [String] { lock.withLock { items } }
}

/// The GRANTs of docs/storefront-contract.md, run as written, are enough for the
/// bridge's writer and lease sync, and the bridge role cannot touch leases.
final class LeastPrivilegeTests: XCTestCase {
    func testTheDocumentedGrantsAreEnoughAndNoMore() throws {
        let h = try TestDatabase.server.get()
        let url = try TestDatabase.empty()
        let owner = try PostgresConnection(url)
        try Migrator.migrate(owner)
        let dbName = String(url.split(separator: "=").last!)
        let role = "smpp_bridge_t\(getpid())"
        let doc = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/storefront-contract.md").path, encoding: .utf8)
        let section = doc.components(separatedBy: "## Least-privilege role")[1]
        let sql = section.components(separatedBy: "```sql")[1].components(separatedBy: "```")[0]
        for line in sql.split(separator: "\n") where !line.hasPrefix("--") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let stmt = line.replacingOccurrences(of: "smpp_bridge", with: role).replacingOccurrences(of: "trueotp", with: dbName)
                .replacingOccurrences(of: "'…'", with: "'unused'").components(separatedBy: "--")[0]
            try owner.execute(stmt)
        }
        let asBridge = "host=127.0.0.1 port=\(h.port) user=\(role) dbname=\(dbName)"
        try owner.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (1001, '447700900123', 'whatsapp', now() - interval '1 minute', now() + interval '1 hour')")
        let table = LeaseTable()
        let sync = LeaseSync(url: asBridge, table: table, reconcileInterval: 3600)
        try sync.start()
        defer { sync.stop() }
        XCTAssertEqual(table.count, 1)
        let writer = BatchWriter(config: .init(url: asBridge))
        defer { writer.stop() }
        let acks = Acks()
        var old = Traffic().message(1)
        old.decision.receivedAt = 1_700_000_000_000  // November 2023: a month with no partition yet
        writer.submit(.message(Traffic().message(2))) { acks.add($0) }
        writer.submit(.message(old)) { acks.add($0) }
        let part = Part(key: PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: 9, referenceBits: 8, total: 2),
                        sequence: 1, dataCoding: 0, body: [0x41], rawPDU: [1], receivedAt: 1_800_000_000_000)
        writer.submit(.part(part, dedupKey: DedupKey.part(part))) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 3 })
        XCTAssertEqual(acks.all, [.ok, .ok, .ok], "\(writer.stats)")
        XCTAssertEqual(try owner.execute("SELECT count(*) FROM messages").rows.first?.first, "2")
        // A redelivery (recorded on the stored row) and a late match (routing a stored row) as the bridge role.
        writer.submit(.message(Traffic().message(2))) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 4 })
        XCTAssertEqual(acks.all.last, .ok, "\(writer.stats)")
        XCTAssertEqual(try owner.execute("SELECT sum(redelivery_count) FROM messages").rows.first?.first, "1")
        var unmatched = Traffic().message(3, to: "447700900999")
        unmatched.decision.receivedAt = UInt64(Date().timeIntervalSince1970 * 1000)
        writer.submit(.message(unmatched)) { acks.add($0) }
        XCTAssertTrue(waitUntil { acks.count == 5 })
        try owner.execute("INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at) VALUES (1002, '447700900999', 'whatsapp', now() - interval '1 minute', now() + interval '1 hour')")
        XCTAssertEqual(try LateMatcher.run(PostgresConnection(asBridge), lookbackSeconds: 600, extractor: OTPExtractor()).map(\.orderID), [1002])
        let bridge = try PostgresConnection(asBridge)
        XCTAssertThrowsError(try bridge.execute("UPDATE leases SET status = 'ended'")) { e in
            XCTAssertEqual((e as? PostgresError)?.sqlState, "42501", "the bridge never writes leases")
        }
        XCTAssertThrowsError(try bridge.execute("CREATE TABLE x (a int)"))
        XCTAssertEqual(try bridge.execute("SELECT count(*) FROM otp_codes").rows.first?.first, "3")
    }
}

/// TLS to PostgreSQL, verified: a server of its own with a certificate from a test CA
/// (the SMPP TLS tests' `make-certs.py`), reached with `sslmode=verify-full`.
final class PostgresTLSTests: XCTestCase {
    /// check-config and start-up warn when the database is reached over a network
    /// without the server's certificate being verified (libpq's default "prefer" does not).
    func testTLSPolicyIsReadAsLibpqReadsTheString() throws {
        let remote = try XCTUnwrap(PostgresTLSPolicy(conninfo: "host=db.example.com user=bridge password=s3cret dbname=trueotp"))
        XCTAssertEqual(remote.hosts, ["db.example.com"])
        if getenv("PGSSLMODE") == nil { XCTAssertEqual(remote.sslMode, "prefer") }
        let w = try XCTUnwrap(remote.warning)
        XCTAssertTrue(w.contains("db.example.com") && w.contains("verify-full"), w)
        XCTAssertFalse(w.contains("s3cret"), w)
        let url = try XCTUnwrap(PostgresTLSPolicy(conninfo: "postgresql://bridge:s3cret@db.example.com:5433/trueotp?sslmode=require"))
        XCTAssertEqual(url.sslMode, "require")
        XCTAssertEqual(url.warning, "sslmode=require to db.example.com does not verify the server's certificate: use sslmode=verify-full with sslrootcert")
        XCTAssertNil(PostgresTLSPolicy(conninfo: "postgresql://bridge@db.example.com/trueotp?sslmode=verify-full&sslrootcert=/etc/ca.pem")?.warning)
        XCTAssertNil(PostgresTLSPolicy(conninfo: "host=db.example.com sslmode=verify-ca")?.warning)
        for local in ["host=127.0.0.1 port=5432", "host=/var/run/postgresql", "dbname=trueotp", "postgresql://bridge@localhost/trueotp", "hostaddr=127.0.0.1"] {
            let p = try XCTUnwrap(PostgresTLSPolicy(conninfo: local), local)
            XCTAssertTrue(p.isLocal, local)
            XCTAssertNil(p.warning, local)
        }
        XCTAssertNotNil(PostgresTLSPolicy(conninfo: "host=127.0.0.1,db.example.com")?.warning, "one remote host of several is enough")
        XCTAssertNil(PostgresTLSPolicy(conninfo: "host='unterminated"), "libpq cannot parse it: the connect reports that")
    }

    func testVerifiedTLSConnectsAndAnUntrustedServerIsRefused() throws {
        let certs = FileManager.default.temporaryDirectory.appendingPathComponent("smpp-pgtls-\(getpid())").path
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: certs) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SMPPSessionTests/make-certs.py").path
        try ThrowawayPostgres.run(["python3", script, certs], asPostgres: false)
        let server = try ThrowawayPostgres(fsync: false)
        defer { server.destroy() }
        // The server's key must belong to the server's user and be private to it.
        for f in ["good.pem", "good.key"] {
            try ThrowawayPostgres.run(["cp", "\(certs)/\(f)", "\(server.dir)/data/\(f)"], asPostgres: false)
            if server.asRoot { try ThrowawayPostgres.run(["chown", "postgres", "\(server.dir)/data/\(f)"], asPostgres: false) }
            try ThrowawayPostgres.run(["chmod", "600", "\(server.dir)/data/\(f)"], asPostgres: false)
        }
        let admin = try PostgresConnection(server.url)
        try admin.execute("ALTER SYSTEM SET ssl_cert_file = 'good.pem'")
        try admin.execute("ALTER SYSTEM SET ssl_key_file = 'good.key'")
        try admin.execute("ALTER SYSTEM SET ssl = on")
        try admin.execute("SELECT pg_reload_conf()")
        usleep(300_000)  // the postmaster applies the reload asynchronously

        let sslInUse = "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        let verified = try PostgresConnection("host=localhost port=\(server.port) user=postgres dbname=postgres sslmode=verify-full sslrootcert=\(certs)/ca.pem")
        XCTAssertEqual(try verified.execute(sslInUse).rows.first, ["true"])
        let url = try PostgresConnection("postgresql://postgres@127.0.0.1:\(server.port)/postgres?sslmode=verify-full&sslrootcert=\(certs)/ca.pem")
        XCTAssertEqual(try url.execute(sslInUse).rows.first, ["true"], "the certificate's 127.0.0.1 SAN verifies too")
        // A server this CA did not sign is refused, and the error keeps the password out.
        XCTAssertThrowsError(try PostgresConnection("host=localhost port=\(server.port) user=postgres password=s3cret dbname=postgres sslmode=verify-full sslrootcert=\(certs)/selfsigned.pem")) { e in
            XCTAssertTrue("\(e)".contains("certificate"), "\(e)")
            XCTAssertFalse("\(e)".contains("s3cret"), "\(e)")
        }
        // A name the certificate does not hold is refused under verify-full.
        XCTAssertThrowsError(try PostgresConnection("host=wrong.example hostaddr=127.0.0.1 port=\(server.port) user=postgres dbname=postgres sslmode=verify-full sslrootcert=\(certs)/ca.pem")) { e in
            XCTAssertTrue("\(e)".contains("does not match host name"), "\(e)")
        }
    }
}
