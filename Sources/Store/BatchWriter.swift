import Dispatch
public import Routing
public import SMPPWire
#if canImport(Glibc)
    import Glibc
#endif

/// One complete message to store, with its evidence.
public struct StoredMessage: Sendable {
    public var decision: RoutingDecision
    public var bind: String
    public var sourceTON: TON
    public var destTON: TON
    /// Every part's PDU as received.
    public var rawPDUs: [[UInt8]]
    /// For a multi-part message: its parts' dedup keys. The persisted parts are marked
    /// as consumed in the same transaction, so a restart does not rebuild them.
    public var partKeys: [DedupKey]
    public init(decision: RoutingDecision, bind: String, sourceTON: TON, destTON: TON, rawPDUs: [[UInt8]], partKeys: [DedupKey] = []) {
        self.decision = decision
        self.bind = bind
        self.sourceTON = sourceTON
        self.destTON = destTON
        self.rawPDUs = rawPDUs
        self.partKeys = partKeys
    }
}

/// What the writer stores.
public enum WriteItem: Sendable {
    case message(StoredMessage)
    /// One part of a multi-part message still being reassembled.
    case part(Part, dedupKey: DedupKey)
}

/// Writer counters for the metrics layer.
public struct WriterStats: Sendable, Hashable {
    public var queued = 0
    public var batches = 0
    public var rowsCommitted = 0
    public var duplicates = 0
    public var failures = 0
    public var reconnects = 0
    public var temporaryErrors = 0
    public var lastBatchSize = 0
    public var lastCommitMicros = 0
}

/// The single writer all sessions hand their messages to. It batches them (up to
/// `maxRows`, waiting at most `maxWait`), writes each batch as one transaction in
/// pipeline mode with `synchronous_commit` on, and only **after COMMIT succeeds**
/// calls each item's completion with ESME_ROK: that is when the session may send
/// deliver_sm_resp. A redelivered message (same dedup key) is a no-op and is acked
/// with ESME_ROK too. If the database is down, the batch is retried after a
/// reconnect; an item that cannot be committed within `commitDeadline` is answered
/// ESME_RX_T_APPN so the SMSC retries later. Nothing is acked that is not committed.
public final class BatchWriter: @unchecked Sendable {
    public struct Config: Sendable {
        public var url: String
        public var maxRows = 500
        public var maxWait: Double = 0.005
        public var commitDeadline: Double = 10
        public var reconnectDelay: Double = 0.25
        public init(url: String) { self.url = url }
    }

    public typealias Completion = @Sendable (CommandStatus) -> Void

    struct Pending {
        var item: WriteItem
        var completion: Completion
        var enqueuedAt: UInt64
    }

    public let config: Config
    private let lock = Locked<[Pending]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let statsLock = Locked(WriterStats())
    private var db: PostgresConnection?
    private var ensuredMonths: Set<Int> = []
    private var everConnected = false
    private var running = true
    private let thread: DispatchQueue
    private let stopped = DispatchSemaphore(value: 0)

    public init(config: Config) {
        self.config = config
        thread = DispatchQueue(label: "smpp.store.writer")
        thread.async { [self] in loop() }
    }

    public var stats: WriterStats { statsLock.withLock { $0 } }

    /// Queues an item; `completion` runs (on the writer's queue) after COMMIT, or with a temporary error.
    public func submit(_ item: WriteItem, completion: @escaping Completion) {
        lock.withLock { $0.append(Pending(item: item, completion: completion, enqueuedAt: monotonic())) }
        statsLock.withLock { $0.queued += 1 }
        wake.signal()
    }

    /// Writes what is queued, then stops (final flush on shutdown). Waits at most `timeout`.
    public func stop(timeout: Double = 10) {
        lock.withLock { _ in running = false }
        wake.signal()
        _ = stopped.wait(timeout: .now() + timeout)
    }

    public var queueDepth: Int { lock.withLock { $0.count } }

    private func loop() {
        while true {
            _ = wake.wait(timeout: .now() + 0.1)
            // Group commit: let a batch fill for up to maxWait once something arrived.
            if lock.withLock({ $0.count }) > 0 && lock.withLock({ $0.count }) < config.maxRows {
                usleep(UInt32(config.maxWait * 1_000_000))
            }
            let (batch, keepRunning) = lock.withLock { q -> ([Pending], Bool) in
                let n = min(q.count, config.maxRows)
                let b = Array(q.prefix(n))
                q.removeFirst(n)
                return (b, running || !q.isEmpty)
            }
            if !batch.isEmpty { write(batch) }
            if !keepRunning && lock.withLock({ $0.isEmpty }) { break }
        }
        stopped.signal()
    }

    private func write(_ batch: [Pending]) {
        var remaining = batch
        while !remaining.isEmpty {
            // Past the deadline: a temporary error, so the SMSC redelivers later.
            let now = monotonic()
            let expired = remaining.filter { now - $0.enqueuedAt > UInt64(config.commitDeadline * 1e9) }
            if !expired.isEmpty {
                statsLock.withLock { $0.temporaryErrors += expired.count }
                for p in expired { p.completion(.temporaryAppError) }
                remaining.removeAll { now - $0.enqueuedAt > UInt64(config.commitDeadline * 1e9) }
                if remaining.isEmpty { return }
            }
            do {
                let conn = try connection()
                let start = monotonic()
                let dup = try commit(remaining, conn)
                let micros = Int((monotonic() - start) / 1000)
                statsLock.withLock {
                    $0.batches += 1
                    $0.rowsCommitted += remaining.count - dup
                    $0.duplicates += dup
                    $0.lastBatchSize = remaining.count
                    $0.lastCommitMicros = micros
                }
                for p in remaining { p.completion(.ok) }  // only now: COMMIT has succeeded
                return
            } catch {
                statsLock.withLock { $0.failures += 1 }
                if let e = error as? PostgresError, !e.isConnectionFailure, db?.isHealthy == true {
                    // A statement error that will not cure itself (bad data): do not ack; let the SMSC retry later.
                    statsLock.withLock { $0.temporaryErrors += remaining.count }
                    for p in remaining { p.completion(.temporaryAppError) }
                    return
                }
                db = nil
                usleep(UInt32(config.reconnectDelay * 1_000_000))
            }
        }
    }

    private func connection() throws -> PostgresConnection {
        if let db, db.isHealthy { return db }
        let c = try PostgresConnection(config.url, applicationName: "smpp-bridge-writer")
        try c.execute("SET synchronous_commit = on")
        if everConnected { statsLock.withLock { $0.reconnects += 1 } }
        everConnected = true
        db = c
        ensuredMonths = []
        return c
    }

    /// One transaction: BEGIN, the rows, COMMIT, in one pipeline. Returns how many were duplicates.
    private func commit(_ batch: [Pending], _ conn: PostgresConnection) throws -> Int {
        // Monthly partitions for the rows' timestamps.
        for p in batch {
            guard case .message(let m) = p.item else { continue }
            let month = Int(m.decision.receivedAt / 1000 / 86400 / 28)
            if !ensuredMonths.contains(month) {
                try conn.execute("SELECT bridge_ensure_month(to_timestamp($1::double precision / 1000))", [.text(String(m.decision.receivedAt))])
                ensuredMonths.insert(month)
            }
        }
        var statements: [(String, [PostgresValue])] = [("BEGIN", [])]
        var partUpdates: [(String, [PostgresValue])] = []
        for p in batch {
            switch p.item {
            case .message(let m):
                statements.append((Self.insertMessage, Self.params(m)))
                if !m.partKeys.isEmpty {
                    partUpdates.append(("UPDATE message_parts SET message_dedup_key = $1 WHERE dedup_key = ANY($2::text[])",
                                        [.text(m.decision.dedupKey.hex), .text("{" + m.partKeys.map(\.hex).joined(separator: ",") + "}")]))
                }
            case .part(let part, let key): statements.append((Self.insertPart, Self.params(part, key)))
            }
        }
        let inserts = statements.count - 1
        statements += partUpdates
        statements.append(("COMMIT", []))
        let results = try conn.pipeline(statements)
        // Each insert reports 1 row written, or 0 for a duplicate.
        return results[1...inserts].filter { $0.affected == 0 && $0.rows.isEmpty }.count
    }

    static let insertMessage = """
        WITH d AS (
            INSERT INTO message_dedup (dedup_key, received_at) VALUES ($1, to_timestamp($2::double precision / 1000))
            ON CONFLICT DO NOTHING RETURNING dedup_key),
        m AS (
            INSERT INTO messages (received_at, carrier, bind, source_addr, source_ton, source_normalized, destination_addr,
                destination_ton, destination_normalized, order_id, lease_version, service, outcome, service_mismatch,
                data_coding, text, text_invalid, otp_code, otp_confidence, otp_rule, part_count, missing_parts, dedup_key, raw_pdus)
            SELECT to_timestamp($2::double precision / 1000), $3, $4, $5, $6::smallint, $7, $8, $9::smallint, $10, $11::bigint,
                $12::integer, $13, $14, $15::boolean, $16::smallint, $17, $18::boolean, $19, $20::real, $21, $22::smallint,
                $23::smallint[], $1, $24::bytea[]
            FROM d RETURNING id, order_id, outcome)
        SELECT m.id FROM m LEFT JOIN LATERAL (
            SELECT pg_notify('sms_received', json_build_object('message_id', m.id, 'order_id', m.order_id)::text)
            WHERE m.outcome = 'routed') n ON true
        """

    static let insertPart = """
        INSERT INTO message_parts (dedup_key, carrier, source_addr, destination_addr, reference, reference_bits, total,
            sequence, data_coding, body, locking_shift, single_shift, raw_pdu, received_at)
        VALUES ($1, $2, $3, $4, $5::integer, $6::smallint, $7::smallint, $8::smallint, $9::smallint, $10::bytea,
            $11::smallint, $12::smallint, $13::bytea, to_timestamp($14::double precision / 1000))
        ON CONFLICT DO NOTHING
        """

    static func normalized(_ a: NormalizedAddress) -> PostgresValue {
        switch a {
        case .msisdn(let s), .alphanumeric(let s), .shortCode(let s): .text(s)
        case .invalid: .null
        }
    }

    /// PostgreSQL text cannot hold NUL: a decoded U+0000 is stored as U+FFFD.
    static func clean(_ s: String) -> String { s.contains("\u{0}") ? s.replacingNUL() : s }

    static func params(_ m: StoredMessage) -> [PostgresValue] {
        let d = m.decision
        let pdus = "{" + m.rawPDUs.map { "\"\\\\x" + hexBytes($0) + "\"" }.joined(separator: ",") + "}"
        return [
            .text(d.dedupKey.hex), .text(String(d.receivedAt)), .text(d.carrier), .text(m.bind), .text(clean(d.sourceRaw)),
            .text(String(m.sourceTON.rawValue)), normalized(d.source), .text(clean(d.destinationRaw)), .text(String(m.destTON.rawValue)),
            normalized(d.destination), d.orderID.map { .text(String($0)) } ?? .null, d.leaseVersion.map { .text(String($0)) } ?? .null,
            d.service.map { .text($0) } ?? .null, .text(d.outcome.rawValue), .text(d.serviceMismatch ? "true" : "false"),
            .text(String(d.dataCoding)), .text(clean(d.text)), .text(d.textInvalid ? "true" : "false"), d.code.map { .text($0) } ?? .null,
            d.confidence.map { .text(String($0)) } ?? .null, d.rule.map { .text($0) } ?? .null, .text(String(d.partCount)),
            .text("{" + d.missingParts.map(String.init).joined(separator: ",") + "}"), .text(pdus),
        ]
    }

    static func params(_ p: Part, _ key: DedupKey) -> [PostgresValue] {
        [
            .text(key.hex), .text(p.key.carrier), .text(clean(p.key.source)), .text(clean(p.key.destination)), .text(String(p.key.reference)),
            .text(String(p.key.referenceBits)), .text(String(p.key.total)), .text(String(p.sequence)), .text(String(p.dataCoding)),
            .bytes(p.body), p.lockingShift.map { .text(String($0)) } ?? .null, p.singleShift.map { .text(String($0)) } ?? .null,
            .bytes(p.rawPDU), .text(String(p.receivedAt)),
        ]
    }
}

extension String {
    func replacingNUL() -> String {
        var out = String.UnicodeScalarView()
        for u in unicodeScalars { out.append(u.value == 0 ? "\u{FFFD}" : u) }
        return String(out)
    }
}

func monotonic() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Reads persisted parts back, to rebuild reassembly state after a restart.
public enum PartStore {
    public static func pending(_ db: PostgresConnection) throws -> [Part] {
        var out: [Part] = []
        try db.stream("""
            SELECT carrier, source_addr, destination_addr, reference, reference_bits, total, sequence, data_coding,
                   encode(body, 'hex'), locking_shift, single_shift, encode(raw_pdu, 'hex'),
                   (extract(epoch FROM received_at) * 1000)::bigint
            FROM message_parts WHERE message_dedup_key IS NULL ORDER BY received_at
            """) { r in
            func i(_ k: Int) -> Int { Int(r[k] ?? "0") ?? 0 }
            let key = PartKey(carrier: r[0] ?? "", source: r[1] ?? "", destination: r[2] ?? "", reference: UInt16(i(3)),
                              referenceBits: UInt8(i(4)), total: UInt8(i(5)))
            out.append(Part(key: key, sequence: UInt8(i(6)), dataCoding: UInt8(i(7)), body: unhex(r[8] ?? ""),
                            lockingShift: r[9].flatMap { UInt8($0) }, singleShift: r[10].flatMap { UInt8($0) },
                            rawPDU: unhex(r[11] ?? ""), receivedAt: UInt64(i(12))))
            return true
        }
        return out
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
