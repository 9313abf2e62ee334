import Atomics
import Primitives
import SMPPWire

#if canImport(Glibc)
    import Glibc
#endif

/// Which customer order rents a number, for how long, and under which lease version.
public struct Lease: Hashable, Sendable {
    public var orderID: UInt64
    public var service: ServiceID
    /// Unix seconds. The lease matches messages that arrive in [startsAt, expiresAt).
    public var startsAt: UInt32
    public var expiresAt: UInt32
    /// Bumped by the storefront on every change; the store records which lease matched.
    public var version: UInt32

    public init(orderID: UInt64, service: ServiceID, startsAt: UInt32, expiresAt: UInt32, version: UInt32) {
        self.orderID = orderID
        self.service = service
        self.startsAt = startsAt
        self.expiresAt = expiresAt
        self.version = version
    }
}

/// A small id for a service name ("whatsapp"), so a table slot stays 32 bytes.
public struct ServiceID: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let none = ServiceID(rawValue: 0)
}

/// What the table knows about a number at a given arrival time.
public enum LeaseMatch: Hashable, Sendable {
    /// A lease covers the arrival time.
    case active(Lease)
    /// The number's last lease ended before the arrival time (or was ended early):
    /// reported with that lease, for audit and refund disputes.
    case expired(Lease)
    /// The number's lease starts after the arrival time.
    case notYetActive(Lease)
    /// The number was never leased (in this table's lifetime).
    case unknown
}

/// An E.164 number packed into a table key: the digit value with the digit count
/// in the top byte, so "0123" and "123" differ. 0 is the empty-slot marker.
public struct MSISDNKey: Hashable, Sendable {
    public let rawValue: UInt64
    /// nil unless `digits` is 1–18 ASCII digits.
    @inlinable
    public init?(_ digits: some StringProtocol) {
        var v: UInt64 = 0
        var n: UInt64 = 0
        for c in digits.utf8 {
            guard c >= 0x30, c <= 0x39, n < 18 else { return nil }
            v = v &* 10 &+ UInt64(c - 0x30)
            n += 1
        }
        guard n > 0 else { return nil }
        rawValue = n << 56 | v
    }
    @inlinable public init?(_ digits: UnsafeRawBufferPointer) {
        var v: UInt64 = 0
        var n: UInt64 = 0
        for c in digits {
            guard c >= 0x30, c <= 0x39, n < 18 else { return nil }
            v = v &* 10 &+ UInt64(c - 0x30)
            n += 1
        }
        guard n > 0 else { return nil }
        rawValue = n << 56 | v
    }
    /// A key for a number already known to be digits (benchmarks, bulk loads): the value with its digit count.
    @inlinable public init(raw digitsValue: UInt64) {
        var n: UInt64 = 1
        var v = digitsValue
        while v >= 10 { v /= 10; n += 1 }
        rawValue = n << 56 | digitsValue
    }

    public var digits: String {
        let n = Int(rawValue >> 56)
        var s = String(rawValue & 0x00FF_FFFF_FFFF_FFFF)
        while s.count < n { s = "0" + s }
        return s
    }
}

/// The slots of one generation: a raw pointer and a count, nothing reference
/// counted, so readers on several cores touch no shared object header. Each
/// slot is 32 bytes, four atomic words:
///
///     word 0  key (MSISDNKey; 0 = empty). Written once, never cleared or moved.
///     word 1  order id
///     word 2  startsAt << 32 | expiresAt
///     word 3  version << 32 | service << 16 | seq   (seq: the slot's seqlock counter)
struct SlotArray: @unchecked Sendable {
    typealias Word = UInt64.AtomicRepresentation
    let words: UnsafeMutablePointer<Word>
    let capacity: Int

    @inline(__always) func word(_ slot: Int, _ w: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: words + (slot &* 4 &+ w))
    }

    /// Fast range reduction (Lemire): maps a 64-bit hash onto [0, capacity) without division.
    @inline(__always) func home(_ key: UInt64) -> Int {
        var h = key
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return Int(truncatingIfNeeded: h.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// Reader side. Lock-free: a slot being rewritten at this instant is read again.
    @inline(__always)
    func find(_ key: UInt64) -> Lease? {
        var i = home(key)
        var probes = 0
        while probes < capacity {
            let k = word(i, 0).load(ordering: .relaxed)
            if k == 0 { return nil }
            if k == key { return read(at: i) }
            i += 1
            if i == capacity { i = 0 }
            probes += 1
        }
        return nil
    }

    /// The lease in an occupied slot, under its seqlock: a slot being rewritten at
    /// this instant is read again.
    @inline(__always)
    func read(at i: Int) -> Lease {
        while true {
            let s1 = word(i, 3).load(ordering: .acquiring)
            if s1 & 1 == 1 { continue }  // a write is in progress on this slot
            let order = word(i, 1).load(ordering: .relaxed)
            let times = word(i, 2).load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            let s2 = word(i, 3).load(ordering: .relaxed)
            if s1 != s2 { continue }
            return Lease(
                orderID: order, service: ServiceID(rawValue: UInt16(truncatingIfNeeded: s1 >> 16)),
                startsAt: UInt32(truncatingIfNeeded: times >> 32), expiresAt: UInt32(truncatingIfNeeded: times),
                version: UInt32(truncatingIfNeeded: s1 >> 32))
        }
    }

    /// Writer side (one writer at a time). Returns true when a new key took an empty slot.
    @discardableResult
    func store(_ key: UInt64, _ lease: Lease) -> Bool { storeReturningSlot(key, lease).new }

    /// Writer side: the slot holding `key`, if present. Slots never move within a
    /// generation (no deletion, no displacement), so the index stays valid for it.
    func slot(of key: UInt64) -> Int? {
        var i = home(key)
        for _ in 0..<capacity {
            let k = word(i, 0).load(ordering: .relaxed)
            if k == 0 { return nil }
            if k == key { return i }
            i += 1
            if i == capacity { i = 0 }
        }
        return nil
    }

    /// Writer side: the key and lease in a slot, nil when empty.
    func entry(at slot: Int) -> (UInt64, Lease)? {
        let k = word(slot, 0).load(ordering: .relaxed)
        return k == 0 ? nil : (k, read(at: slot))
    }

    @discardableResult
    func storeReturningSlot(_ key: UInt64, _ lease: Lease) -> (slot: Int, new: Bool) {
        var i = home(key)
        while true {
            let k = word(i, 0).load(ordering: .relaxed)
            if k == key || k == 0 {
                let s = word(i, 3).load(ordering: .relaxed)
                let seq = (s & 0xFFFF) &+ 1
                // Odd seq: readers of this slot will retry until the even store below.
                word(i, 3).store((s & ~0xFFFF) | (seq & 0xFFFF), ordering: .relaxed)
                atomicMemoryFence(ordering: .releasing)
                word(i, 1).store(lease.orderID, ordering: .relaxed)
                word(i, 2).store(UInt64(lease.startsAt) << 32 | UInt64(lease.expiresAt), ordering: .relaxed)
                if k == 0 { word(i, 0).store(key, ordering: .relaxed) }
                let final = UInt64(lease.version) << 32 | UInt64(lease.service.rawValue) << 16 | ((seq &+ 1) & 0xFFFF)
                word(i, 3).store(final, ordering: .releasing)
                return (i, k == 0)
            }
            i += 1
            if i == capacity { i = 0 }
        }
    }

    /// Writer side: every occupied slot, for rebuilding into a bigger generation.
    func forEach(_ body: (UInt64, Lease) -> Void) {
        for i in 0..<capacity {
            if let (k, l) = entry(at: i) { body(k, l) }
        }
    }
}

/// One generation of the table: its slots and the service names, published together.
final class Generation: @unchecked Sendable {
    let slots: SlotArray
    /// Service names by id; immutable once published (a new name publishes a new generation).
    let services: [String]
    /// Keeps the owner of shared slots alive.
    private let sharedStorage: Generation?

    init(capacity: Int, services: [String]) {
        self.services = services
        // Slots are 32 bytes: 64-byte alignment keeps each slot inside one cache line.
        // Big tables are 2 MiB aligned and asked for transparent huge pages, which
        // spares random lookups most TLB misses.
        let bytes = capacity * 32
        let alignment = bytes >= 4 << 20 ? 2 << 20 : 64
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: alignment)
        #if canImport(Glibc)
            if alignment > 64 { _ = madvise(raw, bytes, 14 /* MADV_HUGEPAGE */) }
        #endif
        let words = raw.bindMemory(to: SlotArray.Word.self, capacity: capacity * 4)
        words.initialize(repeating: SlotArray.Word(0), count: capacity * 4)
        slots = SlotArray(words: words, capacity: capacity)
        sharedStorage = nil
    }

    /// A generation sharing the slots of another, with a longer service list.
    init(sharing other: Generation, services: [String]) {
        slots = other.slots
        self.services = services
        sharedStorage = other.sharedStorage ?? other
    }

    var capacity: Int { slots.capacity }

    deinit {
        if sharedStorage == nil {
            slots.words.deinitialize(count: slots.capacity * 4)
            UnsafeMutableRawPointer(slots.words).deallocate()
        }
    }
}

/// The number → lease table: many lock-free readers, one writer at a time.
///
/// - Readers never lock, never allocate, and never wait for the writer. A lookup
///   reads one slot's four atomic words under the slot's seqlock; it re-reads only
///   if that very slot was being rewritten at that instant.
/// - Updates of a number already present are made in place under the slot's
///   seqlock, so readers see either the old lease or the new one, never a mix.
/// - Growth (past 70% load) and full reloads build a new generation off to the
///   side and publish it with one atomic pointer store. The old generation is
///   freed only once no reader has announced it (hazard slots, one per reader):
///   see docs/architecture.md for the memory-ordering argument.
///
/// Memory: 32 bytes per slot, at most 70% full, so ≥ 45.7 bytes per entry; a full
/// load leaves 10% room (50.3 bytes per entry) so that new numbers do not grow it.
public final class LeaseTable: @unchecked Sendable {
    /// Bit pattern of the current `Generation` (unretained; owned by `live`).
    let current: UnsafeAtomic<UInt>
    /// Writer state: the live generation and the retired ones not yet reclaimed.
    let writer: Locked<WriterState>
    /// One hazard slot per registered reader.
    let hazards: Locked<[HazardSlot]>

    struct WriterState {
        var live: Generation
        var retired: [Generation] = []
        var count = 0
        var serviceIDs: [String: ServiceID] = [:]
        var services: [String] = [""]
        /// Bumped whenever new slots are published (growth, reload), not when only the
        /// service names change: a slot number is valid while this stays the same. (A
        /// freed generation's address can be reused, so it is not compared.)
        var slotEpoch = 0
    }

    public static let maximumLoad = 0.7

    public init(initialCapacity: Int = 1024) {
        let g = Generation(capacity: max(16, initialCapacity), services: [""])
        current = .create(UInt(bitPattern: Unmanaged.passUnretained(g).toOpaque()))
        writer = Locked(WriterState(live: g))
        hazards = Locked([])
    }

    deinit {
        current.destroy()
    }

    /// Number of numbers in the table (leased now or in the past).
    public var count: Int { writer.withLock { $0.count } }
    /// Slots in the live generation.
    public var capacity: Int { writer.withLock { $0.live.capacity } }
    /// Bytes of table storage per entry (slots only).
    public var bytesPerEntry: Double {
        writer.withLock { $0.count == 0 ? 0 : Double($0.live.capacity * 32) / Double($0.count) }
    }
    public var retiredGenerations: Int { writer.withLock { $0.retired.count } }

    // MARK: Readers

    /// Registers a reader. Each thread or serial queue that looks numbers up owns one.
    public func makeReader() -> LeaseTableReader {
        let slot = HazardSlot()
        hazards.withLock { $0.append(slot) }
        return LeaseTableReader(table: self, hazard: slot)
    }

    // MARK: Writer

    /// The id for a service name, creating it (and publishing it) when new.
    public func serviceID(_ name: String) -> ServiceID {
        writer.withLock { w in
            if let id = w.serviceIDs[name] { return id }
            let id = ServiceID(rawValue: UInt16(w.services.count))
            w.services.append(name)
            w.serviceIDs[name] = id
            // Same slots, longer name list.
            let g = Generation(sharing: w.live, services: w.services)
            publish(g, &w)
            return id
        }
    }

    /// Inserts or replaces the lease of a number.
    public func upsert(_ key: MSISDNKey, _ lease: Lease) {
        writer.withLock { w in
            if Double(w.count + 1) > Double(w.live.capacity) * Self.maximumLoad {
                grow(&w, to: Self.grown(w.live.capacity))
            }
            if w.live.slots.store(key.rawValue, lease) { w.count += 1 }
            reclaim(&w)
        }
    }

    /// Ends a number's lease at `time` (a removal from the storefront): later
    /// messages report `expired` with this lease, earlier ones still match.
    public func end(_ key: MSISDNKey, at time: UInt32) {
        writer.withLock { w in
            guard var lease = w.live.slots.find(key.rawValue) else { return }
            lease.expiresAt = min(lease.expiresAt, time)
            w.live.slots.store(key.rawValue, lease)
        }
    }

    /// Replaces the whole table with `entries` (start-up load, reload after a
    /// reconnect). Built off to the side and published at once.
    public func replaceAll(_ entries: some Sequence<(MSISDNKey, Lease)>, expectedCount: Int = 0) {
        let b = makeBuilder(expectedCount: expectedCount)
        for (k, l) in entries { b.insert(k, l) }
        replaceAll(with: b)
    }

    /// A new table to fill off to the side, entry by entry as rows arrive (a reload
    /// streamed from the database), then publish with `replaceAll(with:)`. Filled
    /// directly, not from an array of the rows gathered first: that array, freed, stays
    /// in the allocator's arena of the thread that ran the reload.
    public func makeBuilder(expectedCount: Int) -> LeaseTableBuilder {
        let services = writer.withLock { $0.services }
        return LeaseTableBuilder(generation: Generation(capacity: Self.capacity(for: max(expectedCount, 16)), services: services))
    }

    /// Publishes a builder's table in place of the current one, at once.
    public func replaceAll(with builder: LeaseTableBuilder) {
        let g = builder.generation
        writer.withLock { w in
            // Names registered while building are kept.
            let final = w.services.count == g.services.count ? g : Generation(sharing: g, services: w.services)
            w.count = builder.count
            publish(final, &w)
        }
    }

    /// Brings the live table in line with a full listing of leases, in place, with no
    /// second generation (docs/decisions/010-lease-table-memory.md).
    ///
    /// - A number whose lease differs is rewritten under its slot's seqlock (readers
    ///   see the old lease or the new one); a new number is added.
    /// - A number in the table but absent from the listing (a deletion whose
    ///   notification was lost) has its lease ended at `now`, if it still ran.
    /// - Which slots the listing visited is one bit per slot (180 KB for 1M leases),
    ///   not a set of keys, which once freed stays in the allocator's arena.
    ///
    /// `listing` must give each number once, its latest lease. Returns nil, with the
    /// listed leases applied but nothing ended, when the table was grown or replaced
    /// meanwhile (slot numbers moved): the caller then reloads fully.
    @discardableResult
    public func reconcile(_ listing: (_ visit: (MSISDNKey, Lease) -> Void) throws -> Void,
                          endingAbsentAt now: UInt32) rethrows -> ReconcileResult? {
        let (epoch0, capacity0) = writer.withLock { ($0.slotEpoch, $0.live.capacity) }
        var visited = [UInt64](repeating: 0, count: (capacity0 + 63) / 64)
        var updated = 0
        var moved = false
        try listing { key, lease in
            writer.withLock { w in
                if w.slotEpoch != epoch0 { moved = true }
                if let slot = w.live.slots.slot(of: key.rawValue) {
                    if !moved { visited[slot >> 6] |= 1 << UInt64(slot & 63) }
                    guard w.live.slots.read(at: slot) != lease else { return }
                    w.live.slots.store(key.rawValue, lease)
                } else {
                    if Double(w.count + 1) > Double(w.live.capacity) * Self.maximumLoad {
                        grow(&w, to: Self.grown(w.live.capacity))
                        moved = true
                    }
                    let slot = w.live.slots.storeReturningSlot(key.rawValue, lease).slot
                    w.count += 1
                    if !moved { visited[slot >> 6] |= 1 << UInt64(slot & 63) }
                }
                updated += 1
            }
        }
        return writer.withLock { w in
            defer { reclaim(&w) }
            guard !moved, w.slotEpoch == epoch0 else { return nil }
            var ended = 0, absent = 0
            for slot in 0..<capacity0 where visited[slot >> 6] & (1 << UInt64(slot & 63)) == 0 {
                guard let (key, current) = w.live.slots.entry(at: slot) else { continue }
                absent += 1
                guard current.expiresAt > now else { continue }
                var lease = current
                lease.expiresAt = max(lease.startsAt, now)
                w.live.slots.store(key, lease)
                ended += 1
            }
            return ReconcileResult(updated: updated, ended: ended, absent: absent)
        }
    }

    /// Frees retired generations no reader holds. Called by every write; callable on a timer.
    public func reclaim() { writer.withLock { reclaim(&$0) } }

    /// Slots for a table loaded with `entries`, with 10% of them to spare: sized exactly
    /// at the maximum load, the storefront's first new order after a load would grow it.
    static func capacity(for entries: Int) -> Int { Int((Double(entries) * 1.1 / maximumLoad).rounded(.up)) + 1 }

    /// The next size when full: half again, not double (a 1M-lease table is ~50 MB,
    /// and the old generation lives on until its readers let go).
    static func grown(_ capacity: Int) -> Int { capacity + capacity / 2 + 1 }

    func grow(_ w: inout WriterState, to capacity: Int) {
        let g = Generation(capacity: capacity, services: w.services)
        w.live.slots.forEach { g.slots.store($0, $1) }
        publish(g, &w)
    }

    func publish(_ g: Generation, _ w: inout WriterState) {
        let old = w.live
        if g.slots.words != old.slots.words { w.slotEpoch += 1 }
        w.live = g
        // seq_cst: ordered against the readers' hazard announcements (see architecture.md).
        current.store(UInt(bitPattern: Unmanaged.passUnretained(g).toOpaque()), ordering: .sequentiallyConsistent)
        w.retired.append(old)
        reclaim(&w)
    }

    func reclaim(_ w: inout WriterState) {
        guard !w.retired.isEmpty else { return }
        let held = hazards.withLock { slots in slots.map { $0.value.load(ordering: .sequentiallyConsistent) } }
        w.retired.removeAll { g in
            !held.contains(UInt(bitPattern: Unmanaged.passUnretained(g).toOpaque()))
        }
    }

    func unregister(_ slot: HazardSlot) {
        hazards.withLock { $0.removeAll { $0 === slot } }
    }
}

/// What an in-place reconcile did.
public struct ReconcileResult: Sendable, Hashable {
    /// Leases rewritten because they differed, and numbers added.
    public var updated: Int
    /// Running leases of numbers absent from the listing, ended.
    public var ended: Int
    /// Numbers in the table but not in the listing (the ended ones included): dead
    /// entries that only a full reload removes (slots are never freed in place).
    public var absent: Int
}

/// A whole table being built off to the side (see `LeaseTable.makeBuilder`). Later
/// inserts of a number replace earlier ones. A class: it owns slots that are not yet
/// published, and a copy must not be able to fill them behind its back.
public final class LeaseTableBuilder {
    fileprivate(set) var generation: Generation
    /// Distinct numbers inserted.
    public private(set) var count = 0

    fileprivate init(generation: Generation) { self.generation = generation }

    public func insert(_ key: MSISDNKey, _ lease: Lease) {
        if Double(count + 1) > Double(generation.capacity) * LeaseTable.maximumLoad {
            let bigger = Generation(capacity: LeaseTable.grown(generation.capacity), services: generation.services)
            generation.slots.forEach { bigger.slots.store($0, $1) }
            generation = bigger
        }
        if generation.slots.store(key.rawValue, lease) { count += 1 }
    }
}

/// A reader's hazard slot, padded to its own cache line so that readers on
/// different cores never write the same line.
final class HazardSlot: @unchecked Sendable {
    let value: UnsafeAtomic<UInt>
    private let storage: UnsafeMutablePointer<UInt.AtomicRepresentation>
    init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        storage = raw.bindMemory(to: UInt.AtomicRepresentation.self, capacity: 1)
        storage.initialize(to: UInt.AtomicRepresentation(0))
        value = UnsafeAtomic(at: storage)
    }
    deinit {
        storage.deinitialize(count: 1)
        UnsafeMutableRawPointer(storage).deallocate()
    }
}

/// A registered reader. Not thread-safe by itself: one per thread or serial queue.
public final class LeaseTableReader: @unchecked Sendable {
    let table: LeaseTable
    let hazard: HazardSlot
    /// Copies of the two atomics' handles, so a lookup never touches the shared
    /// `LeaseTable` object (whose reference count would otherwise bounce between
    /// cores on every call).
    let current: UnsafeAtomic<UInt>
    let hazardValue: UnsafeAtomic<UInt>

    init(table: LeaseTable, hazard: HazardSlot) {
        self.table = table
        self.hazard = hazard
        current = table.current
        hazardValue = hazard.value
    }

    deinit { table.unregister(hazard) }

    /// Pins the current generation for the duration of `body`: lookups inside reuse
    /// the pin, which is how a session routes a whole read batch for one fence.
    @inline(__always)
    public func withSnapshot<R>(_ body: (LeaseSnapshot) -> R) -> R {
        var p: UInt
        repeat {
            p = current.load(ordering: .acquiring)
            hazardValue.store(p, ordering: .sequentiallyConsistent)
        } while current.load(ordering: .sequentiallyConsistent) != p
        defer { hazardValue.store(0, ordering: .releasing) }
        let g = Unmanaged<Generation>.fromOpaque(UnsafeRawPointer(bitPattern: p)!)
        let slots = g._withUnsafeGuaranteedRef { $0.slots }
        return body(LeaseSnapshot(slots: slots, generation: g))
    }

    /// One lookup (pins for just this call).
    @inline(__always)
    public func lookup(_ key: MSISDNKey, at time: UInt32) -> LeaseMatch {
        withSnapshot { $0.lookup(key, at: time) }
    }
}

/// A pinned view of one generation. Valid only inside `withSnapshot`.
public struct LeaseSnapshot {
    let slots: SlotArray
    /// Unretained: kept alive by the reader's hazard announcement.
    let generation: Unmanaged<Generation>

    /// The lease state of a number for a message that arrived at `time` (Unix seconds).
    /// Expiry is checked here, so an expired lease never matches even if its removal
    /// has not reached the table yet.
    @inline(__always)
    public func lookup(_ key: MSISDNKey, at time: UInt32) -> LeaseMatch {
        guard let lease = slots.find(key.rawValue) else { return .unknown }
        if time < lease.startsAt { return .notYetActive(lease) }
        if time >= lease.expiresAt { return .expired(lease) }
        return .active(lease)
    }

    /// The name of a service id ("" for none or an unknown id).
    public func serviceName(_ id: ServiceID) -> String {
        let i = Int(id.rawValue)
        return generation._withUnsafeGuaranteedRef { $0.services.indices.contains(i) ? $0.services[i] : "" }
    }
}
