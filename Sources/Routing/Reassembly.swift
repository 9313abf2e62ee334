#if canImport(Glibc)
    import Glibc
#endif
public import SMPPWire
import Primitives

/// What identifies one multi-part message. Two parts belong together only if all
/// of these agree: an 8-bit ref 5 and a 16-bit ref 5 are different messages, and
/// so are two messages with the same ref but different part counts.
public struct PartKey: Hashable, Sendable, Codable {
    public var carrier: String
    public var source: String
    public var destination: String
    public var reference: UInt16
    /// 8 (UDH IEI 0x00) or 16 (UDH IEI 0x08, SAR).
    public var referenceBits: UInt8
    public var total: UInt8

    public init(carrier: String, source: String, destination: String, reference: UInt16, referenceBits: UInt8, total: UInt8) {
        self.carrier = carrier
        self.source = source
        self.destination = destination
        self.reference = reference
        self.referenceBits = referenceBits
        self.total = total
    }
}

/// One received part: everything needed to rebuild the message, so that the
/// store can persist parts and `Reassembler.restore` can rebuild pending state
/// after a restart.
public struct Part: Hashable, Sendable, Codable {
    public var key: PartKey
    /// 1-based.
    public var sequence: UInt8
    public var dataCoding: UInt8
    /// User data after the UDH: text bytes, joined across parts before decoding.
    public var body: [UInt8]
    /// Language shifts announced by this part's UDH (raw identifiers).
    public var lockingShift: UInt8?
    public var singleShift: UInt8?
    /// The PDU as received: evidence for disputes.
    public var rawPDU: [UInt8]
    /// Milliseconds since the Unix epoch.
    public var receivedAt: UInt64
    /// The addresses' types of number (raw TON values), which the message stored from
    /// its parts keeps: evicted or restored, it needs nothing but its parts.
    public var sourceTON: UInt8
    public var destTON: UInt8

    public init(
        key: PartKey, sequence: UInt8, dataCoding: UInt8, body: [UInt8], lockingShift: UInt8? = nil,
        singleShift: UInt8? = nil, rawPDU: [UInt8] = [], receivedAt: UInt64, sourceTON: UInt8 = 0, destTON: UInt8 = 0
    ) {
        self.sourceTON = sourceTON
        self.destTON = destTON
        self.key = key
        self.sequence = sequence
        self.dataCoding = dataCoding
        self.body = body
        self.lockingShift = lockingShift
        self.singleShift = singleShift
        self.rawPDU = rawPDU
        self.receivedAt = receivedAt
    }
}

/// A message put back together (or given up on).
public struct AssembledMessage: Hashable, Sendable {
    public var key: PartKey
    /// Parts by sequence; nil where a part never arrived.
    public var parts: [Part?]
    /// 1-based sequence numbers that are missing (empty when complete).
    public var missing: [Int]
    /// Sequence numbers of parts known to be in a finished message already: one the
    /// reassembler finished, or one the store holds (see `Reassembler.markEchoes`).
    /// Finding them in a stored message again tells nothing new.
    public var echoes: Set<UInt8> = []
    public var isComplete: Bool { missing.isEmpty }
    public var firstReceivedAt: UInt64 { parts.compactMap { $0?.receivedAt }.min() ?? 0 }

    public init(key: PartKey, parts: [Part?], missing: [Int], echoes: Set<UInt8> = []) {
        self.key = key
        self.parts = parts
        self.missing = missing
        self.echoes = echoes
    }

    /// The 1-based sequence numbers with no part.
    static func gaps(_ parts: [Part?]) -> [Int] { parts.indices.filter { parts[$0] == nil }.map { $0 + 1 } }

    /// What to do with a pending message once the parts other holders stored are
    /// known (other bridges binding to the same SMSC, or this one before a restart).
    public enum Resolution: Hashable, Sendable {
        /// Its parts are in a stored message already: nothing to store. Before the
        /// timeout they are still held as repeats, in case a new message repeats them.
        case storedAlready
        /// Completed with parts stored by others: store it.
        case complete(AssembledMessage)
        /// Timed out: store what there is, marked with its gaps.
        case incomplete(AssembledMessage)
        /// Keep waiting for the rest.
        case wait
    }

    /// `open`: stored parts of this message not yet in a stored message; `consumed`:
    /// the keys of its stored parts that are. Echoes are left out of the test for
    /// "stored already": a new message that reuses the reference and repeats a part
    /// of a finished one exactly must not be dropped for that part, and a part only
    /// held as an echo is given up by the timeout.
    public func resolve(open: [Part], consumed: Set<DedupKey>, timedOut: Bool) -> Resolution {
        let fresh = parts.compactMap { $0 }.filter { !echoes.contains($0.sequence) }
        if fresh.isEmpty { return timedOut ? .storedAlready : .wait }
        if fresh.allSatisfy({ consumed.contains(DedupKey.part($0)) }) { return .storedAlready }
        var merged = self
        for p in open where Int(p.sequence) >= 1 && Int(p.sequence) <= parts.count && merged.parts[Int(p.sequence) - 1] == nil {
            merged.parts[Int(p.sequence) - 1] = p
        }
        merged.missing = Self.gaps(merged.parts)
        if merged.missing.isEmpty { return .complete(merged) }
        return timedOut ? .incomplete(merged) : .wait
    }

    /// Decodes the text: bytes of consecutive parts are joined first, so a
    /// character split across parts decodes whole. A gap shows as
    /// "[…part N of M missing…]".
    public func decodeText(options: TextOptions = .default) -> DecodedText {
        guard let first = parts.compactMap({ $0 }).first else {
            return DecodedText(text: "", encoding: .binary, hadInvalidInput: false)
        }
        let dc = DataCoding(first.dataCoding)
        let locking = first.lockingShift.map { NationalLanguage(rawValue: $0) }
        let single = first.singleShift.map { NationalLanguage(rawValue: $0) }
        var text = ""
        var invalid = false
        var encoding = DecodedText.Encoding.binary
        var run: [UInt8] = []
        func flush() {
            guard !run.isEmpty else { return }
            let d = run.withUnsafeBytes {
                TextDecoder.decode(joined: $0, dataCoding: dc, lockingShift: locking, singleShift: single, options: options)
            }
            text += d.text
            invalid = invalid || d.hadInvalidInput
            encoding = d.encoding
            run.removeAll()
        }
        for (i, p) in parts.enumerated() {
            if let p {
                run += p.body
            } else {
                flush()
                text += "[…part \(i + 1) of \(parts.count) missing…]"
            }
        }
        flush()
        return DecodedText(text: text, encoding: encoding, hadInvalidInput: invalid)
    }
}

/// Puts multi-part messages back together, in any order, absorbing duplicates.
///
/// State is bounded: a message whose first part is older than `timeout` goes
/// out incomplete (with its gap). Memory is counted as held, the slot array of a
/// message's declared part count included (a 255-part message holds 255 slots from
/// its first part). A carrier past `maxPendingBytesPerCarrier` has its own oldest
/// message evicted (stored incomplete and counted); past `maxPendingBytes` in all,
/// the oldest of the carrier holding the most is: one carrier's garbage never evicts
/// another carrier's parts while it holds more. Eviction takes the oldest in O(1)
/// amortized (a queue per carrier in arrival order). Parts of one message can
/// arrive over different binds, so one reassembler serves the whole bridge and is
/// internally locked; the critical section is a dictionary update.
public final class Reassembler: @unchecked Sendable {
    public enum AddResult: Hashable, Sendable {
        /// Stored; `have` of `total` parts present.
        case pending(have: Int, total: Int)
        /// The same part was already here: absorbed.
        case duplicate
        /// This part completed the message.
        case complete(AssembledMessage)
    }

    struct Pending {
        var parts: [Part?]
        var have: Int
        var bytes: Int
        var firstAt: UInt64
        /// Which creation of this key it is (a key completed and begun again is a new one).
        var generation: UInt64 = 0
        /// Parts identical to a part of a message already finished. Alone they are a
        /// redelivery; with a new sibling they are a new message that reuses the
        /// reference and repeats a part's text (the same template to the same number).
        var echoes: Set<UInt8> = []
        /// Nothing here but redelivered parts: giving it up stores nothing.
        var onlyEchoes: Bool { echoes.count == have }
    }

    struct State {
        var pending: [PartKey: Pending] = [:]
        var pendingBytes = 0
        /// Entries that hold only echoes: redeliveries kept until the timeout, in case
        /// a new sibling comes. Not counted as messages being reassembled.
        var echoOnly = 0
        var evicted = 0
        var timedOut = 0
        /// Parts of messages already completed or given up (by content key, with the
        /// time): a redelivered part of such a message must not become a phantom
        /// incomplete message. Such a part is held as an echo (see `Pending.echoes`),
        /// because a new message that reuses the reference can repeat a part exactly.
        var done: [DedupKey: UInt64] = [:]
        var doneFIFO: [DedupKey] = []
        var doneHead = 0
        /// When each pending message was last looked up in the store (other bridges' parts).
        var checkedAt: [PartKey: UInt64] = [:]
        /// Bytes held per carrier, and each carrier's messages in arrival order (with
        /// their generation: an entry whose message is gone is skipped, and the queue
        /// is compacted once it holds more dead entries than live ones).
        var carrierBytes: [String: Int] = [:]
        var arrivals: [String: ArrivalQueue] = [:]
        var nextGeneration: UInt64 = 1

        struct ArrivalQueue {
            var items: [(key: PartKey, generation: UInt64)] = []
            var head = 0
            var live = 0
        }

        /// Every change to `pending` goes through `put` and `remove`, which keep the
        /// byte and echo counts and the arrival queues with it.
        mutating func put(_ k: PartKey, _ e: Pending) {
            var e = e
            if let old = pending[k] {
                e.generation = old.generation
                uncount(old)
                uncountCarrier(k, old.bytes)
            } else {
                e.generation = nextGeneration
                nextGeneration += 1
                arrivals[k.carrier, default: ArrivalQueue()].items.append((k, e.generation))
                arrivals[k.carrier]!.live += 1
            }
            pending[k] = e
            pendingBytes += e.bytes
            carrierBytes[k.carrier, default: 0] += e.bytes
            if e.onlyEchoes { echoOnly += 1 }
        }

        /// The carrier's oldest pending message, in O(1) amortized.
        mutating func oldest(of carrier: String) -> PartKey? {
            guard var q = arrivals[carrier] else { return nil }
            defer { arrivals[carrier] = q }
            while q.head < q.items.count {
                let (k, g) = q.items[q.head]
                if pending[k]?.generation == g { return k }
                q.head += 1
            }
            return nil
        }

        @discardableResult
        mutating func remove(_ k: PartKey) -> Pending? {
            checkedAt.removeValue(forKey: k)
            guard let old = pending.removeValue(forKey: k) else { return nil }
            uncount(old)
            uncountCarrier(k, old.bytes)
            if var q = arrivals[k.carrier] {
                q.live -= 1
                // Dead entries (finished messages) are dropped once they outnumber the live ones.
                if q.items.count - q.head > 2 * q.live + 1024 {
                    q.items = q.items[q.head...].filter { pending[$0.key]?.generation == $0.generation }
                    q.head = 0
                }
                arrivals[k.carrier] = q.live == 0 && q.items.count == q.head ? nil : q
            }
            return old
        }

        private mutating func uncount(_ e: Pending) {
            pendingBytes -= e.bytes
            if e.onlyEchoes { echoOnly -= 1 }
        }

        mutating func uncountCarrier(_ k: PartKey, _ bytes: Int) {
            let left = (carrierBytes[k.carrier] ?? 0) - bytes
            carrierBytes[k.carrier] = left > 0 ? left : nil
        }

        mutating func markDone(_ parts: [Part?], at now: UInt64, cap: Int) {
            for case let p? in parts {
                let k = DedupKey.part(p)
                if done.updateValue(now, forKey: k) == nil { doneFIFO.append(k) }
            }
            while done.count > cap, doneHead < doneFIFO.count {
                done.removeValue(forKey: doneFIFO[doneHead])
                doneHead += 1
            }
            if doneHead > 4096, doneHead * 2 > doneFIFO.count {
                doneFIFO.removeFirst(doneHead)
                doneHead = 0
            }
        }
    }

    /// How long, and how many, finished parts are remembered to recognise redeliveries.
    public let rememberMillis: UInt64
    public let rememberCount = 200_000

    public let timeoutMillis: UInt64
    public let maxPendingBytes: Int
    public let maxPendingBytesPerCarrier: Int
    private let state = Locked(State())

    /// What a message costs before any part's bytes: its slot array (one optional
    /// part per declared part) and the entry around it.
    static func baseCost(total: Int) -> Int { total * MemoryLayout<Part?>.stride + 256 }
    /// What one part costs on top: its bytes and the copies of its key's strings.
    static func partCost(_ p: Part) -> Int {
        p.body.count + p.rawPDU.count + 64 + p.key.carrier.utf8.count + p.key.source.utf8.count + p.key.destination.utf8.count
    }

    /// `maxPendingBytesPerCarrier` defaults to half of `maxPendingBytes`.
    public init(timeoutMillis: UInt64 = 120_000, maxPendingBytes: Int = 64 << 20, maxPendingBytesPerCarrier: Int? = nil,
                rememberMillis: UInt64 = 3_600_000) {
        self.timeoutMillis = timeoutMillis
        self.maxPendingBytes = maxPendingBytes
        self.maxPendingBytesPerCarrier = maxPendingBytesPerCarrier ?? max(1, maxPendingBytes / 2)
        self.rememberMillis = rememberMillis
    }

    /// Bytes held for one carrier's pending messages.
    public func pendingBytes(carrier: String) -> Int { state.withLock { $0.carrierBytes[carrier] ?? 0 } }

    /// Messages waiting for parts (held redeliveries not included).
    public var pendingCount: Int { state.withLock { $0.pending.count - $0.echoOnly } }
    /// Parts of finished messages received again, held until the timeout in case a
    /// new message that repeats them completes with them.
    public var heldRedeliveries: Int { state.withLock { $0.echoOnly } }
    public var pendingBytes: Int { state.withLock { $0.pendingBytes } }
    /// Messages pushed out early by the memory cap.
    public var evictedCount: Int { state.withLock { $0.evicted } }
    public var timedOutCount: Int { state.withLock { $0.timedOut } }

    /// Adds a part. Evicted messages (memory cap) are returned through `evicted`.
    public func add(_ part: Part, evicted: inout [AssembledMessage]) -> AddResult {
        add(part, key: DedupKey.part(part), evicted: &evicted)
    }

    /// As `add(_:evicted:)`, with the part's dedup key the caller computed already
    /// (the router needs it for the store): one hash of the part, not two.
    public func add(_ part: Part, key partKey: DedupKey, evicted: inout [AssembledMessage]) -> AddResult {
        let total = Int(part.key.total)
        guard total >= 1, part.sequence >= 1, Int(part.sequence) <= total else {
            // Not a valid part number: treat as a one-part message rather than lose it.
            var p = part
            p.key.total = 1
            p.sequence = 1
            return .complete(AssembledMessage(key: p.key, parts: [p], missing: []))
        }
        let size = Self.partCost(part)
        var out: [AssembledMessage] = []
        let result: AddResult = state.withLock { s in
            var entry = s.pending[part.key]
                ?? Pending(parts: Array(repeating: nil, count: total), have: 0, bytes: Self.baseCost(total: total), firstAt: part.receivedAt)
            let idx = Int(part.sequence) - 1
            if entry.parts[idx] != nil { return .duplicate }
            // A part of a message already finished is held, not dropped: it may be the
            // first-arriving part of a new message whose other parts differ. If no
            // sibling comes, it was a redelivery, and its group is given up silently.
            if let t = s.done[partKey], part.receivedAt < t + rememberMillis { entry.echoes.insert(part.sequence) }
            entry.parts[idx] = part
            entry.have += 1
            entry.bytes += size
            entry.firstAt = min(entry.firstAt, part.receivedAt)
            if entry.have == total {
                s.remove(part.key)
                s.markDone(entry.parts, at: part.receivedAt, cap: rememberCount)
                return .complete(AssembledMessage(key: part.key, parts: entry.parts, missing: [], echoes: entry.echoes))
            }
            s.put(part.key, entry)
            // This carrier over its own cap pays first; then, over the global cap, the
            // carrier holding the most.
            func evictOldest(of carrier: String) -> Bool {
                guard let k = s.oldest(of: carrier), let v = s.remove(k) else { return false }
                s.markDone(v.parts, at: part.receivedAt, cap: rememberCount)
                if !v.onlyEchoes {
                    s.evicted += 1
                    out.append(Self.incomplete(k, v))
                }
                return true
            }
            while (s.carrierBytes[part.key.carrier] ?? 0) > maxPendingBytesPerCarrier, evictOldest(of: part.key.carrier) {}
            while s.pendingBytes > maxPendingBytes, let heaviest = s.carrierBytes.max(by: { $0.value < $1.value })?.key,
                  evictOldest(of: heaviest) {}
            return .pending(have: entry.have, total: total)
        }
        evicted += out
        return result
    }

    /// The store found these parts of a pending message in a stored message already
    /// (another bridge's, or this one's before a restart, or one this reassembler has
    /// forgotten): from now on they count as echoes, as if it had finished that message
    /// itself. They are held, not dropped, until the timeout: a new sibling arriving
    /// later still completes a new message with them.
    public func markEchoes(_ key: PartKey, consumed: Set<DedupKey>) {
        state.withLock { s in
            guard var e = s.pending[key] else { return }
            for case let p? in e.parts where consumed.contains(DedupKey.part(p)) { e.echoes.insert(p.sequence) }
            s.put(key, e)
        }
    }

    /// Messages whose first part arrived more than `timeout` before `now`, as incomplete.
    public func expire(now: UInt64) -> [AssembledMessage] {
        state.withLock { s in
            var out: [AssembledMessage] = []
            let old = s.pending.filter { now >= $0.value.firstAt + timeoutMillis }
            for (k, v) in old {
                s.remove(k)
                s.markDone(v.parts, at: now, cap: rememberCount)
                if !v.onlyEchoes { out.append(Self.incomplete(k, v)) }
            }
            s.timedOut += out.count
            return out.sorted { $0.firstReceivedAt < $1.firstReceivedAt }
        }
    }

    /// Pending messages older than `age` that were not looked up in the store within
    /// `recheck` (snapshots, left pending): the bridge asks the store whether another
    /// bridge holds their other parts. Marks them checked at `now`. Held redeliveries
    /// are not offered: only the timeout decides them.
    /// At most `limit` a call: each costs the caller a store lookup, and a flood of
    /// pending messages must not turn one sweep into thousands of queries.
    public func stale(olderThan age: UInt64, now: UInt64, recheck: UInt64, limit: Int = .max) -> [AssembledMessage] {
        state.withLock { s in
            var out: [AssembledMessage] = []
            for (k, v) in s.pending where !v.onlyEchoes && now >= v.firstAt + age && now >= (s.checkedAt[k] ?? 0) + recheck {
                if out.count >= limit { break }
                s.checkedAt[k] = now
                out.append(Self.incomplete(k, v))
            }
            return out
        }
    }

    /// Takes a pending message out (it was finished elsewhere, or is being stored now);
    /// its parts are remembered as done. Nil if it is no longer pending.
    @discardableResult
    public func claim(_ key: PartKey, now: UInt64) -> AssembledMessage? {
        state.withLock { s in
            guard let v = s.remove(key) else { return nil }
            s.markDone(v.parts, at: now, cap: rememberCount)
            return Self.incomplete(key, v)
        }
    }

    /// Rebuilds pending state from persisted parts (after a restart). Parts that
    /// complete a message are returned, to be routed now.
    public func restore(_ parts: [Part]) -> [AssembledMessage] {
        state.withLock { s in for p in parts { s.done.removeValue(forKey: DedupKey.part(p)) } }
        var done: [AssembledMessage] = []
        var evicted: [AssembledMessage] = []
        for p in parts.sorted(by: { $0.receivedAt < $1.receivedAt }) {
            if case .complete(let m) = add(p, evicted: &evicted) { done.append(m) }
        }
        return done + evicted
    }

    static func incomplete(_ key: PartKey, _ p: Pending) -> AssembledMessage {
        AssembledMessage(key: key, parts: p.parts, missing: AssembledMessage.gaps(p.parts), echoes: p.echoes)
    }
}
