public import Routing
import SMPPWire

/// Late matching: a message that reached the bridge before its lease did (the
/// storefront inserted the lease, and the customer's SMS beat the NOTIFY) is stored
/// `unmatched`. When a lease is applied that covers such messages, they are routed
/// in place: outcome, order, service and code set, `late_matched_at` stamped, the
/// commit cursor moved (so catch-up readers see them), and `sms_received` sent, in
/// one transaction. The `outcome = 'unmatched'` guard under the row lock makes it
/// exactly once, however many bridges or operators run it at the same time.
public enum LateMatcher {
    /// One message routed late (or that would be, in a dry run).
    public struct Match: Sendable, Hashable {
        public var messageID: Int64
        public var receivedAt: String
        public var msisdn: String
        public var carrier: String
        public var orderID: Int64
        public var service: String?
        public var code: String?
    }

    /// Routes the unmatched messages received within the last `lookbackSeconds` that a
    /// lease covers (all numbers, or only `msisdns`). Returns what it routed.
    @discardableResult
    public static func run(_ db: PostgresConnection, msisdns: [String]? = nil, lookbackSeconds: Int, dryRun: Bool = false,
                           extractor: OTPExtractor) throws -> [Match] {
        guard lookbackSeconds > 0 else { return [] }
        try db.execute("SET TimeZone = 'UTC'")
        var found: [(match: Match, version: Int32, mismatch: Bool, confidence: Double?, rule: String?)] = []
        try db.stream("""
            SELECT m.id, m.received_at::text AS received_at, m.destination_normalized AS msisdn, m.text,
                   COALESCE(m.source_normalized, m.source_addr) AS sender, m.data_coding,
                   l.order_id, l.service, l.version, m.carrier
            FROM messages m
            JOIN LATERAL (
                SELECT order_id, service, version FROM leases l
                WHERE l.msisdn = m.destination_normalized AND l.starts_at <= m.received_at
                  AND m.received_at < CASE WHEN l.status = 'active' THEN l.expires_at ELSE LEAST(l.expires_at, l.updated_at) END
                ORDER BY l.starts_at DESC, l.order_id DESC LIMIT 1) l ON true
            WHERE m.outcome = 'unmatched' AND m.received_at > now() - make_interval(secs => $1::int)
              AND ($2::text[] IS NULL OR m.destination_normalized = ANY($2::text[]))
            ORDER BY m.received_at
            """, [.text(String(lookbackSeconds)), msisdns.map { ns in var a = BinaryArray(.text); for n in ns { a.append(n) }; return a.value } ?? .null]) { r in
            guard let id = r["id"].flatMap({ Int64($0) }), let at = r["received_at"], let number = r["msisdn"],
                let order = r["order_id"].flatMap({ Int64($0) }) else { return true }
            let text = r["text"] ?? ""
            let coding = DataCoding(UInt8(clamping: r.int("data_coding") ?? 0))
            let c = extractor.decide(text: text, isBinary: coding.isBinaryForOTP, sender: r["sender"] ?? "", leaseService: r["service"])
            found.append((Match(messageID: id, receivedAt: at, msisdn: number, carrier: r["carrier"] ?? "", orderID: order, service: c.service, code: c.code),
                          Int32(r["version"] ?? "0") ?? 0, c.serviceMismatch, c.confidence, c.rule))
            return true
        }
        guard !dryRun, !found.isEmpty else { return found.map(\.match) }
        var ids = BinaryArray(.int8), at = BinaryArray(.text), orders = BinaryArray(.int8), versions = BinaryArray(.int4)
        var services = BinaryArray(.text), codes = BinaryArray(.text), confidences = BinaryArray(.float4), rules = BinaryArray(.text)
        var mismatches = BinaryArray(.bool)
        for f in found {
            ids.append(int8: f.match.messageID)
            at.append(f.match.receivedAt)
            orders.append(int8: f.match.orderID)
            versions.append(int4: f.version)
            services.append(f.match.service)
            codes.append(f.match.code)
            if let c = f.confidence { confidences.append(float4: Float(c)) } else { confidences.appendNull() }
            rules.append(f.rule)
            mismatches.append(bool: f.mismatch)
        }
        try db.execute("BEGIN")
        do {
            let result = try db.execute("""
                WITH v AS (
                    SELECT unnest($1::bigint[]) AS id, unnest($2::text[])::timestamptz AS received_at, unnest($3::bigint[]) AS order_id,
                           unnest($4::integer[]) AS version, unnest($5::text[]) AS service, unnest($6::text[]) AS code,
                           unnest($7::real[]) AS confidence, unnest($8::text[]) AS rule, unnest($9::boolean[]) AS mismatch),
                m AS (
                    UPDATE messages m SET outcome = 'routed', order_id = v.order_id, lease_version = v.version, service = v.service,
                        otp_code = v.code, otp_confidence = v.confidence, otp_rule = v.rule, service_mismatch = v.mismatch,
                        late_matched_at = clock_timestamp(), commit_txid = txid_current()
                    FROM v WHERE m.id = v.id AND m.received_at = v.received_at AND m.outcome = 'unmatched'
                    RETURNING m.id, m.order_id, m.received_at, m.outcome)
                SELECT \(BatchSQL.notified), (SELECT array_agg(id) FROM m) AS routed
                """, [ids.value, at.value, orders.value, versions.value, services.value, codes.value, confidences.value,
                      rules.value, mismatches.value])
            try db.execute("COMMIT")
            let routed = Set((result[firstRow: "routed"] ?? "").split(whereSeparator: { "{},".contains($0) }).compactMap { Int64($0) })
            return found.map(\.match).filter { routed.contains($0.messageID) }
        } catch {
            _ = try? db.execute("ROLLBACK")
            throw error
        }
    }
}

extension DataCoding {
    /// Binary content (8-bit data and the like) carries no text to find a code in.
    var isBinaryForOTP: Bool {
        let empty: [UInt8] = []
        return empty.withUnsafeBytes { TextDecoder.decode(userData: UserData($0, udhi: false), dataCoding: self).isBinary }
    }
}
