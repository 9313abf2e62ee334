public import Routing
public import SMPPWire
#if canImport(Glibc)
    import Glibc
#endif

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

/// A queued item. A class, not a struct: a batch moves through the queue, the retry
/// loop and the statement builder, and each copy of a struct holding a StoredMessage
/// retains every string and array in it; the builder reads a message's fields in place
/// through the reference (docs/decisions/008-writer-batch-shape.md).
class Pending: @unchecked Sendable {
    let completion: @Sendable (BatchWriter.Result) -> Void
    let enqueuedAt: UInt64
    let key: DedupKey
    /// The writer queue's lane: one per carrier, so that one carrier's flood queues behind itself.
    let lane: Int
    /// What the row will weigh in a batch: its PDUs and text, in bytes.
    let bytes: Int

    init(key: DedupKey, carrier: String, bytes: Int, completion: @escaping @Sendable (BatchWriter.Result) -> Void, enqueuedAt: UInt64) {
        self.key = key
        lane = carrier.hashValue
        self.bytes = bytes
        self.completion = completion
        self.enqueuedAt = enqueuedAt
    }

    static func make(_ item: consuming WriteItem, completion: @escaping @Sendable (BatchWriter.Result) -> Void, enqueuedAt: UInt64) -> Pending {
        switch consume item {
        case .message(let m): PendingMessage(m, completion: completion, enqueuedAt: enqueuedAt)
        case .part(let p, let k): PendingPart(p, key: k, completion: completion, enqueuedAt: enqueuedAt)
        }
    }
}

final class PendingMessage: Pending, @unchecked Sendable {
    let message: StoredMessage
    init(_ m: StoredMessage, completion: @escaping @Sendable (BatchWriter.Result) -> Void, enqueuedAt: UInt64) {
        message = m
        super.init(key: m.decision.dedupKey, carrier: m.decision.carrier,
                   bytes: m.rawPDUs.reduce(0) { $0 + $1.count } + m.decision.text.utf8.count, completion: completion, enqueuedAt: enqueuedAt)
    }
}

final class PendingPart: Pending, @unchecked Sendable {
    let part: Part
    init(_ p: Part, key: DedupKey, completion: @escaping @Sendable (BatchWriter.Result) -> Void, enqueuedAt: UInt64) {
        part = p
        super.init(key: key, carrier: p.key.carrier, bytes: p.rawPDU.count + p.body.count, completion: completion, enqueuedAt: enqueuedAt)
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


