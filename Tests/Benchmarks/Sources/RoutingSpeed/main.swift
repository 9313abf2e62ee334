// make bench-routing: the lock-free lease table and the full routing decision.
//  - lookups/s with 1 and 2 reader threads, with no writer and with a writer at 10,000 updates/s
//  - the same for a Mutex<[key: Lease]> baseline
//  - full routing decision (normalize, look up, decode text, extract the code), GSM and UCS2, one core
//  - bulk load time and bytes per entry at 1M and 10M entries
import BenchSamples
import Foundation
import Routing
import SMPPWire
import Synchronization

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func rss() -> Int {
    let s = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for l in s.split(separator: "\n") where l.hasPrefix("VmRSS:") {
        return Int(l.split(separator: " ").dropFirst().first ?? "0")! * 1024
    }
    return 0
}

final class Flag: @unchecked Sendable {
    let v = Atomic<Bool>(false)
}
final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

let base: UInt64 = 447_000_000_000
let t0 = UInt32(Date().timeIntervalSince1970)
func lease(_ i: UInt64) -> Lease { Lease(orderID: i, service: ServiceID(rawValue: UInt16(i % 8)), startsAt: t0 - 3600, expiresAt: t0 + 3600, version: 1) }

/// Runs `readers` threads for `seconds`, each calling `body` in batches; optionally a writer at `writesPerSecond`.
func measure(readers: Int, seconds: Double, writesPerSecond: Int, write: @escaping @Sendable (UInt64) -> Void,
             reader: @escaping @Sendable (Int) -> (() -> Int)) -> Double {
    let stop = Flag()
    let counts = Box([Int](repeating: 0, count: readers))
    let writer = Thread {
        var i: UInt64 = 0
        let start = now()
        while !stop.v.load(ordering: .relaxed) {
            let due = Int((now() - start) * Double(writesPerSecond))
            while Int(i) < due { write(i); i += 1 }
            usleep(1000)
        }
    }
    if writesPerSecond > 0 { writer.start() }
    let group = DispatchGroup()
    for r in 0..<readers {
        group.enter()
        let t = Thread {
            let step = reader(r)
            var n = 0
            let start = now()
            while now() - start < seconds { n += step() }
            counts.value[r] = n
            group.leave()
        }
        t.start()
    }
    group.wait()
    stop.v.store(true, ordering: .relaxed)
    return Double(counts.value.reduce(0, +)) / seconds
}

let onlyDecisions = ProcessInfo.processInfo.environment["ONLY_DECISIONS"] != nil
print("== bulk load and memory")
for n in onlyDecisions ? [] : [1_000_000, 10_000_000] {
    let before = rss()
    let table = LeaseTable()
    let start = now()
    table.replaceAll((0..<UInt64(n)).lazy.map { (MSISDNKey(raw: base + $0), lease($0)) }, expectedCount: n)
    let el = now() - start
    print(String(format: "entries %d: bulk load %.3f s, table %.1f bytes/entry (%d slots x 32 B), RSS +%.0f MB",
                 n, el, table.bytesPerEntry, table.capacity, Double(rss() - before) / 1e6))
    // The periodic reconcile over the same listing, nothing to correct: in place, so
    // RSS must not move.
    let beforeReconcile = rss()
    let rStart = now()
    let result = table.reconcile({ visit in for i in 0..<UInt64(n) { visit(MSISDNKey(raw: base + i), lease(i)) } }, endingAbsentAt: 0)
    let corrected = result.map { "\($0.updated + $0.ended) corrected" } ?? "grew: nothing ended"
    print(String(format: "entries %d: reconcile in place %.3f s, RSS %+.0f MB", n, now() - rStart, Double(rss() - beforeReconcile) / 1e6), "(\(corrected))")
}

let n: UInt64 = onlyDecisions ? 1000 : 1_000_000
let table = LeaseTable()
table.replaceAll((0..<n).lazy.map { (MSISDNKey(raw: base + $0), lease($0)) }, expectedCount: Int(n))
var rng = SystemRandomNumberGenerator()
let uniform = (0..<(1 << 16)).map { _ in MSISDNKey(raw: base + UInt64.random(in: 0..<n, using: &rng)) }
// The numbers receiving traffic at any moment are a small hot set of the pool.
let hot = (0..<(1 << 16)).map { _ in MSISDNKey(raw: base + UInt64.random(in: 0..<min(n, 50_000), using: &rng)) }
let dict = Mutex([UInt64: Lease]())
dict.withLock { d in d.reserveCapacity(Int(n)); for i in 0..<n { d[base + i] = lease(i) } }

// Warm-up (discarded): the first pass over a fresh table pays page faults and huge-page collapse.
if !onlyDecisions {
    let r = table.makeReader()
    var sink = 0
    let start = now()
    while now() - start < 2 { for k in uniform { if case .active = r.lookup(k, at: t0) { sink += 1 } } }
    if sink == -1 { print(sink) }
}
for (setName, probe) in onlyDecisions ? [] : [("uniform over 1M numbers", uniform), ("hot set of 50k numbers", hot)] {
print("== lookups/s, \(setName) (table of 1M; best of 3 runs of 1 s)")
for writes in [0, 10_000] {
    for readers in [1, 2] {
        let lockFree = (0..<3).map { _ in measure(readers: readers, seconds: 1, writesPerSecond: writes, write: { i in
            table.upsert(MSISDNKey(raw: base + (i * 7919) % n), lease(i))
        }, reader: { r in
            let reader = table.makeReader()
            // A private copy per thread: no shared array buffer whose refcount would bounce.
            let keys = UnsafeMutableBufferPointer<MSISDNKey>.allocate(capacity: probe.count)
            _ = keys.initialize(from: probe)
            var j = r * 4096
            return {
                var hits = 0
                reader.withSnapshot { snap in
                    for _ in 0..<1024 {
                        if case .active = snap.lookup(keys[j & 0xFFFF], at: t0) { hits += 1 }
                        j &+= 1
                    }
                }
                return 1024 + (hits == -1 ? 1 : 0)
            }
        }) }.max()!
        let mutex = (0..<3).map { _ in measure(readers: readers, seconds: 1, writesPerSecond: writes, write: { i in
            dict.withLock { $0[base + (i * 7919) % n] = lease(i) }
        }, reader: { r in
            let keys = UnsafeMutableBufferPointer<MSISDNKey>.allocate(capacity: probe.count)
            _ = keys.initialize(from: probe)
            var j = r * 4096
            return {
                var hits = 0
                for _ in 0..<1024 {
                    let k = keys[j & 0xFFFF].rawValue
                    if let l = dict.withLock({ $0[k] }), l.expiresAt > t0 { hits += 1 }
                    j &+= 1
                }
                return 1024 + (hits == -1 ? 1 : 0)
            }
        }) }.max()!
        print(String(format: "writer %5d/s, %d reader(s): lock-free %6.1f M/s (%5.1f M/s per reader) | Mutex<Dictionary> %6.1f M/s  -> %.1fx",
                     writes, readers, lockFree / 1e6, lockFree / 1e6 / Double(readers), mutex / 1e6, lockFree / mutex))
    }
}

}

print("== full routing decision, one core (normalize, look up, decode text, extract the code)")
for (name, pdu) in [("gsm7", BenchSamples.gsm7), ("ucs2", BenchSamples.ucs2)] {
    let router = SessionRouter(carrier: CarrierProfile(name: "c1", plan: .uk), table: table, reassembler: Reassembler(), extractor: OTPExtractor())
    table.upsert(MSISDNKey("447700900123")!, lease(42))
    var count = 0
    var codes = 0
    let start = now()
    let ms = UInt64(t0) * 1000
    pdu.withUnsafeBytes { p in
        while now() - start < (onlyDecisions ? 0.2 : 2) {
            for _ in 0..<1000 {
                let v = try! ShortMessageView(validating: p)
                var ev: [InboundMessage] = []
                if case .message(let m) = router.accept(v, receivedAt: ms, evicted: &ev) {
                    let d = router.decide(m)
                    if d.code != nil && d.outcome == .routed { codes += 1 }
                }
                count += 1
            }
        }
    }
    let el = now() - start
    print(String(format: "%@: %.2f M decisions/s (%.0f ns each), codes found %d/%d", name, Double(count) / el / 1e6, el / Double(count) * 1e9, codes, count))
}
