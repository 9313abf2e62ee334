import Foundation
import Routing
@testable import Store
import TestSupport
import XCTest

/// docs/storefront-contract.md against a migrated database: every SQL block runs, the
/// catch-up cursor never skips a committed row, and the reader role sees the views only.
final class StorefrontContractTests: XCTestCase {
    static let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/storefront-contract.md")

    static func sqlBlocks() throws -> [String] {
        let text = try String(contentsOf: doc, encoding: .utf8)
        return text.components(separatedBy: "```sql").dropFirst().map { $0.components(separatedBy: "```")[0] }
    }

    /// Each block runs as written (roles renamed so as not to touch the cluster's, in a
    /// transaction that is rolled back); `$1` placeholders are bound to NULL.
    func testEverySQLStatementInTheContractRuns() throws {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        let dbName = String(url.split(separator: "=").last!)
        let tag = "doc\(getpid())_\(UInt32.random(in: 0...999_999))"
        let blocks = try Self.sqlBlocks()
        XCTAssertGreaterThanOrEqual(blocks.count, 8)
        for block in blocks {
            let sql = block.replacingOccurrences(of: "smpp_storefront_reader", with: "smpp_storefront_reader_\(tag)")
                .replacingOccurrences(of: "smpp_bridge", with: "smpp_bridge_\(tag)")
                .replacingOccurrences(of: "TO storefront;", with: "TO storefront_\(tag);")
                .replacingOccurrences(of: "trueotp", with: dbName).replacingOccurrences(of: "'…'", with: "'unused'")
            try db.execute("BEGIN")
            defer { _ = try? db.execute("ROLLBACK") }
            if sql.contains("storefront_\(tag);") { try db.execute("CREATE ROLE storefront_\(tag)") }
            let params = (1...9).filter { sql.contains("$\($0)") }
            do {
                if params.isEmpty {
                    try db.executeScript(sql)
                } else {
                    _ = try db.execute(sql.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: ";")),
                                       params.map { _ in .null })
                }
            } catch {
                XCTFail("docs/storefront-contract.md: \(error)\n\(block)")
            }
        }
    }

    /// Two writer connections commit out of id order around one slow transaction. A
    /// reader polling by id skips the slow one's row; the documented cursor waits for it
    /// and then reads every row once.
    func testTheCatchUpCursorNeverSkipsACommittedRow() throws {
        let url = try TestDatabase.empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        let slow = try PostgresConnection(url), fast = try PostgresConnection(url), reader = try PostgresConnection(url)
        func insert(_ c: PostgresConnection, _ order: Int) throws {
            try c.execute("""
                INSERT INTO messages (received_at, carrier, bind, source_addr, source_ton, destination_addr, destination_ton,
                                      destination_normalized, order_id, outcome, data_coding, text, dedup_key, raw_pdus)
                VALUES (now(), 'c1', 'c1-1', 'Google', 5, '447700900123', 1, '447700900123', $1::bigint, 'routed', 0, 'x',
                        gen_random_uuid(), ARRAY['\\x00'::bytea])
                """, [.text(String(order))])
        }
        let blocks = try Self.sqlBlocks()
        let catchUp = blocks.first { $0.contains("txid_snapshot_xmin") && $0.contains("LIMIT") }!
            .replacingOccurrences(of: "commit_txid >= 0", with: "commit_txid >= $1::bigint")
            .replacingOccurrences(of: "(0, 0)", with: "($1::bigint, $2::bigint)")
        var cursor = (txid: Int64(0), id: Int64(0))
        var seen: [String] = []
        func poll() throws {
            let r = try reader.execute(catchUp, [.text(String(cursor.txid)), .text(String(cursor.id))])
            for row in r.rows {
                seen.append(row[r.columns.firstIndex(of: "order_id")!]!)
                cursor = (Int64(row[r.columns.firstIndex(of: "commit_txid")!]!)!, Int64(row[r.columns.firstIndex(of: "message_id")!]!)!)
            }
        }
        try slow.execute("BEGIN")
        try insert(slow, 1)  // takes the lower id and the lower txid, commits last
        try insert(fast, 2)  // autocommit: committed at once, higher id
        var naiveCursor = Int64(0)
        var naive: [String] = []
        func naivePoll() throws {
            for row in try reader.execute("SELECT id, order_id FROM messages WHERE id > $1::bigint ORDER BY id", [.text(String(naiveCursor))]).rows {
                naive.append(row[1]!)
                naiveCursor = Int64(row[0]!)!
            }
        }
        try naivePoll()
        try poll()
        XCTAssertEqual(seen, [], "nothing is read past a transaction still running")
        try slow.execute("COMMIT")
        try insert(fast, 3)
        try naivePoll()
        try poll()
        XCTAssertEqual(naive, ["2", "3"], "polling by id skips the slow transaction's row")
        XCTAssertEqual(seen, ["1", "2", "3"], "the cursor reads every committed row once")
        try poll()
        XCTAssertEqual(seen, ["1", "2", "3"], "and never twice")
        // A late match moves its row past the cursor: read again, now routed.
        try db.execute("UPDATE messages SET order_id = 4, late_matched_at = now(), commit_txid = txid_current() WHERE order_id = 2")
        try poll()
        XCTAssertEqual(seen, ["1", "2", "3", "4"])
    }

    /// The reader role reads the views, not the tables (no raw_pdus).
    func testTheStorefrontRoleReadsTheViewsOnly() throws {
        let h = try TestDatabase.server.get()
        let url = try TestDatabase.empty()
        let owner = try PostgresConnection(url)
        try Migrator.migrate(owner)
        let dbName = String(url.split(separator: "=").last!)
        let login = "storefront_t\(getpid())_\(UInt32.random(in: 0...999_999))"
        try owner.execute("CREATE ROLE \(login) LOGIN")
        try owner.execute("GRANT smpp_storefront_reader TO \(login)")
        let reader = try PostgresConnection("host=127.0.0.1 port=\(h.port) user=\(login) dbname=\(dbName)")
        XCTAssertEqual(try reader.execute("SELECT count(*) FROM storefront_v1_messages").rows.first?.first, "0")
        XCTAssertEqual(try reader.execute("SELECT count(*) FROM otp_codes").rows.first?.first, "0")
        for forbidden in ["SELECT raw_pdus FROM messages", "SELECT * FROM message_dedup", "SELECT * FROM leases", "INSERT INTO leases DEFAULT VALUES"] {
            XCTAssertThrowsError(try reader.execute(forbidden), forbidden) { e in XCTAssertEqual((e as? PostgresError)?.sqlState, "42501", forbidden) }
        }
    }
}
