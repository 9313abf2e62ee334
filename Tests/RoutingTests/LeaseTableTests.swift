import Dispatch
import Routing
import XCTest

struct RNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func key(_ n: UInt64) -> MSISDNKey { MSISDNKey(String(447_000_000_000 + n))! }

final class LeaseTableTests: XCTestCase {

    func testMSISDNKeys() {
        XCTAssertNil(MSISDNKey(""))
        XCTAssertNil(MSISDNKey("44a"))
        XCTAssertNil(MSISDNKey("1234567890123456789"))
        XCTAssertNotEqual(MSISDNKey("0123"), MSISDNKey("123"))
        XCTAssertEqual(MSISDNKey("0447700900123")!.digits, "0447700900123")
    }

    func testExpiryIsCheckedAgainstArrivalTime() {
        let t = LeaseTable()
        let r = t.makeReader()
        let wa = t.serviceID("whatsapp")
        let lease = Lease(orderID: 42, service: wa, startsAt: 1000, expiresAt: 2000, version: 3)
        t.upsert(key(1), lease)
        XCTAssertEqual(r.lookup(key(1), at: 999), .notYetActive(lease))
        XCTAssertEqual(r.lookup(key(1), at: 1000), .active(lease))
        XCTAssertEqual(r.lookup(key(1), at: 1999), .active(lease))
        // Expired even though no removal arrived: reported with the order it last belonged to.
        XCTAssertEqual(r.lookup(key(1), at: 2000), .expired(lease))
        XCTAssertEqual(r.lookup(key(2), at: 1500), .unknown)
        r.withSnapshot { XCTAssertEqual($0.serviceName(wa), "whatsapp") }
        // An early end: later messages see expired, with the lease.
        t.end(key(1), at: 1500)
        var ended = lease
        ended.expiresAt = 1500
        XCTAssertEqual(r.lookup(key(1), at: 1600), .expired(ended))
        XCTAssertEqual(r.lookup(key(1), at: 1400), .active(ended))
    }

    /// Model-based: random operations against the table and a plain dictionary agree.
    func testAgreesWithADictionaryModel() {
        var rng = RNG(state: 99)
        let t = LeaseTable(initialCapacity: 16)
        let r = t.makeReader()
        var model: [MSISDNKey: Lease] = [:]
        let services = (0..<5).map { t.serviceID("svc\($0)") }
        for step in 0..<60_000 {
            let k = key(UInt64.random(in: 0..<3000, using: &rng))
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                let start = UInt32.random(in: 0..<10_000, using: &rng)
                let l = Lease(
                    orderID: UInt64.random(in: 1...UInt64.max, using: &rng), service: services.randomElement(using: &rng)!,
                    startsAt: start, expiresAt: start + UInt32.random(in: 1..<5000, using: &rng), version: UInt32(step))
                t.upsert(k, l)
                model[k] = l
            case 5:
                let at = UInt32.random(in: 0..<15_000, using: &rng)
                t.end(k, at: at)
                if var l = model[k] {
                    l.expiresAt = min(l.expiresAt, at)
                    model[k] = l
                }
            case 6 where step % 5000 == 0:
                // A full reload keeps the same content.
                t.replaceAll(model.map { ($0.key, $0.value) }, expectedCount: model.count)
            default:
                let at = UInt32.random(in: 0..<15_000, using: &rng)
                let want: LeaseMatch
                if let l = model[k] {
                    want = at < l.startsAt ? .notYetActive(l) : (at >= l.expiresAt ? .expired(l) : .active(l))
                } else {
                    want = .unknown
                }
                XCTAssertEqual(r.lookup(k, at: at), want, "step \(step)")
            }
        }
        XCTAssertEqual(t.count, model.count)
        for (k, l) in model { XCTAssertEqual(r.lookup(k, at: l.startsAt), l.startsAt < l.expiresAt ? .active(l) : .expired(l)) }
        XCTAssertLessThanOrEqual(Double(t.count) / Double(t.capacity), LeaseTable.maximumLoad + 1e-9)
    }

    /// A full load leaves room: the storefront's next new orders must not grow (and so
    /// double, in the old sizing) a table that was loaded exactly at its maximum load.
    func testAFullLoadLeavesRoomForNewNumbers() {
        let t = LeaseTable()
        let lease = Lease(orderID: 1, service: .none, startsAt: 100, expiresAt: 1000, version: 1)
        t.replaceAll((0..<1000).map { (key($0), lease) }, expectedCount: 1000)
        let capacity = t.capacity
        for n in UInt64(1000)..<1090 { t.upsert(key(n), lease) }
        XCTAssertEqual(t.capacity, capacity, "90 new numbers fit")
        XCTAssertLessThan(t.bytesPerEntry, 64)
        for n in UInt64(1090)..<1200 { t.upsert(key(n), lease) }
        XCTAssertGreaterThan(t.capacity, capacity)
        XCTAssertLessThan(t.capacity, capacity * 2, "grows by half, not double")
    }

    /// The periodic reconcile corrects the table in place: a changed lease is updated,
    /// a number missing from the listing (a deletion whose notification was lost) is
    /// ended, an already expired one is left alone, and no second generation is built.
    func testReconcileCorrectsInPlace() throws {
        let t = LeaseTable()
        let wa = t.serviceID("whatsapp")
        let l = { (o: UInt64, v: UInt32) in Lease(orderID: o, service: wa, startsAt: 100, expiresAt: 1000, version: v) }
        t.replaceAll((0..<1000).map { (key($0), l($0, 1)) }, expectedCount: 1000)
        t.upsert(key(5000), Lease(orderID: 5000, service: wa, startsAt: 10, expiresAt: 50, version: 1))  // expired long ago
        let capacity = t.capacity
        let r = t.makeReader()
        let result = t.reconcile({ visit in
            for n in UInt64(0)..<1000 where n != 7 {
                visit(key(n), n == 3 ? l(33, 2) : l(n, 1))
            }
            visit(key(2000), l(2000, 1))  // new since the last load
        }, endingAbsentAt: 500)
        let done = try XCTUnwrap(result, "nothing grew: corrected in place")
        XCTAssertEqual(done.updated, 2, "the changed lease and the new number; unchanged ones are not rewritten")
        XCTAssertEqual(done.ended, 1, "only the absent lease that was still running")
        XCTAssertEqual(done.absent, 2, "the ended one and the one expired long ago")
        guard case .active(let three) = r.lookup(key(3), at: 400) else { return XCTFail() }
        XCTAssertEqual(three.orderID, 33)
        guard case .expired(let seven) = r.lookup(key(7), at: 600) else { return XCTFail("an absent lease ends") }
        XCTAssertEqual(seven.orderID, 7)
        XCTAssertEqual(seven.expiresAt, 500)
        if case .active = r.lookup(key(7), at: 400) {} else { XCTFail("before the end it still matched") }
        guard case .expired(let old) = r.lookup(key(5000), at: 600) else { return XCTFail() }
        XCTAssertEqual(old.expiresAt, 50, "an expired lease is left as it was")
        if case .active = r.lookup(key(2000), at: 400) {} else { XCTFail("a new number is added") }
        XCTAssertEqual(t.capacity, capacity, "no new generation")
        XCTAssertEqual(t.retiredGenerations, 0)
        XCTAssertEqual(t.count, 1002)

        // A second pass over the same listing finds nothing more to correct.
        let again = t.reconcile({ visit in
            for n in UInt64(0)..<1000 where n != 7 { visit(key(n), n == 3 ? l(33, 2) : l(n, 1)) }
            visit(key(2000), l(2000, 1))
        }, endingAbsentAt: 510)
        XCTAssertEqual(again?.updated, 0)
        XCTAssertEqual(again?.ended, 0)
        XCTAssertEqual(again?.absent, 2)
    }

    /// When the listing holds so many new numbers that the table must grow, slot
    /// numbers move: the listed leases are applied, nothing is ended (absence can no
    /// longer be told), and nil tells the caller to reload fully.
    func testReconcileThatMustGrowAsksForAFullReload() {
        let t = LeaseTable(initialCapacity: 16)
        let lease = Lease(orderID: 1, service: .none, startsAt: 100, expiresAt: 1000, version: 1)
        t.upsert(key(99_999), lease)
        let result = t.reconcile({ visit in for n in UInt64(0)..<100 { visit(key(n), lease) } }, endingAbsentAt: 500)
        XCTAssertNil(result)
        XCTAssertEqual(t.count, 101)
        if case .active = t.makeReader().lookup(key(99_999), at: 600) {} else { XCTFail("absent, but not ended when slots moved") }
        if case .active = t.makeReader().lookup(key(42), at: 600) {} else { XCTFail("listed leases are applied") }
    }

    func testRetiredGenerationsAreReclaimedOnlyWhenUnpinned() {
        let t = LeaseTable(initialCapacity: 16)
        let r = t.makeReader()
        t.upsert(key(1), Lease(orderID: 1, service: .none, startsAt: 0, expiresAt: 10, version: 1))
        r.withSnapshot { snap in
            // Growth while this reader pins the old generation: it must stay alive.
            for i in 2..<200 { t.upsert(key(UInt64(i)), Lease(orderID: UInt64(i), service: .none, startsAt: 0, expiresAt: 10, version: 1)) }
            XCTAssertGreaterThan(t.retiredGenerations, 0)
            XCTAssertEqual(snap.lookup(key(1), at: 5), .active(Lease(orderID: 1, service: .none, startsAt: 0, expiresAt: 10, version: 1)))
        }
        t.reclaim()
        XCTAssertEqual(t.retiredGenerations, 0)
        XCTAssertEqual(r.lookup(key(150), at: 5), .active(Lease(orderID: 150, service: .none, startsAt: 0, expiresAt: 10, version: 1)))
    }

    /// Readers on several threads while a writer churns: every answer a reader
    /// gets is one the writer actually wrote (no torn leases), and nothing traps.
    /// Run under ThreadSanitizer by `make test` (see Makefile: tsan).
    func testConcurrentReadersWhileWriterChurns() {
        let t = LeaseTable(initialCapacity: 64)
        let n: UInt64 = 2000
        // Invariant the writer keeps for every lease: orderID == key number * 1_000_000 + version,
        // expiresAt == startsAt + version. A torn read breaks it.
        for i in 0..<n { t.upsert(key(i), Lease(orderID: i * 1_000_000, service: .none, startsAt: 100, expiresAt: 100, version: 0)) }
        let stop = ManagedFlag()
        let writerDone = DispatchSemaphore(value: 0)
        let reconciles = ManagedCounter(), writerFinished = ManagedFlag()
        DispatchQueue.global().async {
            var rng = RNG(state: 5)
            var v: UInt32 = 1
            while !stop.isSet {
                let i = UInt64.random(in: 0..<(n * 2), using: &rng)  // half new keys: growth and reloads happen
                t.upsert(key(i), Lease(orderID: i * 1_000_000 + UInt64(v), service: ServiceID(rawValue: UInt16(v % 7)), startsAt: 100, expiresAt: 100 + v, version: v))
                if v % 3000 == 0 {
                    t.replaceAll((0..<n).map { (key($0), Lease(orderID: $0 * 1_000_000 + UInt64(v), service: .none, startsAt: 100, expiresAt: 100 + v, version: v)) })
                } else if v % 3000 == 1500 {
                    // An in-place reconcile: every key below n rewritten under its seqlock,
                    // the others (absent from the listing) ended at 100.
                    t.reconcile({ visit in
                        for j in 0..<n { visit(key(j), Lease(orderID: j * 1_000_000 + UInt64(v), service: .none, startsAt: 100, expiresAt: 100 + v, version: v)) }
                    }, endingAbsentAt: 50)
                    reconciles.add()
                }
                v &+= 1
                if v > 60_000 { break }
            }
            writerFinished.set()
            writerDone.signal()
        }
        let readers = 3
        let bad = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: readers) { ri in
            let r = t.makeReader()
            var rng = RNG(state: UInt64(ri) + 17)
            // At least 150k lookups each, and on until reconciles ran under them.
            var k = 0
            while k < 150_000 || (reconciles.value < 2 && !writerFinished.isSet) {
                k += 1
                let i = UInt64.random(in: 0..<(n * 2), using: &rng)
                switch r.lookup(key(i), at: 50) {
                case .notYetActive(let l), .active(let l), .expired(let l):
                    let ended = i >= n && l.expiresAt == 100  // ended by a reconcile
                    if l.orderID != i * 1_000_000 + UInt64(l.version) || (l.expiresAt != 100 + l.version && !ended) { bad.add() }
                case .unknown:
                    if i < n { bad.add() }
                }
            }
        }
        stop.set()
        writerDone.wait()
        XCTAssertEqual(bad.value, 0, "torn or lost reads")
        XCTAssertGreaterThanOrEqual(reconciles.value, 2, "in-place reconciles ran while readers read")
        t.reclaim()
        XCTAssertEqual(t.retiredGenerations, 0)
    }
}

/// Test helpers with proper synchronization (pthread-free, TSan-visible atomics).
import Atomics
final class ManagedFlag: @unchecked Sendable {
    private let v = ManagedAtomic<Bool>(false)
    var isSet: Bool { v.load(ordering: .acquiring) }
    func set() { v.store(true, ordering: .releasing) }
}
final class ManagedCounter: @unchecked Sendable {
    private let v = ManagedAtomic<Int>(0)
    var value: Int { v.load(ordering: .acquiring) }
    func add() { v.wrappingIncrement(ordering: .relaxed) }
}
