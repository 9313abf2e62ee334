import Dispatch
public import Routing
import Locking
import Synchronization
@_spi(CommitProof) public import SMPPWire
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
    /// For a multi-part message: every part. Their rows are written (or updated) as
    /// consumed by this message in the same transaction, so a bridge that holds one
    /// of them, stored or still arriving, sees that the message is stored.
    public var parts: [Part] = []
    public init(decision: RoutingDecision, bind: String, sourceTON: TON, destTON: TON, rawPDUs: [[UInt8]], parts: [Part] = []) {
        self.parts = parts
        self.decision = decision
        self.bind = bind
        self.sourceTON = sourceTON
        self.destTON = destTON
        self.rawPDUs = rawPDUs
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
    /// Batches written again with `ON CONFLICT DO NOTHING` after a plain insert met a
    /// stored dedup key (see `BatchWriter.insertNewMessages`).
    public var dedupRetries = 0
    public var lastBatchSize = 0
    public var lastCommitMicros = 0
    public var lastError: String?
    /// Batches split because one of their rows was refused by the database.
    public var batchSplits = 0
    /// Rows the database refused on their own (answered with a temporary error).
    public var rejectedRows = 0
    /// Since when (monotonic ns) every attempt to commit has failed; nil once one succeeds.
    public var failingSince: UInt64?
    /// When (monotonic ns) a batch last committed; nil before the first.
    public var lastCommitAt: UInt64?
    /// The server (host:port) the last connection reached, and whether it was in recovery (a standby: it cannot take writes).
    public var server: String?
    public var serverInRecovery = false
}

/// Receives each committed batch's size and commit time, for histograms.
public protocol WriterObserver: AnyObject, Sendable {
    func writer(committed rows: Int, duplicates: Int, commitMicros: Int)
    func writerFailed(_ error: PostgresError)
}

/// The single writer all sessions hand their messages to. It batches them (a batch
/// goes once `targetRows` are queued, taking up to `maxRows`, or once its oldest item
/// has waited `maxWait`), writes each batch as
/// one transaction (one pipelined round trip: BEGIN, one `unnest` INSERT per table,
/// COMMIT) with `synchronous_commit` on, and only **after COMMIT succeeds** calls
/// each item's completion with ESME_ROK: that is when the session may send
/// deliver_sm_resp. A redelivered message (same dedup key) is a no-op and is acked
/// with ESME_ROK too. If the database is down, the batch is retried after a
/// reconnect; an item that cannot be committed within `commitDeadline` is answered
/// ESME_RX_T_APPN so the SMSC retries later. Nothing is acked that is not committed.
///
/// `connections` workers take batches from one queue, so one batch fills while
/// another commits (the WAL flush is the wait that group commit amortizes). A
/// retried batch whose first COMMIT did reach the server is harmless: the dedup
/// key makes the second a no-op. Rows are sorted by dedup key within a batch so
/// that two workers inserting the same redelivered keys lock them in one order
/// (no deadlock).
public final class BatchWriter: @unchecked Sendable {
    public struct Config: Sendable {
        public var url: String
        public var maxRows = 1000
        /// A batch goes as soon as this many items are queued (at most `maxRows`),
        /// without waiting out `maxWait` for more. 64 rows already spread a commit's
        /// fixed cost (the round trip and the WAL flush) thin; waiting past that only
        /// adds latency, and when an SMSC's window bounds the traffic it costs
        /// throughput too: the SMSC sends more only once acks free its window, so a
        /// batch waiting to fill waits for items that cannot come until it commits
        /// (8 binds × window 64 can never make 1000 rows). bench-e2e at saturation:
        /// 58–62k msgs/s waiting for 1000 rows, 73–76k at 64; at a fixed 10k msgs/s
        /// (batches of ~23) nothing changed, CPU and p99 included.
        public var targetRows = 64
        public var maxWait: Double = 0.002
        /// A batch stops taking rows at this many bytes of PDUs and text, so a carrier
        /// sending large messages (64 KiB message_payloads) cannot make one commit, and
        /// with it every other carrier's acks, long. Ordinary SMS weigh ~300 bytes a row:
        /// a full batch of them stays far below.
        public var maxBatchBytes = 1 << 20
        public var commitDeadline: Double = 10
        /// The first retry waits this long; each failed attempt in a row doubles it, up to `maxReconnectDelay`.
        public var reconnectDelay: Double = 0.25
        public var maxReconnectDelay: Double = 5
        public var connections = 2
        public var statementTimeoutMillis = 30_000
        /// A stored message is a redelivery target for this long after it was first
        /// received; an identical message after that is a new message (docs/operations.md,
        /// "Redeliveries and the dedup window").
        public var dedupWindowSeconds = Config.defaultDedupWindowSeconds
        public static let defaultDedupWindowSeconds = 3600
        public init(url: String) { self.url = url }
    }

    public typealias Completion = @Sendable (CommandStatus) -> Void

    /// How one item ended: ESME_ROK once committed (or found already stored inside
    /// the dedup window: `duplicate`, recorded on the stored message), ESME_RX_T_APPN
    /// when it could not be committed in time.
    public struct Result: Sendable, Hashable {
        /// Present only once COMMIT has returned: the one way to ack with ESME_ROK.
        public let committed: CommitProof?
        public let duplicate: Bool
        public var status: CommandStatus { committed == nil ? .temporaryAppError : .ok }
        /// Not committed in time (or refused): the SMSC is answered ESME_RX_T_APPN and retries.
        static let notStored = Result(committed: nil, duplicate: false)
    }

    /// A class, not a struct: a batch moves through the queue, the retry loop and the
    /// statement builder, and each copy of a struct holding a StoredMessage retained
    /// every string and array in it (perf: retain/release were 39% of the writer
    /// process at batch 1000). The message is a stored property of its own, not an
    /// enum payload: the statement builder reads its fields in place through the
    /// reference, where taking it out of a `WriteItem` copied it, retaining and later
    /// releasing each of its ~15 strings and arrays (perf: the writer threads'
    /// retain/release was a third of their CPU at saturation).
    final class Pending {
        let message: StoredMessage?
        let part: Part?
        let completion: @Sendable (Result) -> Void
        let enqueuedAt: UInt64
        let key: DedupKey
        /// The writer queue's lane: one per carrier, so that one carrier's flood queues behind itself.
        let lane: Int
        /// What the row will weigh in a batch: its PDUs and text, in bytes.
        let bytes: Int
        init(item: consuming WriteItem, completion: @escaping @Sendable (Result) -> Void, enqueuedAt: UInt64) {
            self.completion = completion
            self.enqueuedAt = enqueuedAt
            switch consume item {
            case .message(let m):
                key = m.decision.dedupKey
                lane = m.decision.carrier.hashValue
                bytes = m.rawPDUs.reduce(0) { $0 + $1.count } + m.decision.text.utf8.count
                message = m
                part = nil
            case .part(let p, let k):
                key = k
                lane = p.key.carrier.hashValue
                bytes = p.rawPDU.count + p.body.count
                message = nil
                part = p
            }
        }
    }

    public let config: Config
    public weak var observer: (any WriterObserver)?
    private let queue: WorkQueue<Pending>
    private let statsLock = Locked(WriterStats())
    private let workers: Int
    private let finished = DispatchSemaphore(value: 0)
    /// Until when (monotonic ns) batches are written with `ON CONFLICT DO NOTHING`:
    /// set for `conflictHold` seconds by a batch that met a stored key, because
    /// redeliveries come in runs (an SMSC resends its window after a reconnect).
    private let conflictsUntil = Atomic<UInt64>(0)
    static let conflictHold: Double = 30

    public init(config: Config) {
        self.config = config
        queue = WorkQueue(target: min(max(1, config.targetRows), config.maxRows))
        workers = max(1, config.connections)
        for i in 0..<workers {
            detachThread { [self] in Worker(writer: self, index: i).run() }
        }
    }

    public var stats: WriterStats { statsLock.withLock { $0 } }

    /// Queues an item; `completion` runs (on a writer thread) after COMMIT, or with a temporary error.
    public func submit(_ item: WriteItem, completion: @escaping Completion) {
        submit(item, onResult: { completion($0.status) })
    }

    /// As `submit(_:completion:)`, telling also whether the item was a duplicate.
    public func submit(_ item: consuming WriteItem, onResult: @escaping @Sendable (Result) -> Void) {
        let p = Pending(item: item, completion: onResult, enqueuedAt: monotonic())
        queue.push(p, lane: p.lane, cost: p.bytes)
        statsLock.withLock { $0.queued += 1 }
    }

    /// Writes what is queued, then stops (final flush on shutdown). Waits at most `timeout`.
    public func stop(timeout: Double = 10) {
        queue.close()
        for _ in 0..<workers { _ = finished.wait(timeout: .now() + timeout) }
    }

    public var queueDepth: Int { queue.count }

    /// One connection and its loop.
    private final class Worker {
        let writer: BatchWriter
        let index: Int
        var db: PostgresConnection?
        var ensuredMonths: Set<Int> = []
        var everConnected = false
        var failedToConnect = false
        init(writer: BatchWriter, index: Int) { self.writer = writer; self.index = index }

        func run() {
            let cfg = writer.config
            while let batch = writer.queue.take(max: cfg.maxRows, maxCost: cfg.maxBatchBytes, maxWait: cfg.maxWait) { write(batch) }
            writer.finished.signal()
        }

        func write(_ batch: [Pending]) {
            let cfg = writer.config
            var remaining = batch
            var attempt = 0
            while !remaining.isEmpty {
                // Past the deadline: a temporary error, so the SMSC redelivers later.
                let now = monotonic()
                let deadline = UInt64(cfg.commitDeadline * 1e9)
                let expired = remaining.filter { now &- $0.enqueuedAt > deadline }
                if !expired.isEmpty {
                    writer.statsLock.withLock { $0.temporaryErrors += expired.count }
                    for p in expired { p.completion(.notStored) }
                    remaining.removeAll { now &- $0.enqueuedAt > deadline }
                    if remaining.isEmpty { return }
                }
                do {
                    let conn = try connection()
                    let start = monotonic()
                    let stored = try commit(remaining, conn)
                    let micros = Int((monotonic() - start) / 1000)
                    var seen: Set<DedupKey> = []
                    seen.reserveCapacity(remaining.count)
                    var dup = 0
                    var results: [Bool] = []
                    results.reserveCapacity(remaining.count)
                    for p in remaining {
                        // The first item with a key not stored before stored it; any other with that key was a duplicate.
                        let isNew = !stored.contains(p.key) && seen.insert(p.key).inserted
                        if !isNew { dup += 1 }
                        results.append(!isNew)
                    }
                    let inserted = remaining.count - dup
                    writer.statsLock.withLock {
                        $0.batches += 1
                        $0.rowsCommitted += inserted
                        $0.failingSince = nil
                        $0.lastCommitAt = monotonic()
                        $0.duplicates += dup
                        $0.lastBatchSize = remaining.count
                        $0.lastCommitMicros = micros
                    }
                    writer.observer?.writer(committed: remaining.count, duplicates: dup, commitMicros: micros)
                    let proof = CommitProof()  // only now: COMMIT has returned
                    for (p, d) in zip(remaining, results) { p.completion(Result(committed: proof, duplicate: d)) }
                    return
                } catch {
                    let e = error as? PostgresError ?? PostgresError(operation: "write", message: "\(error)", sqlState: nil)
                    writer.statsLock.withLock {
                        $0.failures += 1
                        $0.lastError = e.description
                        if $0.failingSince == nil { $0.failingSince = monotonic() }
                    }
                    writer.observer?.writerFailed(e)
                    if !e.isConnectionFailure, !e.isTransient, db?.isHealthy == true {
                        _ = try? db?.execute("ROLLBACK")
                        // A statement error that will not cure itself (bad data) fails the whole
                        // batch: split it, so that its good rows commit and only the bad one is
                        // answered with a temporary error (the SMSC retries it later; nothing is
                        // acked that is not stored). log2(batch) rounds at most.
                        if remaining.count > 1 {
                            writer.statsLock.withLock { $0.batchSplits += 1 }
                            let half = remaining.count / 2
                            write(Array(remaining[..<half]))
                            write(Array(remaining[half...]))
                            return
                        }
                        writer.statsLock.withLock { $0.temporaryErrors += remaining.count; $0.rejectedRows += remaining.count }
                        for p in remaining { p.completion(.notStored) }
                        return
                    }
                    if !e.isTransient { db = nil }
                    // Backoff with jitter; never past the oldest item's deadline, which is answered then.
                    let delay = min(cfg.maxReconnectDelay, cfg.reconnectDelay * Double(1 << min(attempt, 10))) * Double.random(in: 0.8...1.2)
                    let oldest = remaining.map(\.enqueuedAt).min() ?? monotonic()
                    let untilDeadline = max(0, Double(Int64(oldest &+ UInt64(cfg.commitDeadline * 1e9)) - Int64(monotonic())) / 1e9)
                    attempt += 1
                    usleep(UInt32(max(0.001, min(delay, untilDeadline + 0.001)) * 1_000_000))
                }
            }
        }

        func connection() throws -> PostgresConnection {
            if let db, db.isHealthy { return db }
            db = nil
            let c: PostgresConnection
            do {
                c = try PostgresConnection(writer.config.url, applicationName: "smpp-bridge-writer",
                                           statementTimeoutMillis: writer.config.statementTimeoutMillis)
            } catch {
                failedToConnect = true
                throw error
            }
            try c.execute("SET synchronous_commit = on")
            let recovery = try c.execute("SELECT pg_is_in_recovery() AS in_recovery")[firstRow: "in_recovery"] == "t"
            writer.statsLock.withLock { $0.server = c.server; $0.serverInRecovery = recovery }
            // received_at in sms_received as `2026-12-06 05:18:23.123+00`, whatever the server's zone.
            try c.execute("SET TimeZone = 'UTC'")
            let window = writer.config.dedupWindowSeconds
            try c.prepare("insert_messages", BatchWriter.insertMessages(dedupWindowSeconds: window))
            try c.prepare("insert_new_messages", BatchWriter.insertNewMessages(full: false))
            try c.prepare("insert_new_messages_full", BatchWriter.insertNewMessages(full: true))
            try c.prepare("write_parts", BatchWriter.writeParts(dedupWindowSeconds: window))
            // A reconnect is any connection after trouble: also a worker's first one, when
            // its first attempts failed (the database went away before it ever needed it).
            if everConnected || failedToConnect { writer.statsLock.withLock { $0.reconnects += 1 } }
            everConnected = true
            failedToConnect = false
            db = c
            ensuredMonths = []
            return c
        }

        /// One transaction: BEGIN, the rows, COMMIT, in one pipeline. Returns the keys
        /// that were stored before (redeliveries); every other key is stored now.
        func commit(_ batch: [Pending], _ conn: PostgresConnection) throws -> Set<DedupKey> {
            var parts: [(Part, DedupKey)] = []
            var seen: Set<DedupKey> = []
            seen.reserveCapacity(batch.count)
            // The messages stay behind their references (sorting them moves pointers, and
            // their fields are read in place; see `Pending`).
            var messages: [Pending] = []
            messages.reserveCapacity(batch.count)
            // Copies of a message beyond the first in this batch: redeliveries already (an
            // SMSC resending before the first copy's ack), recorded on the stored row.
            var extraCopies: [DedupKey: Int] = [:]
            for p in batch.sorted(by: { $0.key < $1.key }) {
                if p.message != nil {
                    // Monthly partitions for the rows' timestamps (created once per connection and month).
                    let receivedAt = p.message!.decision.receivedAt
                    let month = BatchWriter.monthIndex(receivedAt)
                    if !ensuredMonths.contains(month) {
                        try conn.execute("SELECT bridge_ensure_month(to_timestamp($1::double precision / 1000))", [.text(String(receivedAt))])
                        ensuredMonths.insert(month)
                    }
                    if seen.insert(p.key).inserted { messages.append(p) } else { extraCopies[p.key, default: 0] += 1 }
                } else if let part = p.part, seen.insert(p.key).inserted {
                    parts.append((part, p.key))
                }
            }
            // The batch's part rows: (part, key, the message consuming it, if in this batch).
            // Every part of a multi-part message here is written as consumed by it. A part
            // whose message completes in this same batch is written once, that way:
            // inserting it pending first and then updating it (a non-HOT update: the
            // pending index's predicate names the column) wrote the row and its indexes
            // twice. Consecutive parts of one message usually arrive in one read, so in
            // one batch. Each is still acked only after this transaction commits.
            var partRows: [(Part, DedupKey, DedupKey?)] = []
            var consumedHere: Set<DedupKey> = []
            for m in messages where !m.message!.parts.isEmpty {
                for p in m.message!.parts {
                    let k = DedupKey.part(p)
                    if consumedHere.insert(k).inserted { partRows.append((p, k, m.key)) }
                }
            }
            for (p, k) in parts where !consumedHere.contains(k) { partRows.append((p, k, nil)) }
            // Pending and consumed parts are one statement, in key order. As two (pending,
            // then consumed) two writer connections could each wait for a part key the
            // other had just inserted: a part enqueued by one session after the message it
            // completed on another session's thread lands pending in a later batch while
            // an earlier one upserts it consumed. PostgreSQL broke the cycle after
            // deadlock_timeout (1 s) and the batch was retried (make bench: once in 16
            // runs). Every transaction now takes its part-key locks in ascending
            // order, after its message keys (also in order), so no cycle can form.
            partRows.sort { $0.1 < $1.1 }
            // Plain inserts first; with `ON CONFLICT DO NOTHING` while redeliveries are about.
            let optimistic = monotonic() >= writer.conflictsUntil.load(ordering: .relaxed)
            var statements: [PostgresStatement] = [.sql("BEGIN")]
            var messagesAt: Int?, partsAt: Int?
            if !messages.isEmpty {
                messagesAt = statements.count
                // The rare columns (in-batch copies, receipts, evidence) go only with a batch that has them.
                let full = !optimistic || !extraCopies.isEmpty
                    || messages.contains { $0.message!.decision.receipt != nil || $0.message!.decision.invalidReason != nil }
                statements.append(.prepared(optimistic ? (full ? "insert_new_messages_full" : "insert_new_messages") : "insert_messages",
                                            BatchWriter.columns(messages, extraCopies: extraCopies, full: full)))
            }
            if !partRows.isEmpty {
                partsAt = statements.count
                statements.append(.prepared("write_parts", BatchWriter.columns(parts: partRows)))
            }
            statements.append(.sql("COMMIT"))
            var results: [PostgresRows]
            var onConflict = !optimistic
            while true {
                do {
                    results = try conn.pipeline(statements)
                    break
                } catch let e as PostgresError where !onConflict && e.isDedupConflict && conn.isHealthy {
                    // A key of this batch is stored already (a redelivery): nothing of the
                    // batch was written. Again, as the ON CONFLICT statement, at once.
                    _ = try? conn.execute("ROLLBACK")
                    writer.conflictsUntil.store(monotonic() &+ UInt64(BatchWriter.conflictHold * 1e9), ordering: .relaxed)
                    writer.statsLock.withLock { $0.dedupRetries += 1 }
                    if let i = messagesAt {
                        statements[i] = .prepared("insert_messages", BatchWriter.columns(messages, extraCopies: extraCopies, full: true))
                    }
                    onConflict = true
                } catch {
                    // A statement that fails inside BEGIN makes the pipeline skip the rest,
                    // COMMIT included: the session is left in an aborted transaction, and the
                    // retry's BEGIN failed with 25P02 (answered as a temporary error for the
                    // whole batch) until something rolled back.
                    if conn.isHealthy { _ = try? conn.execute("ROLLBACK") }
                    throw error
                }
            }
            var duplicates: Set<DedupKey> = []
            if let i = messagesAt, let keys = results[i][firstRow: "duplicates"] { BatchWriter.uuids(keys, into: &duplicates) }
            if let i = partsAt, let keys = results[i][firstRow: "duplicates"] { BatchWriter.uuids(keys, into: &duplicates) }
            return duplicates
        }
    }

    static func monthIndex(_ millis: UInt64) -> Int {
        var t = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return Int(parts.tm_year) * 12 + Int(parts.tm_mon)
    }

    /// A batch's messages are one statement, this one while redeliveries are about
    /// (else `insertNewMessages`): the columns arrive as arrays (binary, see
    /// `BinaryArray`), the dedup table decides which rows are new, only those become
    /// messages, and the routed ones are announced on `sms_received`
    /// (delivered at COMMIT) as JSON arrays of up to 64 `{message_id, order_id}`
    /// objects: one NOTIFY per row cost 12 µs of server time each, 60% of a 1000-row
    /// commit (measured, make bench-store). The JSON is concatenated from the two
    /// numbers (never NULL for a routed row): `json_build_object` and `json_agg` cost
    /// 2.1 µs per row against 1.1 (EXPLAIN ANALYZE over 1M rows, three rounds each).
    /// A one-part message's PDU comes as a bytea element ($24); a multi-part one's as
    /// the slice $25...$26 of $27, every multi-part PDU of the batch in one bytea[]
    /// (an array cannot hold arrays; as the text literal of a bytea[] in hex they
    /// were twice the bytes, and parsing them was 1.9% of PostgreSQL's CPU samples
    /// at saturation). The answer is one row: the NOTIFY count and
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
    /// Columns nearly every batch leaves empty: five more set-returning calls per row
    /// were measured in `make bench` (docs/performance.md), so the common batch goes without.
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
    /// unnests each in its select list. Set-returning functions there run in lockstep,
    /// one row per index, as `unnest(a, b, …)` in FROM does, but without its
    /// materializing every array into a tuplestore first and reading that back
    /// (EXPLAIN ANALYZE of 1000 rows of 12 columns: 0.64 ms against 2.93 ms).
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
    static func columns(_ ms: [Pending], extraCopies: [DedupKey: Int] = [:], full: Bool = true) -> [PostgresValue] {
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
        // Fields read in place through the reference: `let d = m.decision` (or a
        // StoredMessage taken out of its item) copied every message, retaining each
        // string in it.
        for p in ms {
            key.append(p.message!.decision.dedupKey)
            at.append(timestampMillis: p.message!.decision.receivedAt)
            carrier.append(p.message!.decision.carrier)
            bind.append(p.message!.bind)
            src.append(p.message!.decision.sourceRaw)
            srcTON.append(int2: Int16(p.message!.sourceTON.rawValue))
            srcNorm.append(normalized(p.message!.decision.source))
            dst.append(p.message!.decision.destinationRaw)
            dstTON.append(int2: Int16(p.message!.destTON.rawValue))
            dstNorm.append(normalized(p.message!.decision.destination))
            if let o = p.message!.decision.orderID { order.append(int8: Int64(bitPattern: o)) } else { order.appendNull() }
            if let v = p.message!.decision.leaseVersion { version.append(int4: Int32(bitPattern: v)) } else { version.appendNull() }
            service.append(p.message!.decision.service)
            outcome.append(p.message!.decision.outcome.rawValue)
            mismatch.append(bool: p.message!.decision.serviceMismatch)
            coding.append(int2: Int16(p.message!.decision.dataCoding))
            text.append(p.message!.decision.text)
            invalid.append(bool: p.message!.decision.textInvalid)
            code.append(p.message!.decision.code)
            if let c = p.message!.decision.confidence { confidence.append(float4: Float(c)) } else { confidence.appendNull() }
            rule.append(p.message!.decision.rule)
            partCount.append(int2: Int16(clamping: p.message!.decision.partCount))
            if p.message!.decision.missingParts.isEmpty { missing.appendNull() } else {
                missing.append("{" + p.message!.decision.missingParts.map(String.init).joined(separator: ",") + "}")
            }
            if p.message!.rawPDUs.count == 1 {
                raw.append(bytea: p.message!.rawPDUs[0])
                rawFrom.appendNull()
                rawTo.appendNull()
            } else {
                raw.appendNull()
                rawFrom.append(int4: Int32(raws.count + 1))
                for p in p.message!.rawPDUs { raws.append(bytea: p) }
                rawTo.append(int4: Int32(raws.count))
            }
            guard full else { continue }
            copies.append(int2: Int16(clamping: extraCopies.isEmpty ? 0 : extraCopies[p.key, default: 0]))
            if let r = p.message!.decision.receipt {
                receiptID.append(r.messageID)
                receiptStat.append(r.stat)
                receiptErr.append(r.err)
            } else {
                receiptID.appendNull()
                receiptStat.appendNull()
                receiptErr.appendNull()
            }
            invalidReason.append(p.message!.decision.invalidReason)
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
    static func columns(parts ps: [(Part, DedupKey, DedupKey?)]) -> [PostgresValue] {
        let n = ps.count
        var key = BinaryArray(.uuid, reservingCapacity: n * 20), carrier = BinaryArray(.text, reservingCapacity: n * 16)
        var src = BinaryArray(.text, reservingCapacity: n * 20), dst = BinaryArray(.text, reservingCapacity: n * 20)
        var ref = BinaryArray(.int4, reservingCapacity: n * 8), bits = BinaryArray(.int2, reservingCapacity: n * 6)
        var total = BinaryArray(.int2, reservingCapacity: n * 6), seq = BinaryArray(.int2, reservingCapacity: n * 6)
        var coding = BinaryArray(.int2, reservingCapacity: n * 6), body = BinaryArray(.bytea, reservingCapacity: n * 150)
        var locking = BinaryArray(.int2, reservingCapacity: n * 6), single = BinaryArray(.int2, reservingCapacity: n * 6)
        var raw = BinaryArray(.bytea, reservingCapacity: n * 220), at = BinaryArray(.timestamptz, reservingCapacity: n * 12)
        var owner = BinaryArray(.uuid, reservingCapacity: n * 20)
        for (p, k, consumedBy) in ps {
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

/// Starts a plain detached thread: the writer's workers block in libpq, so they
/// must not hold a Dispatch worker or a Swift concurrency thread.
func detachThread(_ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { arg in
        Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    pthread_detach(tid)
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ b: @escaping @Sendable () -> Void) { body = b }
}

extension PostgresError {
    /// A dedup key that is stored already (unique violation on message_dedup's key).
    var isDedupConflict: Bool { sqlState == "23505" && constraint == "message_dedup_pkey" }
}

extension DedupKey {
    /// From PostgreSQL's uuid text form (with or without dashes).
    init?(uuid s: String) {
        var hi: UInt64 = 0, lo: UInt64 = 0, n = 0
        for c in s.utf8 where c != 0x2D {
            let v: UInt64
            switch c {
            case 0x30...0x39: v = UInt64(c - 0x30)
            case 0x61...0x66: v = UInt64(c - 0x61 + 10)
            case 0x41...0x46: v = UInt64(c - 0x41 + 10)
            default: return nil
            }
            if n < 16 { hi = hi << 4 | v } else { lo = lo << 4 | v }
            n += 1
        }
        guard n == 32 else { return nil }
        self.init(high: hi, low: lo)
    }
}

extension BinaryArray {
    /// A dedup key as a uuid element.
    mutating func append(_ key: DedupKey) { append(uuidHigh: key.high, low: key.low) }
}


func monotonic() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

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
            SELECT sequence, data_coding, encode(body, 'hex'), locking_shift, single_shift, encode(raw_pdu, 'hex'),
                   (extract(epoch FROM received_at) * 1000)::bigint, NULL, false
            FROM message_parts
            WHERE destination_addr = $1 AND reference = $2::integer AND carrier = $3 AND source_addr = $4
              AND total = $5::smallint AND reference_bits = $6::smallint AND message_dedup_key IS NULL
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, dedup_key::text, true
            FROM message_parts WHERE dedup_key = ANY($7::uuid[]) AND message_dedup_key IS NOT NULL
            """, [.text(key.destination), .text(String(key.reference)), .text(key.carrier), .text(key.source),
                  .text(String(key.total)), .text(String(key.referenceBits)),
                  .text("{" + ours.map(\.hex).joined(separator: ",") + "}")]) { r in
            func i(_ k: Int) -> Int { Int(r[k] ?? "0") ?? 0 }
            if r[8] == "t" {
                if let k = r[7].flatMap(DedupKey.init(uuid:)) { consumed.insert(k) }
            } else {
                open.append(Part(key: key, sequence: UInt8(i(0)), dataCoding: UInt8(i(1)), body: unhex(r[2] ?? ""),
                                 lockingShift: r[3].flatMap { UInt8($0) }, singleShift: r[4].flatMap { UInt8($0) },
                                 rawPDU: unhex(r[5] ?? ""), receivedAt: UInt64(i(6))))
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
            if out.count >= chunk {
                try visit(out)
                out = []
            }
            return true
        }
        if !out.isEmpty { try visit(out) }
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
