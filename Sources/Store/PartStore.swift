public import Routing
import SMPPWire

/// Reads persisted parts back, to rebuild reassembly state after a restart.
public enum PartStore {
    /// The stored parts of one message (from any bridge): those not yet part of a
    /// stored message, and which of `ours` (the parts this bridge holds) a stored
    /// message has consumed already. A consumed row is only ever asked about by its
    /// key, so pending rows are looked up by message (`message_parts_message_idx`,
    /// partial since migration 5) and consumed ones by key, the primary key.
    public static func parts(of key: PartKey, consumedAmong ours: [DedupKey], _ db: PostgresConnection) throws
        -> (open: [Part], consumed: Set<DedupKey>) {
        var open: [Part] = []
        var consumed: Set<DedupKey> = []
        try db.stream("""
            SELECT \(partColumns), NULL AS consumed_key
            FROM message_parts
            WHERE destination_addr = $1 AND reference = $2::integer AND carrier = $3 AND source_addr = $4
              AND total = $5::smallint AND reference_bits = $6::smallint AND message_dedup_key IS NULL
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, dedup_key::text
            FROM message_parts WHERE dedup_key = ANY($7::uuid[]) AND message_dedup_key IS NOT NULL
            """, [.text(key.destination), .text(String(key.reference)), .text(key.carrier), .text(key.source),
                  .text(String(key.total)), .text(String(key.referenceBits)),
                  .text("{" + ours.map(\.hex).joined(separator: ",") + "}")]) { r in
            if let k = r["consumed_key"] {
                if let k = DedupKey(uuid: k) { consumed.insert(k) }
            } else {
                open.append(part(r, key: key))
            }
            return true
        }
        return (open, consumed)
    }

    public static func pending(_ db: PostgresConnection) throws -> [Part] {
        var out: [Part] = []
        try pending(db, chunk: .max) { out += $0 }
        return out
    }

    /// The pending parts in `received_at` order, `chunk` at a time (streamed in single-row
    /// mode): a restart with many parts pending never holds them all at once.
    public static func pending(_ db: PostgresConnection, chunk: Int, _ visit: ([Part]) throws -> Void) throws {
        var out: [Part] = []
        try db.stream("SELECT \(partColumns) FROM message_parts WHERE message_dedup_key IS NULL ORDER BY received_at") { r in
            out.append(part(r, key: partKey(r)))
            if out.count >= chunk {
                try visit(out)
                out = []
            }
            return true
        }
        if !out.isEmpty { try visit(out) }
    }

    /// The columns of a part's key, as `partKey` reads them.
    static let keyColumns = "carrier, source_addr, destination_addr, reference, reference_bits, total"
    /// The columns `part` reads (13 of them).
    static let partColumns = """
        \(keyColumns), sequence, data_coding, encode(body, 'hex') AS body, locking_shift, single_shift,
        encode(raw_pdu, 'hex') AS raw_pdu, (extract(epoch FROM received_at) * 1000)::bigint AS received_at_ms
        """

    static func partKey(_ r: PostgresRow) -> PartKey {
        PartKey(carrier: r["carrier"] ?? "", source: r["source_addr"] ?? "", destination: r["destination_addr"] ?? "",
                reference: UInt16(clamping: r.int("reference") ?? 0), referenceBits: UInt8(clamping: r.int("reference_bits") ?? 0),
                total: UInt8(clamping: r.int("total") ?? 0))
    }

    /// A stored part. Its types of number are not columns: they come from its PDU, read
    /// as leniently as evidence is (`SalvagedMessage`).
    static func part(_ r: PostgresRow, key: PartKey) -> Part {
        let raw = unhex(r["raw_pdu"] ?? "")
        let salvaged = raw.withUnsafeBytes { SalvagedMessage(pdu: $0) }
        return Part(key: key, sequence: UInt8(clamping: r.int("sequence") ?? 0), dataCoding: UInt8(clamping: r.int("data_coding") ?? 0),
                    body: unhex(r["body"] ?? ""), lockingShift: r.int("locking_shift").map { UInt8(clamping: $0) },
                    singleShift: r.int("single_shift").map { UInt8(clamping: $0) }, rawPDU: raw,
                    receivedAt: UInt64(clamping: r.int("received_at_ms") ?? 0),
                    sourceTON: salvaged.sourceTON.rawValue, destTON: salvaged.destTON.rawValue)
    }

    static func unhex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var hi: UInt8?
        for c in s.utf8 {
            let v: UInt8 = c <= 0x39 ? c - 0x30 : c - 0x61 + 10
            if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
        }
        return out
    }
}
