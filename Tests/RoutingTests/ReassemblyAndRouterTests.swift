import Foundation
import Primitives
import Routing
import SMPPWire
import XCTest

final class ReassemblyTests: XCTestCase {
    func key(ref: UInt16 = 7, bits: UInt8 = 8, total: UInt8 = 3) -> PartKey {
        PartKey(carrier: "c1", source: "Google", destination: "447700900123", reference: ref, referenceBits: bits, total: total)
    }
    func part(_ seq: UInt8, _ body: [UInt8], key k: PartKey? = nil, dc: UInt8 = 0, at: UInt64 = 1000) -> Part {
        Part(key: k ?? key(), sequence: seq, dataCoding: dc, body: body, rawPDU: [1, 2, 3], receivedAt: at)
    }

    func testOutOfOrderWithDuplicatesAndSplitCharacters() throws {
        let r = Reassembler()
        var ev: [AssembledMessage] = []
        // A GSM escape (€ = 1B 65) split across parts 1 and 2.
        let a = GSM7.encodeUnpacked("Code ")! + [0x1B], b: [UInt8] = [0x65] + GSM7.encodeUnpacked("5 is ")!, c = GSM7.encodeUnpacked("G-123456")!
        XCTAssertEqual(r.add(part(3, c), evicted: &ev), .pending(have: 1, total: 3))
        XCTAssertEqual(r.add(part(1, a), evicted: &ev), .pending(have: 2, total: 3))
        XCTAssertEqual(r.add(part(1, a), evicted: &ev), .duplicate)
        guard case .complete(let m) = r.add(part(2, b), evicted: &ev) else { return XCTFail("not complete") }
        XCTAssertEqual(m.decodeText().text, "Code €5 is G-123456")
        XCTAssertEqual(r.pendingCount, 0)
        XCTAssertEqual(r.pendingBytes, 0)

        // A UCS2 surrogate pair split across parts (16-bit reference).
        let u = UCS2.encode("code 390211 🙂 ok")
        let cut = 26  // between the two halves of the emoji's surrogate pair
        let k16 = key(ref: 300, bits: 16, total: 2)
        XCTAssertEqual(r.add(part(2, Array(u[cut...]), key: k16, dc: 8), evicted: &ev), .pending(have: 1, total: 2))
        guard case .complete(let m2) = r.add(part(1, Array(u[..<cut]), key: k16, dc: 8), evicted: &ev) else { return XCTFail() }
        let t = m2.decodeText()
        XCTAssertEqual(t.text, "code 390211 🙂 ok")
        XCTAssertFalse(t.hadInvalidInput)
    }

    func testReferenceWidthAndTotalSeparateMessages() {
        let r = Reassembler()
        var ev: [AssembledMessage] = []
        _ = r.add(part(1, [0x41], key: key(bits: 8)), evicted: &ev)
        _ = r.add(part(1, [0x42], key: key(bits: 16)), evicted: &ev)
        _ = r.add(part(1, [0x43], key: key(total: 2)), evicted: &ev)
        XCTAssertEqual(r.pendingCount, 3)
    }

    func testTimeoutEmitsIncompleteWithGap() {
        let r = Reassembler(timeoutMillis: 60_000)
        var ev: [AssembledMessage] = []
        _ = r.add(part(1, GSM7.encodeUnpacked("Your code ")!, at: 1_000), evicted: &ev)
        _ = r.add(part(3, GSM7.encodeUnpacked(" thanks")!, at: 2_000), evicted: &ev)
        XCTAssertTrue(r.expire(now: 60_999).isEmpty)
        let out = r.expire(now: 61_000)
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(out[0].missing, [2])
        XCTAssertFalse(out[0].isComplete)
        XCTAssertEqual(out[0].decodeText().text, "Your code […part 2 of 3 missing…] thanks")
        XCTAssertEqual(r.timedOutCount, 1)
        XCTAssertEqual(r.pendingCount, 0)
    }

    /// An SMSC that never saw our ack redelivers a part of a message we already
    /// finished: it is held, and given up silently if nothing else comes, never a
    /// phantom incomplete message. Redelivered whole, the message is assembled again
    /// with the same parts (the store finds it a duplicate).
    func testRedeliveredPartOfAFinishedMessageMakesNoPhantom() {
        let r = Reassembler(timeoutMillis: 60_000)
        let k = key(total: 2)
        var ev: [AssembledMessage] = []
        _ = r.add(part(1, [0x41], key: k, at: 1_000), evicted: &ev)
        guard case .complete = r.add(part(2, [0x42], key: k, at: 1_100), evicted: &ev) else { return XCTFail("not completed") }
        XCTAssertEqual(r.add(part(2, [0x42], key: k, at: 5_000), evicted: &ev), .pending(have: 1, total: 2))
        XCTAssertEqual(r.add(part(2, [0x42], key: k, at: 5_500), evicted: &ev), .duplicate)
        XCTAssertEqual(r.pendingCount, 0, "a held redelivery is not a message being reassembled")
        XCTAssertEqual(r.heldRedeliveries, 1)
        XCTAssertTrue(r.stale(olderThan: 2_000, now: 10_000, recheck: 3_000).isEmpty, "only the timeout decides it")
        XCTAssertTrue(r.expire(now: 65_000).isEmpty, "no phantom message")
        XCTAssertEqual(r.heldRedeliveries, 0)
        XCTAssertEqual(r.timedOutCount, 0)
        XCTAssertEqual(r.pendingCount, 0)
        XCTAssertEqual(r.pendingBytes, 0)
        _ = r.add(part(1, [0x41], key: k, at: 70_000), evicted: &ev)
        guard case .complete(let again) = r.add(part(2, [0x42], key: k, at: 70_100), evicted: &ev) else { return XCTFail("not reassembled") }
        XCTAssertEqual(again.parts.map { $0?.body }, [[0x41], [0x42]])
        // Remembered for an hour by default, then forgotten.
        let r2 = Reassembler(timeoutMillis: 60_000)
        _ = r2.add(part(1, [0x41], key: k, at: 1_000), evicted: &ev)
        _ = r2.add(part(2, [0x42], key: k, at: 1_100), evicted: &ev)
        XCTAssertEqual(r2.add(part(2, [0x42], key: k, at: 1_100 + 3_600_001), evicted: &ev), .pending(have: 1, total: 2))
        XCTAssertEqual(r2.expire(now: 1_100 + 3_600_001 + 60_000).count, 1, "a part not known as finished times out as incomplete")
    }

    /// Found by make bench (1M messages, 8-bit references): a new message reuses a
    /// finished message's reference, and its last part repeats that message's last
    /// part exactly (the same template to the same number). Arriving first, that part
    /// used to be absorbed as a redelivery, and the new message never completed,
    /// although the SMSC had seen both parts acked.
    func testANewMessageRepeatingAFinishedPartCompletesInAnyOrder() {
        let k = key(total: 2)
        for reversed in [true, false] {
            let r = Reassembler(timeoutMillis: 60_000)
            var ev: [AssembledMessage] = []
            _ = r.add(part(1, [0x41], key: k, at: 1_000), evicted: &ev)
            guard case .complete = r.add(part(2, [0x42], key: k, at: 1_100), evicted: &ev) else { return XCTFail("not completed") }
            let new = [part(1, [0x51], key: k, at: 15_000), part(2, [0x42], key: k, at: 15_000)]
            let order = reversed ? [new[1], new[0]] : new
            XCTAssertEqual(r.add(order[0], evicted: &ev), .pending(have: 1, total: 2))
            guard case .complete(let m) = r.add(order[1], evicted: &ev) else { return XCTFail("new message lost (reversed: \(reversed))") }
            XCTAssertEqual(m.parts.map { $0?.body }, [[0x51], [0x42]])
        }
        // Three parts, one repeated and one missing: stored incomplete at the timeout, as any other.
        let r = Reassembler(timeoutMillis: 60_000)
        var ev: [AssembledMessage] = []
        let k3 = key(total: 3)
        _ = r.add(part(1, [0x41], key: k3, at: 1_000), evicted: &ev)
        _ = r.add(part(2, [0x42], key: k3, at: 1_000), evicted: &ev)
        _ = r.add(part(3, [0x43], key: k3, at: 1_000), evicted: &ev)
        _ = r.add(part(3, [0x43], key: k3, at: 2_000), evicted: &ev)
        _ = r.add(part(1, [0x61], key: k3, at: 2_000), evicted: &ev)
        XCTAssertEqual(r.expire(now: 62_000).map(\.missing), [[2]])
    }

    /// What the store's parts decide for a pending message (other bridges, or this
    /// one before a restart).
    func testResolvingAPendingMessageWithTheStoredParts() {
        let k = key(total: 3)
        let p1 = part(1, [0x41], key: k), p2 = part(2, [0x42], key: k), p3 = part(3, [0x43], key: k)
        func held(_ parts: [Part], echoes: Set<UInt8> = []) -> AssembledMessage {
            var slots = [Part?](repeating: nil, count: 3)
            for p in parts { slots[Int(p.sequence) - 1] = p }
            return AssembledMessage(key: k, parts: slots, missing: slots.indices.filter { slots[$0] == nil }.map { $0 + 1 }, echoes: echoes)
        }
        let keys = { (ps: [Part]) in Set(ps.map(DedupKey.part)) }
        // Stored already by another bridge: drop it, before the timeout or at it.
        XCTAssertEqual(held([p1]).resolve(open: [], consumed: keys([p1, p2, p3]), timedOut: false), .storedAlready)
        XCTAssertEqual(held([p1]).resolve(open: [], consumed: keys([p1, p2, p3]), timedOut: true), .storedAlready)
        // Completed with another bridge's open parts.
        XCTAssertEqual(held([p1]).resolve(open: [p2, p3], consumed: [], timedOut: false), .complete(held([p1, p2, p3])))
        // Not complete: wait, or at the timeout store what there is.
        XCTAssertEqual(held([p1]).resolve(open: [p3], consumed: [], timedOut: false), .wait)
        XCTAssertEqual(held([p1]).resolve(open: [p3], consumed: [], timedOut: true), .incomplete(held([p1, p3])))
        // An echo found consumed is the finished message's own part: it says nothing
        // about the new part beside it, which used to be dropped with it.
        XCTAssertEqual(held([p1, p2], echoes: [2]).resolve(open: [], consumed: keys([p2]), timedOut: false), .wait)
        XCTAssertEqual(held([p1, p2], echoes: [2]).resolve(open: [], consumed: keys([p2]), timedOut: true), .incomplete(held([p1, p2], echoes: [2])))
        // A part consumed by some other message, beside one that is not: a new message.
        XCTAssertEqual(held([p1, p2]).resolve(open: [], consumed: keys([p2]), timedOut: true), .incomplete(held([p1, p2])))
        // Only echoes: nothing to store, ever.
        XCTAssertEqual(held([p2], echoes: [2]).resolve(open: [p1, p3], consumed: keys([p2]), timedOut: false), .wait)
        XCTAssertEqual(held([p2], echoes: [2]).resolve(open: [], consumed: keys([p2]), timedOut: true), .storedAlready)
    }

    /// The new message's sibling can come seconds later (an SMSC retry): the store
    /// lookup after 2 s must not drop the held part, and the message completes.
    func testAHeldPartCompletesANewMessageWhoseSiblingComesLater() {
        let r = Reassembler(timeoutMillis: 60_000)
        let k = key(total: 2)
        var ev: [AssembledMessage] = []
        _ = r.add(part(1, [0x41], key: k, at: 1_000), evicted: &ev)
        _ = r.add(part(2, [0x42], key: k, at: 1_000), evicted: &ev)
        XCTAssertEqual(r.add(part(2, [0x42], key: k, at: 20_000), evicted: &ev), .pending(have: 1, total: 2))
        XCTAssertTrue(r.stale(olderThan: 2_000, now: 25_000, recheck: 3_000).isEmpty)
        guard case .complete(let m) = r.add(part(1, [0x51], key: k, at: 27_000), evicted: &ev) else { return XCTFail("new message lost") }
        XCTAssertEqual(m.parts.map { $0?.body }, [[0x51], [0x42]])
        XCTAssertEqual(r.heldRedeliveries, 0)
        XCTAssertEqual(r.pendingBytes, 0)
    }

    /// The reassembler has forgotten the finished message (a restart, or more finished
    /// parts than it remembers); the store lookup finds the part consumed. It is held
    /// as an echo, so that a sibling arriving seconds later still completes the new
    /// message, and alone it is given up at the timeout without a phantom.
    func testPartsTheStoreFoundConsumedAreHeldAsEchoes() {
        let k = key(total: 2)
        var ev: [AssembledMessage] = []
        let r = Reassembler(timeoutMillis: 60_000, rememberMillis: 1)
        let repeated = part(2, [0x42], key: k, at: 20_000)
        XCTAssertEqual(r.add(repeated, evicted: &ev), .pending(have: 1, total: 2))
        XCTAssertEqual(r.stale(olderThan: 2_000, now: 22_000, recheck: 3_000).count, 1)
        r.markEchoes(part(2, [0x43], key: k).key, consumed: [DedupKey.part(part(2, [0x43], key: k))])  // other content: no echo
        XCTAssertEqual(r.pendingCount, 1)
        r.markEchoes(k, consumed: [DedupKey.part(repeated)])
        XCTAssertEqual(r.pendingCount, 0)
        XCTAssertEqual(r.heldRedeliveries, 1)
        XCTAssertTrue(r.stale(olderThan: 2_000, now: 26_000, recheck: 3_000).isEmpty)
        guard case .complete(let m) = r.add(part(1, [0x51], key: k, at: 27_000), evicted: &ev) else { return XCTFail("new message lost") }
        XCTAssertEqual(m.parts.map { $0?.body }, [[0x51], [0x42]])
        XCTAssertEqual(r.heldRedeliveries, 0)
        // Alone: given up silently at the timeout.
        XCTAssertEqual(r.add(part(2, [0x42], key: k, at: 100_000), evicted: &ev), .pending(have: 1, total: 2))
        r.markEchoes(k, consumed: [DedupKey.part(repeated)])
        XCTAssertTrue(r.expire(now: 160_000).isEmpty)
        XCTAssertEqual(r.heldRedeliveries, 0)
        XCTAssertEqual(r.pendingBytes, 0)
    }

    /// Sessions add parts from several threads while the sweeper looks for stale
    /// messages: every message completes exactly once, the byte and held counts come
    /// back to zero, and held repeats are never offered for a lookup. (Also under
    /// TSan, `make tsan`.)
    func testConcurrentAddsSweepsAndRepeatsKeepTheCounts() {
        let r = Reassembler(timeoutMillis: 600_000)
        let threads = 4, perThread = 300
        let completed = Locked(0)
        let sweeping = Locked(true)
        let offeredHeld = Locked(0)
        let sweeper = Thread {
            while sweeping.withLock({ $0 }) {
                for m in r.stale(olderThan: 0, now: 1_000_000, recheck: 0) where m.parts.compactMap({ $0 }).allSatisfy({ m.echoes.contains($0.sequence) }) {
                    offeredHeld.withLock { $0 += 1 }
                }
                usleep(200)  // the bridge sweeps once a second; back to back, the sweep starved the adders for minutes
            }
        }
        sweeper.start()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var ev: [AssembledMessage] = []
            for i in 0..<perThread {
                let k = PartKey(carrier: "c1", source: "Bank", destination: "4477009\(t)\(i)", reference: UInt16(i % 256), referenceBits: 8, total: 3)
                let parts = (1...3).map { Part(key: k, sequence: UInt8($0), dataCoding: 0, body: [UInt8(t), UInt8(i & 0xFF), UInt8($0)], rawPDU: [1], receivedAt: 1_000) }
                for p in (i % 2 == 0 ? parts : parts.reversed()) {
                    if case .complete = r.add(p, evicted: &ev) { completed.withLock { $0 += 1 } }
                }
                _ = r.add(parts[1], evicted: &ev)  // a redelivered part of the finished message: held
            }
            XCTAssertTrue(ev.isEmpty)
        }
        sweeping.withLock { $0 = false }
        while sweeper.isExecuting { usleep(1000) }
        XCTAssertEqual(completed.withLock { $0 }, threads * perThread)
        XCTAssertEqual(offeredHeld.withLock { $0 }, 0, "held repeats offered for a lookup")
        XCTAssertEqual(r.pendingCount, 0)
        XCTAssertEqual(r.heldRedeliveries, threads * perThread)
        XCTAssertTrue(r.expire(now: 10_000_000).isEmpty, "repeats alone store nothing")
        XCTAssertEqual(r.heldRedeliveries, 0)
        XCTAssertEqual(r.pendingBytes, 0)
        XCTAssertEqual(r.timedOutCount, 0)
    }

    /// Pending messages are offered for a store lookup once old enough, then only
    /// again after the recheck interval; a claimed message is gone and remembered.
    func testStaleAndClaimForCrossBridgeCompletion() {
        let r = Reassembler(timeoutMillis: 60_000)
        var ev: [AssembledMessage] = []
        _ = r.add(part(1, [0x41], at: 1_000), evicted: &ev)
        XCTAssertTrue(r.stale(olderThan: 2_000, now: 2_500, recheck: 3_000).isEmpty)
        XCTAssertEqual(r.stale(olderThan: 2_000, now: 3_000, recheck: 3_000).map(\.missing), [[2, 3]])
        XCTAssertTrue(r.stale(olderThan: 2_000, now: 4_000, recheck: 3_000).isEmpty, "not again before the recheck")
        XCTAssertEqual(r.stale(olderThan: 2_000, now: 6_000, recheck: 3_000).count, 1)
        XCTAssertNotNil(r.claim(part(1, [0x41]).key, now: 6_100))
        XCTAssertNil(r.claim(part(1, [0x41]).key, now: 6_200))
        XCTAssertEqual(r.pendingCount, 0)
        XCTAssertEqual(r.add(part(1, [0x41], at: 7_000), evicted: &ev), .pending(have: 1, total: 3), "held as a possible redelivery")
        XCTAssertTrue(r.expire(now: 7_000 + 60_000).isEmpty, "and given up silently")
    }

    func testMemoryCapEvictsOldestAndCounts() {
        let r = Reassembler(maxPendingBytes: 2_000)
        var ev: [AssembledMessage] = []
        for i in 0..<20 {
            _ = r.add(part(1, [UInt8](repeating: 0x41, count: 100), key: key(ref: UInt16(i)), at: UInt64(i)), evicted: &ev)
        }
        XCTAssertLessThanOrEqual(r.pendingBytes, 2_000)
        XCTAssertGreaterThan(r.evictedCount, 0)
        XCTAssertEqual(ev.count, r.evictedCount)
        XCTAssertEqual(ev.first?.key.reference, 0, "the oldest goes first")
        XCTAssertTrue(ev.allSatisfy { !$0.isComplete })
    }

    /// A 255-part message's first part holds 255 slots: the cap counts them. A flood of
    /// such first parts (the hostile carrier of issue 22: new reference and sender each
    /// time) stays under the cap, evicting its own oldest in arrival order, and never
    /// pushes out another carrier's pending parts.
    func testOneCarriersFloodEvictsOnlyItsOwnOldestAndStaysUnderTheCap() {
        let cap = 4 << 20
        let r = Reassembler(maxPendingBytes: cap)
        var ev: [AssembledMessage] = []
        let good = PartKey(carrier: "good", source: "Google", destination: "447700900123", reference: 1, referenceBits: 8, total: 2)
        _ = r.add(Part(key: good, sequence: 1, dataCoding: 0, body: [0x41], rawPDU: [1], receivedAt: 0), evicted: &ev)
        let oneSlotArray = 255 * MemoryLayout<Part?>.stride
        for i in 0..<5_000 {
            let k = PartKey(carrier: "bad", source: "S\(i)", destination: "447700900999", reference: UInt16(i & 0xFF), referenceBits: 8, total: 255)
            _ = r.add(Part(key: k, sequence: 1, dataCoding: 0, body: [0x42], rawPDU: [2], receivedAt: UInt64(1 + i)), evicted: &ev)
            XCTAssertLessThanOrEqual(r.pendingBytes, cap)
        }
        XCTAssertGreaterThanOrEqual(r.pendingBytes(carrier: "bad"), (cap / 2 / (oneSlotArray + 400)) * oneSlotArray, "slots counted")
        XCTAssertLessThanOrEqual(r.pendingBytes(carrier: "bad"), cap / 2, "within its share")
        XCTAssertGreaterThan(r.pendingBytes(carrier: "good"), 0, "the other carrier's part is still held")
        XCTAssertTrue(ev.allSatisfy { $0.key.carrier == "bad" })
        XCTAssertEqual(ev.prefix(3).map(\.key.source), ["S0", "S1", "S2"], "oldest first")
        XCTAssertEqual(ev.count, r.evictedCount)
    }

    /// Over the global cap, the carrier holding the most pays, not the newcomer.
    func testOverTheGlobalCapTheHeaviestCarrierPays() {
        let r = Reassembler(maxPendingBytes: 100_000, maxPendingBytesPerCarrier: 100_000)
        var ev: [AssembledMessage] = []
        for i in 0..<40 {
            let k = PartKey(carrier: "heavy", source: "S\(i)", destination: "447700900999", reference: UInt16(i), referenceBits: 8, total: 2)
            _ = r.add(Part(key: k, sequence: 1, dataCoding: 0, body: [UInt8](repeating: 1, count: 2_000), rawPDU: [], receivedAt: UInt64(i)), evicted: &ev)
        }
        let light = PartKey(carrier: "light", source: "G", destination: "447700900123", reference: 1, referenceBits: 8, total: 2)
        _ = r.add(Part(key: light, sequence: 1, dataCoding: 0, body: [UInt8](repeating: 1, count: 2_000), rawPDU: [], receivedAt: 100), evicted: &ev)
        for i in 40..<80 {
            let k = PartKey(carrier: "heavy", source: "S\(i)", destination: "447700900999", reference: UInt16(i), referenceBits: 8, total: 2)
            _ = r.add(Part(key: k, sequence: 1, dataCoding: 0, body: [UInt8](repeating: 1, count: 2_000), rawPDU: [], receivedAt: UInt64(i + 100)), evicted: &ev)
        }
        XCTAssertLessThanOrEqual(r.pendingBytes, 100_000)
        XCTAssertFalse(ev.isEmpty)
        XCTAssertTrue(ev.allSatisfy { $0.key.carrier == "heavy" })
        XCTAssertGreaterThan(r.pendingBytes(carrier: "light"), 0)
    }

    func testRestoreFromStoredParts() {
        // Parts persisted before a restart rebuild the pending state; the next part completes it.
        let stored = [part(2, GSM7.encodeUnpacked("de 4417")!), part(1, GSM7.encodeUnpacked("Seu codigo ")!)]
        let fresh = Reassembler()
        XCTAssertTrue(fresh.restore([stored[0]]).isEmpty)
        XCTAssertEqual(fresh.pendingCount, 1)
        let k = key(total: 2)
        let r2 = Reassembler()
        let parts = [part(1, GSM7.encodeUnpacked("Seu codigo ")!, key: k), part(2, GSM7.encodeUnpacked("e 4417")!, key: k)]
        XCTAssertTrue(r2.restore([parts[1]]).isEmpty)
        var ev: [AssembledMessage] = []
        guard case .complete(let m) = r2.add(parts[0], evicted: &ev) else { return XCTFail() }
        XCTAssertEqual(m.decodeText().text, "Seu codigo e 4417")
    }
}

final class RouterTests: XCTestCase {
    let now: UInt64 = 1_800_000_000_000  // ms

    func makeRouter() -> (SessionRouter, LeaseTable) {
        let table = LeaseTable()
        let wa = table.serviceID("whatsapp")
        let tg = table.serviceID("telegram")
        let s = UInt32(now / 1000)
        table.upsert(MSISDNKey("447700900123")!, Lease(orderID: 1001, service: wa, startsAt: s - 600, expiresAt: s + 600, version: 4))
        table.upsert(MSISDNKey("447700900124")!, Lease(orderID: 1002, service: wa, startsAt: s - 6000, expiresAt: s - 60, version: 2))
        table.upsert(MSISDNKey("447700900125")!, Lease(orderID: 1003, service: tg, startsAt: s - 600, expiresAt: s + 600, version: 1))
        let router = SessionRouter(carrier: CarrierProfile(name: "c1", plan: .uk), table: table, reassembler: Reassembler(), extractor: OTPExtractor())
        return (router, table)
    }

    func deliver(from: String, to: String, text: String, seq: UInt32 = 1, esm: UInt8 = 0, udh: [UInt8] = [], tlvs: [TLV] = []) -> [UInt8] {
        pdu(esm: esm, text: text, tlvs: tlvs, source: from, to: to, destTON: .national, sequence: seq, udh: udh)
    }

    func route(_ r: SessionRouter, _ bytes: [UInt8]) -> (Accepted, RoutingDecision?) {
        bytes.withUnsafeBytes { p in
            let v = try! ShortMessageView(validating: p)
            var ev: [InboundMessage] = []
            let a = r.accept(v, receivedAt: now, evicted: &ev)
            switch a {
            case .message(let m): return (a, r.decide(m))
            case .part(_, _, let done?): return (a, r.decide(done))
            default: return (a, nil)
            }
        }
    }

    func testOutcomes() {
        let (r, _) = makeRouter()
        let routed = route(r, deliver(from: "WhatsApp", to: "07700900123", text: "Your WhatsApp code: 482-913")).1!
        XCTAssertEqual(routed.outcome, .routed)
        XCTAssertEqual(routed.orderID, 1001)
        XCTAssertEqual(routed.service, "whatsapp")
        XCTAssertEqual(routed.leaseVersion, 4)
        XCTAssertEqual(routed.code, "482-913")
        XCTAssertEqual(routed.destination, .msisdn("447700900123"))
        XCTAssertFalse(routed.serviceMismatch)

        let expired = route(r, deliver(from: "WhatsApp", to: "07700900124", text: "code 111-222")).1!
        XCTAssertEqual(expired.outcome, .expired)
        XCTAssertEqual(expired.orderID, 1002, "expired reports the order the number last belonged to")

        XCTAssertEqual(route(r, deliver(from: "WhatsApp", to: "07700900999", text: "code 111-222")).1!.outcome, .unmatched)
        XCTAssertEqual(route(r, deliver(from: "WhatsApp", to: "CALL-NOW", text: "x")).1!.outcome, .invalid)

        // A WhatsApp code to a number leased for Telegram: routed, flagged.
        let mismatch = route(r, deliver(from: "WhatsApp", to: "07700900125", text: "Your WhatsApp code: 555-666")).1!
        XCTAssertEqual(mismatch.outcome, .routed)
        XCTAssertEqual(mismatch.orderID, 1003)
        XCTAssertTrue(mismatch.serviceMismatch)
    }

    func testDedupKeyIsStableAcrossRedeliveries() {
        let (r, _) = makeRouter()
        let a = route(r, deliver(from: "WhatsApp", to: "07700900123", text: "Your code 1234", seq: 1)).1!
        let b = route(r, deliver(from: "WhatsApp", to: "07700900123", text: "Your code 1234", seq: 999)).1!
        let c = route(r, deliver(from: "WhatsApp", to: "07700900123", text: "Your code 1235", seq: 1)).1!
        XCTAssertEqual(a.dedupKey, b.dedupKey)
        XCTAssertNotEqual(a.dedupKey, c.dedupKey)
        XCTAssertEqual(a.dedupKey.hex.count, 32)
    }

    func testMultipartThroughTheRouter() {
        let (r, _) = makeRouter()
        let p2 = deliver(from: "Google", to: "07700900123", text: "verification code.", esm: 0x40, udh: [5, 0, 3, 9, 2, 2])
        let p1 = deliver(from: "Google", to: "07700900123", text: "G-771204 is your Google ", esm: 0x40, udh: [5, 0, 3, 9, 2, 1])
        let (a2, d2) = route(r, p2)
        guard case .part(_, let k2, nil) = a2 else { return XCTFail("\(a2)") }
        XCTAssertNil(d2)
        // The same part again (an SMSC retry) is absorbed with the same key.
        guard case .duplicatePart(_, let again) = route(r, p2).0 else { return XCTFail() }
        XCTAssertEqual(again, k2)
        let (_, d) = route(r, p1)
        XCTAssertEqual(d?.text, "G-771204 is your Google verification code.")
        XCTAssertEqual(d?.code, "G-771204")
        XCTAssertEqual(d?.partCount, 2)
        XCTAssertEqual(d?.outcome, .routed)
    }

    func testRedactionNeverShowsNumbersOrCodes() {
        XCTAssertEqual(Redact.number("447700900123"), "**********23")
        XCTAssertEqual(Redact.text("Your code is 482913"), "Your code is ******")
    }
}
