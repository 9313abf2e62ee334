import Routing
import SMPPWire
#if canImport(Glibc)
    import Glibc
#endif

/// What one batch writes, worked out from its items without a database: the messages
/// (one per key, in key order), the copies beyond the first, the part rows, and the
/// months whose partitions must exist. Pure, so it is tested without PostgreSQL
/// (`BatchPlanTests`).
struct BatchPlan {
    /// One part row: the part, its key, and the message of this batch that consumes it, if any.
    struct PartRow {
        var part: Part
        var key: DedupKey
        var consumedBy: DedupKey?
    }

    private(set) var messages: [PendingMessage] = []
    /// Copies of a message beyond the first in this batch: redeliveries already (an SMSC
    /// resending before the first copy's ack), recorded on the stored row.
    private(set) var extraCopies: [DedupKey: Int] = [:]
    private(set) var partRows: [PartRow] = []
    /// Each month the messages fall in (`monthIndex`), with one of its timestamps (ms).
    private(set) var months: [Int: UInt64] = [:]

    init(_ batch: [Pending]) {
        var seen: Set<DedupKey> = []
        seen.reserveCapacity(batch.count)
        messages.reserveCapacity(batch.count)
        var pendingParts: [PendingPart] = []
        // Rows in key order: two writer connections inserting the same redelivered keys
        // lock them in one order, so they cannot deadlock.
        for p in batch.sorted(by: { $0.key < $1.key }) {
            if let m = p as? PendingMessage {
                let receivedAt = m.message.decision.receivedAt
                months[Self.monthIndex(receivedAt)] = receivedAt
                if seen.insert(p.key).inserted { messages.append(m) } else { extraCopies[p.key, default: 0] += 1 }
            } else if let part = p as? PendingPart, seen.insert(p.key).inserted {
                pendingParts.append(part)
            }
        }
        // Every part of a multi-part message here is written as consumed by it, once: a
        // part whose message completes in this batch is not inserted pending and then
        // updated (a non-HOT update, written twice with its indexes).
        var consumedHere: Set<DedupKey> = []
        for m in messages where !m.message.parts.isEmpty {
            for p in m.message.parts {
                let k = DedupKey.part(p)
                if consumedHere.insert(k).inserted { partRows.append(PartRow(part: p, key: k, consumedBy: m.key)) }
            }
        }
        for p in pendingParts where !consumedHere.contains(p.key) { partRows.append(PartRow(part: p.part, key: p.key, consumedBy: nil)) }
        // Pending and consumed parts are one statement in key order, after the message
        // keys: every transaction takes its locks in one order, so no cycle can form
        // between two writer connections (docs/decisions/008-writer-batch-shape.md).
        partRows.sort { $0.key < $1.key }
    }

    /// The statements of the transaction. `onConflict`: the messages go through
    /// `insert_messages` (ON CONFLICT, the dedup window) rather than the plain insert.
    func statements(onConflict: Bool) -> BatchStatements {
        var s = BatchStatements()
        s.append(.begin, .sql("BEGIN"))
        if !messages.isEmpty {
            // The rare columns (in-batch copies, receipts, evidence) go only with a batch that has them.
            let full = onConflict || !extraCopies.isEmpty
                || messages.contains { $0.message.decision.receipt != nil || $0.message.decision.invalidReason != nil }
            let name: PreparedStatement = onConflict ? .insertMessages : (full ? .insertNewMessagesFull : .insertNewMessages)
            s.append(.messages, .prepared(name.rawValue, BatchSQL.columns(messages, extraCopies: extraCopies, full: full)))
        }
        if !partRows.isEmpty {
            s.append(.parts, .prepared(PreparedStatement.writeParts.rawValue, BatchSQL.columns(parts: partRows)))
        }
        s.append(.commit, .sql("COMMIT"))
        return s
    }

    /// The keys the batch found stored already (redeliveries), from its statements' results.
    static func duplicates(in results: BatchStatements.Results) -> Set<DedupKey> {
        var out: Set<DedupKey> = []
        for name in [BatchStatements.Name.messages, .parts] {
            if let keys = results[name]?[firstRow: "duplicates"] { BatchSQL.uuids(keys, into: &out) }
        }
        return out
    }

    static func monthIndex(_ millis: UInt64) -> Int {
        var t = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return Int(parts.tm_year) * 12 + Int(parts.tm_mon)
    }
}

/// A transaction's statements, each with a name: results are read by name, never by position.
struct BatchStatements {
    enum Name: Hashable { case begin, messages, parts, commit }
    typealias Results = [Name: PostgresRows]

    private(set) var names: [Name] = []
    private(set) var statements: [PostgresStatement] = []

    mutating func append(_ name: Name, _ statement: PostgresStatement) {
        names.append(name)
        statements.append(statement)
    }

    subscript(_ name: Name) -> PostgresStatement? { names.firstIndex(of: name).map { statements[$0] } }

    /// The pipeline's results, by the name of the statement that produced each.
    func results(_ rows: [PostgresRows]) -> Results {
        Dictionary(uniqueKeysWithValues: zip(names, rows))
    }
}

/// The writer's prepared statements (prepared once per connection).
enum PreparedStatement: String, CaseIterable {
    case insertMessages = "insert_messages"
    case insertNewMessages = "insert_new_messages"
    case insertNewMessagesFull = "insert_new_messages_full"
    case writeParts = "write_parts"

    func sql(dedupWindowSeconds window: Int) -> String {
        switch self {
        case .insertMessages: BatchSQL.insertMessages(dedupWindowSeconds: window)
        case .insertNewMessages: BatchSQL.insertNewMessages(full: false)
        case .insertNewMessagesFull: BatchSQL.insertNewMessages(full: true)
        case .writeParts: BatchSQL.writeParts(dedupWindowSeconds: window)
        }
    }
}

/// The writer's SQL and its binary column arrays.
enum BatchSQL {
    /// A batch's messages are one statement, this one while redeliveries are about
    /// (else `insertNewMessages`): the columns arrive as arrays (binary, see
    /// `BinaryArray`), the dedup table decides which rows are new, only those become
    /// messages, and the routed ones are announced on `sms_received`
    /// (delivered at COMMIT) as JSON arrays of up to 64 `{message_id, order_id}`
    /// objects, not a NOTIFY per row. A one-part message's PDU comes as a bytea
    /// element ($24); a multi-part one's as the slice $25...$26 of $27, every multi-part
    /// PDU of the batch in one bytea[] (an array cannot hold arrays). Why each of these:
    /// docs/decisions/008-writer-batch-shape.md. The answer is one row: the NOTIFY count and
    /// the keys that were already stored (usually none), not a row per message.
    /// A message's id is taken as its dedup row is inserted and stored in both, so
    /// that its key finds it without an index on `messages.dedup_key` (migration 4).
    ///
    /// The dedup window: a key stored less than `dedupWindowSeconds` before this
    /// copy's receipt is a redelivery, recorded on the stored message (count and time
    /// last seen) and never routed again; a key stored longer ago belongs to a message
    /// past its retry horizon, and its dedup row is moved to the new message.
    static func insertMessages(dedupWindowSeconds window: Int) -> String {
        """
        WITH d AS (
            INSERT INTO message_dedup (dedup_key, received_at, message_id)
            SELECT k, r, nextval('messages_id_seq') FROM \(rows(of: [("k", "uuid"), ("r", "timestamptz")])) AS u
            ON CONFLICT (dedup_key) DO UPDATE SET received_at = EXCLUDED.received_at, message_id = EXCLUDED.message_id
                WHERE message_dedup.received_at <= EXCLUDED.received_at - make_interval(secs => \(window))
            RETURNING dedup_key, message_id),
        m AS (
            INSERT INTO messages (id, \(messageColumns(full: true)))
            OVERRIDING SYSTEM VALUE
            SELECT d.message_id, \(messageValues(full: true))
            JOIN d ON d.dedup_key = t.dedup_key
            RETURNING id, received_at, order_id, outcome),
        redelivered AS (
            UPDATE messages s SET redelivery_count = s.redelivery_count + 1 + u.c,
                                  last_redelivered_at = GREATEST(s.last_redelivered_at, u.r)
            FROM (SELECT unnest($1::uuid[]) AS k, unnest($2::timestamptz[]) AS r,
                         unnest($\(messageRowColumns.count + 1)::smallint[]) AS c) AS u
            JOIN message_dedup x ON x.dedup_key = u.k
            WHERE u.k NOT IN (SELECT dedup_key FROM d) AND s.id = x.message_id AND s.received_at = x.received_at
            RETURNING s.id)
        SELECT \(notified),
               (SELECT array_agg(k) FROM \(rows(of: [("k", "uuid")])) AS u WHERE k NOT IN (SELECT dedup_key FROM d)) AS duplicates,
               (SELECT count(*) FROM redelivered) AS redeliveries_recorded
        """
    }

    /// `insertMessages` for a batch none of whose keys is stored, as far as the writer
    /// knows: the messages first (their ids from the identity), then their dedup rows
    /// from what that insert returned, without `ON CONFLICT`. A key stored already
    /// fails the statement (23505 on `message_dedup_pkey`), and the batch is written
    /// again as `insertMessages`, which applies the dedup window. ON CONFLICT looks
    /// each key up in the index before the insert, which looks it up again to place
    /// it; without it neither that look-up nor the join of the columns with the
    /// inserted keys is needed (docs/decisions/001-optimistic-dedup-insert.md).
    static func insertNewMessages(full: Bool) -> String {
        """
        WITH m AS (
            INSERT INTO messages (\(messageColumns(full: full)))
            SELECT \(messageValues(full: full))
            RETURNING id, received_at, dedup_key, order_id, outcome),
        d AS (
            INSERT INTO message_dedup (dedup_key, received_at, message_id)
            SELECT dedup_key, received_at, id FROM m)
        SELECT \(notified), NULL::text AS duplicates, 0 AS redeliveries_recorded
        """
    }

    private static func messageColumns(full: Bool) -> String {
        """
        received_at, carrier, bind, source_addr, source_ton, source_normalized, destination_addr,
                destination_ton, destination_normalized, order_id, lease_version, service, outcome, service_mismatch,
                data_coding, text, text_invalid, otp_code, otp_confidence, otp_rule, part_count, missing_parts, dedup_key, raw_pdus
        """ + (full ? ", redelivery_count, last_redelivered_at, receipt_message_id, receipt_stat, receipt_err, invalid_reason" : "")
    }

    /// The batch's columns, in parameter order ($1, $2, …). A full batch has
    /// `extraRowColumns` after them; the batch's multi-part PDUs follow as one more
    /// parameter (`rawsParameter`).
    static let messageRowColumns: [(name: String, type: String)] = [
        ("dedup_key", "uuid"), ("received_at", "timestamptz"), ("carrier", "text"), ("bind", "text"),
        ("source_addr", "text"), ("source_ton", "smallint"), ("source_normalized", "text"),
        ("destination_addr", "text"), ("destination_ton", "smallint"), ("destination_normalized", "text"),
        ("order_id", "bigint"), ("lease_version", "integer"), ("service", "text"), ("outcome", "text"),
        ("service_mismatch", "boolean"), ("data_coding", "smallint"), ("text", "text"), ("text_invalid", "boolean"),
        ("otp_code", "text"), ("otp_confidence", "real"), ("otp_rule", "text"), ("part_count", "smallint"),
        ("missing_parts", "text"), ("raw_pdu", "bytea"), ("raw_from", "integer"), ("raw_to", "integer"),
    ]
    /// Columns nearly every batch leaves empty: the common batch goes without them.
    static let extraRowColumns: [(name: String, type: String)] = [
        ("extra_copies", "smallint"), ("receipt_message_id", "text"), ("receipt_stat", "text"), ("receipt_err", "text"),
        ("invalid_reason", "text"),
    ]
    static func rawsParameter(full: Bool) -> Int { messageRowColumns.count + (full ? extraRowColumns.count : 0) + 1 }

    /// The rows of `messageColumns`, from the batch's arrays.
    private static func messageValues(full: Bool) -> String {
        """
        t.received_at, carrier, bind, source_addr, source_ton, source_normalized, destination_addr,
                destination_ton, destination_normalized, order_id, lease_version, service, outcome, service_mismatch,
                data_coding, text, text_invalid, otp_code, otp_confidence, otp_rule, part_count,
                COALESCE(missing_parts::smallint[], '{}'), t.dedup_key,
                COALESCE(($\(rawsParameter(full: full))::bytea[])[raw_from:raw_to], ARRAY[raw_pdu])
        """ + (full ? """
            , extra_copies, CASE WHEN extra_copies > 0 THEN t.received_at END,
                receipt_message_id, receipt_stat, receipt_err, invalid_reason
            """ : "") + """

            FROM \(rows(of: messageRowColumns + (full ? extraRowColumns : []))) AS t
        """
    }

    /// A batch's parallel column arrays ($1, $2, … in order) as rows: a subquery that
    /// unnests each in its select list, where they run in lockstep, one row per index,
    /// without `unnest(a, b, …)`'s materializing every array first.
    static func rows(of columns: [(name: String, type: String)]) -> String {
        "(SELECT " + columns.enumerated().map { i, c in "unnest($\(i + 1)::\(c.type)[]) AS \(c.name)" }.joined(separator: ", ") + ")"
    }

    /// The routed messages of the batch announced on `sms_received`, 64 to a NOTIFY.
    static let notified = """
        (SELECT count(pg_notify('sms_received', payload)) FROM (
                    SELECT '[' || string_agg('{"message_id":' || id || ',"order_id":' || order_id || ',"received_at":"' || received_at || '"}', ',') || ']' AS payload
                    FROM (SELECT id, order_id, received_at, (row_number() OVER ()) / 64 AS chunk FROM m WHERE outcome = 'routed') r
                    GROUP BY chunk) c) AS notified
        """

    /// Parts, pending (`message_dedup_key` NULL) and consumed by a message of this
    /// batch, in key order. A pending part already stored is left as it is (it may be
    /// consumed already) and reported as a duplicate; a consumed one is written, or
    /// marked consumed unless it already is (a redelivered message's parts: an update
    /// here cannot be HOT, the pending index's predicate names the column).
    /// A part row older than the dedup window is a finished message's: a new part with
    /// its key (the same text and reference, sent again much later) takes the row over.
    static func writeParts(dedupWindowSeconds window: Int) -> String {
        """
        WITH p AS (
            INSERT INTO message_parts AS o (dedup_key, carrier, source_addr, destination_addr, reference, reference_bits, total,
                sequence, data_coding, body, locking_shift, single_shift, raw_pdu, received_at, message_dedup_key)
            SELECT * FROM \(rows(of: [
                ("dedup_key", "uuid"), ("carrier", "text"), ("source_addr", "text"), ("destination_addr", "text"),
                ("reference", "integer"), ("reference_bits", "smallint"), ("total", "smallint"), ("sequence", "smallint"),
                ("data_coding", "smallint"), ("body", "bytea"), ("locking_shift", "smallint"), ("single_shift", "smallint"),
                ("raw_pdu", "bytea"), ("received_at", "timestamptz"), ("message_dedup_key", "uuid"),
            ])) AS r
            ON CONFLICT (dedup_key) DO UPDATE SET
                message_dedup_key = EXCLUDED.message_dedup_key,
                body = CASE WHEN o.received_at <= EXCLUDED.received_at - make_interval(secs => \(window)) THEN EXCLUDED.body ELSE o.body END,
                raw_pdu = CASE WHEN o.received_at <= EXCLUDED.received_at - make_interval(secs => \(window)) THEN EXCLUDED.raw_pdu ELSE o.raw_pdu END,
                received_at = CASE WHEN o.received_at <= EXCLUDED.received_at - make_interval(secs => \(window)) THEN EXCLUDED.received_at ELSE o.received_at END
                WHERE (EXCLUDED.message_dedup_key IS NOT NULL AND o.message_dedup_key IS DISTINCT FROM EXCLUDED.message_dedup_key)
                   OR o.received_at <= EXCLUDED.received_at - make_interval(secs => \(window))
            RETURNING dedup_key)
        SELECT array_agg(u.k) AS duplicates
        FROM (SELECT unnest($1::uuid[]) AS k, unnest($15::uuid[]) AS m) AS u WHERE u.m IS NULL AND u.k NOT IN (SELECT dedup_key FROM p)
        """
    }

    /// Parses a uuid[] in text form (`{5180...,...}`) into keys.
    static func uuids(_ literal: String, into out: inout Set<DedupKey>) {
        for u in literal.utf8.split(whereSeparator: { $0 == 0x7B || $0 == 0x7D || $0 == 0x2C }) {
            if let k = DedupKey(uuid: String(decoding: u, as: UTF8.self)) { out.insert(k) }
        }
    }

    static func normalized(_ a: NormalizedAddress) -> String? {
        switch a {
        case .msisdn(let s), .alphanumeric(let s), .shortCode(let s): s
        case .invalid: nil
        }
    }


    /// The batch as 27 binary column arrays, in `insertMessages`' parameter order.
    static func columns(_ ms: [PendingMessage], extraCopies: [DedupKey: Int] = [:], full: Bool = true) -> [PostgresValue] {
        let n = ms.count
        var key = BinaryArray(.uuid, reservingCapacity: n * 20), at = BinaryArray(.timestamptz, reservingCapacity: n * 12)
        var carrier = BinaryArray(.text, reservingCapacity: n * 16), bind = BinaryArray(.text, reservingCapacity: n * 16)
        var src = BinaryArray(.text, reservingCapacity: n * 20), srcTON = BinaryArray(.int2, reservingCapacity: n * 6)
        var srcNorm = BinaryArray(.text, reservingCapacity: n * 20), dst = BinaryArray(.text, reservingCapacity: n * 20)
        var dstTON = BinaryArray(.int2, reservingCapacity: n * 6), dstNorm = BinaryArray(.text, reservingCapacity: n * 20)
        var order = BinaryArray(.int8, reservingCapacity: n * 12), version = BinaryArray(.int4, reservingCapacity: n * 8)
        var service = BinaryArray(.text, reservingCapacity: n * 16), outcome = BinaryArray(.text, reservingCapacity: n * 12)
        var mismatch = BinaryArray(.bool, reservingCapacity: n * 5), coding = BinaryArray(.int2, reservingCapacity: n * 6)
        var text = BinaryArray(.text, reservingCapacity: n * 180), invalid = BinaryArray(.bool, reservingCapacity: n * 5)
        var code = BinaryArray(.text, reservingCapacity: n * 12), confidence = BinaryArray(.float4, reservingCapacity: n * 8)
        var rule = BinaryArray(.text, reservingCapacity: n * 16), partCount = BinaryArray(.int2, reservingCapacity: n * 6)
        var missing = BinaryArray(.text, reservingCapacity: n * 4), raw = BinaryArray(.bytea, reservingCapacity: n * 240)
        // A multi-part message's PDUs: back to back in one bytea[] for the whole batch,
        // each message naming its slice (an array cannot hold arrays).
        var rawFrom = BinaryArray(.int4, reservingCapacity: n * 8), rawTo = BinaryArray(.int4, reservingCapacity: n * 8)
        var raws = BinaryArray(.bytea, reservingCapacity: n * 100)
        var copies = BinaryArray(.int2, reservingCapacity: full ? n * 6 : 0)
        var receiptID = BinaryArray(.text, reservingCapacity: full ? n * 4 : 0), receiptStat = BinaryArray(.text, reservingCapacity: full ? n * 4 : 0)
        var receiptErr = BinaryArray(.text, reservingCapacity: full ? n * 4 : 0), invalidReason = BinaryArray(.text, reservingCapacity: full ? n * 4 : 0)
        // Fields are read in place through the reference: a local copy of the decision would retain each of its strings.
        for p in ms {
            key.append(p.message.decision.dedupKey)
            at.append(timestampMillis: p.message.decision.receivedAt)
            carrier.append(p.message.decision.carrier)
            bind.append(p.message.bind)
            src.append(p.message.decision.sourceRaw)
            srcTON.append(int2: Int16(p.message.sourceTON.rawValue))
            srcNorm.append(normalized(p.message.decision.source))
            dst.append(p.message.decision.destinationRaw)
            dstTON.append(int2: Int16(p.message.destTON.rawValue))
            dstNorm.append(normalized(p.message.decision.destination))
            if let o = p.message.decision.orderID { order.append(int8: Int64(bitPattern: o)) } else { order.appendNull() }
            if let v = p.message.decision.leaseVersion { version.append(int4: Int32(bitPattern: v)) } else { version.appendNull() }
            service.append(p.message.decision.service)
            outcome.append(p.message.decision.outcome.rawValue)
            mismatch.append(bool: p.message.decision.serviceMismatch)
            coding.append(int2: Int16(p.message.decision.dataCoding))
            text.append(p.message.decision.text)
            invalid.append(bool: p.message.decision.textInvalid)
            code.append(p.message.decision.code)
            if let c = p.message.decision.confidence { confidence.append(float4: Float(c)) } else { confidence.appendNull() }
            rule.append(p.message.decision.rule)
            partCount.append(int2: Int16(clamping: p.message.decision.partCount))
            if p.message.decision.missingParts.isEmpty { missing.appendNull() } else {
                missing.append("{" + p.message.decision.missingParts.map(String.init).joined(separator: ",") + "}")
            }
            if p.message.rawPDUs.count == 1 {
                raw.append(bytea: p.message.rawPDUs[0])
                rawFrom.appendNull()
                rawTo.appendNull()
            } else {
                raw.appendNull()
                rawFrom.append(int4: Int32(raws.count + 1))
                for p in p.message.rawPDUs { raws.append(bytea: p) }
                rawTo.append(int4: Int32(raws.count))
            }
            guard full else { continue }
            copies.append(int2: Int16(clamping: extraCopies.isEmpty ? 0 : extraCopies[p.key, default: 0]))
            if let r = p.message.decision.receipt {
                receiptID.append(r.messageID)
                receiptStat.append(r.stat)
                receiptErr.append(r.err)
            } else {
                receiptID.appendNull()
                receiptStat.appendNull()
                receiptErr.appendNull()
            }
            invalidReason.append(p.message.decision.invalidReason)
        }
        let lean = [key, at, carrier, bind, src, srcTON, srcNorm, dst, dstTON, dstNorm, order, version, service, outcome,
                    mismatch, coding, text, invalid, code, confidence, rule, partCount, missing, raw, rawFrom, rawTo]
        return (full ? lean + [copies, receiptID, receiptStat, receiptErr, invalidReason, raws] : lean + [raws]).map(\.value)
    }

    /// Part rows (part, key, the message of this batch consuming it) as 15 binary
    /// column arrays, in `writeParts`' parameter order. A part inserted already
    /// consumed goes with an empty body and raw PDU: only a pending part is ever read
    /// back for them (to finish reassembly), and its message's `raw_pdus`, written in
    /// the same transaction, holds the PDU (docs/storefront-contract.md). That was a
    /// third of the part rows' WAL.
    static func columns(parts ps: [BatchPlan.PartRow]) -> [PostgresValue] {
        let n = ps.count
        var key = BinaryArray(.uuid, reservingCapacity: n * 20), carrier = BinaryArray(.text, reservingCapacity: n * 16)
        var src = BinaryArray(.text, reservingCapacity: n * 20), dst = BinaryArray(.text, reservingCapacity: n * 20)
        var ref = BinaryArray(.int4, reservingCapacity: n * 8), bits = BinaryArray(.int2, reservingCapacity: n * 6)
        var total = BinaryArray(.int2, reservingCapacity: n * 6), seq = BinaryArray(.int2, reservingCapacity: n * 6)
        var coding = BinaryArray(.int2, reservingCapacity: n * 6), body = BinaryArray(.bytea, reservingCapacity: n * 150)
        var locking = BinaryArray(.int2, reservingCapacity: n * 6), single = BinaryArray(.int2, reservingCapacity: n * 6)
        var raw = BinaryArray(.bytea, reservingCapacity: n * 220), at = BinaryArray(.timestamptz, reservingCapacity: n * 12)
        var owner = BinaryArray(.uuid, reservingCapacity: n * 20)
        for row in ps {
            let p = row.part, k = row.key, consumedBy = row.consumedBy
            key.append(k)
            carrier.append(p.key.carrier)
            src.append(p.key.source)
            dst.append(p.key.destination)
            ref.append(int4: Int32(p.key.reference))
            bits.append(int2: Int16(p.key.referenceBits))
            total.append(int2: Int16(p.key.total))
            seq.append(int2: Int16(p.sequence))
            coding.append(int2: Int16(p.dataCoding))
            body.append(bytea: consumedBy == nil ? p.body : [])
            if let l = p.lockingShift { locking.append(int2: Int16(l)) } else { locking.appendNull() }
            if let x = p.singleShift { single.append(int2: Int16(x)) } else { single.appendNull() }
            raw.append(bytea: consumedBy == nil ? p.rawPDU : [])
            at.append(timestampMillis: p.receivedAt)
            if let o = consumedBy { owner.append(o) } else { owner.appendNull() }
        }
        return [key, carrier, src, dst, ref, bits, total, seq, coding, body, locking, single, raw, at, owner].map(\.value)
    }
}
