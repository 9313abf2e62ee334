import Dispatch
public import Routing
import Primitives
import Synchronization
@_spi(CommitProof) public import SMPPWire
#if canImport(Glibc)
    import Glibc
#endif

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
        /// without waiting out `maxWait` for more: past 64 rows a commit's fixed cost is
        /// spread thin, and an SMSC whose window is full sends nothing more until this
        /// batch commits (docs/decisions/008-writer-batch-shape.md).
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

    /// Queues an item; `onResult` runs (on a writer thread) after COMMIT, or with a temporary error.
    public func submit(_ item: consuming WriteItem, onResult: @escaping @Sendable (Result) -> Void) {
        let p = Pending.make(item, completion: onResult, enqueuedAt: Clock.monotonicNanos())
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
                let now = Clock.monotonicNanos()
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
                    let start = Clock.monotonicNanos()
                    let stored = try commit(remaining, conn)
                    let micros = Int((Clock.monotonicNanos() - start) / 1000)
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
                        $0.lastCommitAt = Clock.monotonicNanos()
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
                        if $0.failingSince == nil { $0.failingSince = Clock.monotonicNanos() }
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
                    let oldest = remaining.map(\.enqueuedAt).min() ?? Clock.monotonicNanos()
                    let untilDeadline = max(0, Double(Int64(oldest &+ UInt64(cfg.commitDeadline * 1e9)) - Int64(Clock.monotonicNanos())) / 1e9)
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
            for s in PreparedStatement.allCases { try c.prepare(s.rawValue, s.sql(dedupWindowSeconds: window)) }
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
            let plan = BatchPlan(batch)
            // Monthly partitions for the rows' timestamps (created once per connection and month).
            for (month, receivedAt) in plan.months where !ensuredMonths.contains(month) {
                try conn.execute("SELECT bridge_ensure_month(to_timestamp($1::double precision / 1000))", [.text(String(receivedAt))])
                ensuredMonths.insert(month)
            }
            // Plain inserts first; with `ON CONFLICT DO NOTHING` while redeliveries are about.
            var onConflict = Clock.monotonicNanos() < writer.conflictsUntil.load(ordering: .relaxed)
            while true {
                let statements = plan.statements(onConflict: onConflict)
                do {
                    return BatchPlan.duplicates(in: statements.results(try conn.pipeline(statements.statements)))
                } catch let e as PostgresError where !onConflict && e.isDedupConflict && conn.isHealthy {
                    // A key of this batch is stored already (a redelivery): nothing of the
                    // batch was written. Again, as the ON CONFLICT statement, at once.
                    _ = try? conn.execute("ROLLBACK")
                    writer.conflictsUntil.store(Clock.monotonicNanos() &+ UInt64(BatchWriter.conflictHold * 1e9), ordering: .relaxed)
                    writer.statsLock.withLock { $0.dedupRetries += 1 }
                    onConflict = true
                } catch {
                    // A statement that fails inside BEGIN makes the pipeline skip the rest,
                    // COMMIT included: roll back, or the retry's BEGIN fails with 25P02.
                    if conn.isHealthy { _ = try? conn.execute("ROLLBACK") }
                    throw error
                }
            }
        }
    }
}
