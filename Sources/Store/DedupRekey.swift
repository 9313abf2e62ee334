import Routing
import SMPPWire

/// Migration 7's Swift step: the dedup keys stored inside the window, recomputed
/// from the stored evidence with the SHA-256 key (`DedupKey`), so that a
/// redelivery of a message stored before the upgrade is still found. Keys older
/// than the window no longer identify anything and keep their old value.
///
/// Runs inside the migration's transaction, under the migration lock: all of it or
/// none. Upgrade every bridge sharing a database together (docs/operations.md).
enum DedupRekey {
    struct Stats: Sendable, Hashable {
        var messages = 0
        var parts = 0
        var undecodable = 0
    }

    @discardableResult
    static func run(_ db: PostgresConnection, windowSeconds: Int) throws -> Stats {
        var stats = Stats()
        var routers: [String: SessionRouter] = [:]
        let table = LeaseTable()
        let extractor = OTPExtractor()
        func router(_ carrier: String) -> SessionRouter {
            if let r = routers[carrier] { return r }
            let r = SessionRouter(carrier: CarrierProfile(name: carrier, plan: .uk), table: table, reassembler: Reassembler(),
                                  extractor: extractor)
            routers[carrier] = r
            return r
        }
        // Messages: (old key, new key), and their consumed parts: (old message key, sequence, new part key).
        var oldKeys = BinaryArray(.uuid), newKeys = BinaryArray(.uuid)
        var partOwner = BinaryArray(.uuid), partSequence = BinaryArray(.int2), partNewKey = BinaryArray(.uuid),
            partNewOwner = BinaryArray(.uuid)
        try db.stream("""
            SELECT d.dedup_key::text AS dedup_key, m.carrier,
                   array_to_string(ARRAY(SELECT encode(x, 'hex') FROM unnest(m.raw_pdus) AS x), ',') AS raw_pdus
            FROM message_dedup d JOIN messages m ON m.id = d.message_id AND m.received_at = d.received_at
            WHERE d.received_at > now() - make_interval(secs => $1::int)
            """, [.text(String(windowSeconds))]) { r in
            guard let old = r["dedup_key"].flatMap(DedupKey.init(uuid:)), let carrier = r["carrier"] else { return true }
            let pdus = (r["raw_pdus"] ?? "").split(separator: ",").map { PartStore.unhex(String($0)) }
            guard let keys = router(carrier).storedKeys(rawPDUs: pdus) else {
                stats.undecodable += 1
                return true
            }
            oldKeys.append(old)
            newKeys.append(keys.message)
            stats.messages += 1
            for p in keys.parts {
                partOwner.append(old)
                partSequence.append(int2: Int16(p.sequence))
                partNewKey.append(DedupKey.part(p))
                partNewOwner.append(keys.message)
            }
            return true
        }
        if stats.messages > 0 {
            try db.execute("""
                WITH k AS (SELECT unnest($1::uuid[]) AS old, unnest($2::uuid[]) AS new),
                d AS (UPDATE message_dedup SET dedup_key = k.new FROM k WHERE dedup_key = k.old RETURNING message_id, received_at, k.new)
                UPDATE messages m SET dedup_key = d.new FROM d WHERE m.id = d.message_id AND m.received_at = d.received_at
                """, [oldKeys.value, newKeys.value])
            let updated = try db.execute("""
                UPDATE message_parts SET dedup_key = u.key, message_dedup_key = u.owner
                FROM (SELECT unnest($1::uuid[]) AS old_owner, unnest($2::smallint[]) AS seq, unnest($3::uuid[]) AS key,
                             unnest($4::uuid[]) AS owner) AS u
                WHERE message_dedup_key = u.old_owner AND sequence = u.seq
                """, [partOwner.value, partSequence.value, partNewKey.value, partNewOwner.value])
            stats.parts += updated.affected
        }
        // Pending parts: their rows hold everything their key covers.
        var pendingOld = BinaryArray(.uuid), pendingNew = BinaryArray(.uuid)
        var pendingCount = 0
        try db.stream("""
            SELECT dedup_key::text AS dedup_key, \(PartStore.keyColumns), sequence, data_coding, encode(body, 'hex') AS body
            FROM message_parts WHERE message_dedup_key IS NULL
            """) { r in
            guard let old = r["dedup_key"].flatMap(DedupKey.init(uuid:)) else { return true }
            let part = Part(key: PartStore.partKey(r), sequence: UInt8(clamping: r.int("sequence") ?? 0),
                            dataCoding: UInt8(clamping: r.int("data_coding") ?? 0), body: PartStore.unhex(r["body"] ?? ""), receivedAt: 0)
            pendingOld.append(old)
            pendingNew.append(DedupKey.part(part))
            pendingCount += 1
            return true
        }
        if pendingCount > 0 {
            let updated = try db.execute("""
                UPDATE message_parts SET dedup_key = u.new
                FROM (SELECT unnest($1::uuid[]) AS old, unnest($2::uuid[]) AS new) AS u WHERE dedup_key = u.old
                """, [pendingOld.value, pendingNew.value])
            stats.parts += updated.affected
        }
        return stats
    }
}
