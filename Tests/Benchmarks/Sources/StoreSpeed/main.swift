// make bench-store: routed messages of realistic size (a 160-character text, a
// ~210-byte raw PDU) from a generator straight into the BatchWriter, against a
// throwaway PostgreSQL with fsync and synchronous_commit on.
//   StoreSpeed CONNINFO MODE...
// MODE "sat:ROWS:N" = saturation at batch limit ROWS (N messages, at most 4096 in
// flight, as several sessions' windows would be); "rate:R:N" = a fixed offered load
// of R msgs/s with the default limits. Prints one JSON line per mode.
import Dispatch
import Foundation
import Routing
import SMPPWire
import Store

let runNonce = String(UInt32(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds), radix: 36)
func monoNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Real routing decisions (PDU -> view -> router), built before the clock starts.
func generate(_ n: Int, offset: Int) -> [StoredMessage] {
    let table = LeaseTable()
    let svc = table.serviceID("google")
    let now = UInt64(Date().timeIntervalSince1970 * 1000)
    let s = UInt32(now / 1000)
    let router = SessionRouter(carrier: CarrierProfile(name: "carrier-a", plan: .uk), table: table, reassembler: Reassembler(), extractor: OTPExtractor())
    var out: [StoredMessage] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        let j = offset + i
        let dest = "4477" + String(format: "%08d", j % 100_000_000)
        if i < 200_000 { table.upsert(MSISDNKey(dest)!, Lease(orderID: UInt64(1_000_000 + j), service: svc, startsAt: s - 60, expiresAt: s + 600, version: 1)) }
        var m = ShortMessage()
        m.sourceAddrTON = .alphanumeric
        m.sourceAddr = "Google"
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = COctetString(dest)
        let code = String(format: "%06d", (j &* 7919) % 1_000_000)
        var text = "G-\(code) is your Google verification code. Don't share it with anyone. Google will never ask for this code. Ref \(runNonce)-\(j)."
        while text.count < 160 { text += " " }
        m.shortMessage = GSM7.encodeUnpacked(String(text.prefix(160)))!
        let bytes = PDU(.deliverSM, sequenceNumber: UInt32(truncatingIfNeeded: j + 1), body: .shortMessage(m)).encode()
        let stored: StoredMessage = bytes.withUnsafeBytes { p in
            let v = try! ShortMessageView(validating: p)
            var ev: [InboundMessage] = []
            guard case .message(let msg) = router.accept(v, receivedAt: now, evicted: &ev) else { fatalError("generator: not a single-part message") }
            return StoredMessage(decision: router.decide(msg), bind: "carrier-a-1", sourceTON: .alphanumeric, destTON: .international, rawPDUs: [bytes])
        }
        out.append(stored)
    }
    return out
}

final class Recorder: @unchecked Sendable {
    let lock = NSLock()
    var latencies: [UInt64] = []
    /// Submit times (from t0), beside `latencies`: the fixed-load run reports its worst ack per second.
    var submitted: [UInt64] = []
    var ok = 0, other = 0
    let done = DispatchSemaphore(value: 0)
    let target: Int
    let inflight: DispatchSemaphore?
    init(target: Int, inflight: Int?) {
        self.target = target
        self.inflight = inflight.map { DispatchSemaphore(value: $0) }
        latencies.reserveCapacity(target)
    }
    func record(_ s: CommandStatus, since t: UInt64, t0: UInt64) {
        let l = monoNanos() - t
        let finished: Bool = lock.withLock {
            latencies.append(l)
            submitted.append(t - t0)
            if s == .ok { ok += 1 } else { other += 1 }
            return ok + other == target
        }
        inflight?.signal()
        if finished { done.signal() }
    }
    /// The worst ack latency (ms) of messages submitted in each second of the run.
    func worstBySecond() -> [Double] {
        lock.withLock {
            var worst: [UInt64] = []
            for (t, l) in zip(submitted, latencies) {
                let s = Int(t / 1_000_000_000)
                while worst.count <= s { worst.append(0) }
                worst[s] = max(worst[s], l)
            }
            return worst.map { (Double($0) / 1e5).rounded() / 10 }
        }
    }
    func percentile(_ p: Double) -> Double {
        let s = lock.withLock { latencies.sorted() }
        guard !s.isEmpty else { return 0 }
        return Double(s[min(s.count - 1, Int(Double(s.count) * p))]) / 1e6
    }
}

func cpuSeconds() -> Double {
    var r = rusage()
    getrusage(RUSAGE_SELF.rawValue, &r)
    return Double(r.ru_utime.tv_sec) + Double(r.ru_utime.tv_usec) / 1e6 + Double(r.ru_stime.tv_sec) + Double(r.ru_stime.tv_usec) / 1e6
}

let args = CommandLine.arguments
guard args.count >= 2 else { print("usage: StoreSpeed CONNINFO sat:ROWS:N|rate:R:N ..."); exit(2) }
let url = args[1]
do { try Migrator.migrate(PostgresConnection(url)) } catch { print("migrate: \(error)"); exit(1) }
var offset = 0
for mode in args.dropFirst(2) {
    let f = mode.split(separator: ":")
    let kind = String(f[0]), a = Int(f[1])!, n = Int(f[2])!
    let messages = generate(n, offset: offset)
    offset += n
    var cfg = BatchWriter.Config(url: url)
    if kind == "sat" { cfg.maxRows = a }
    if let c = ProcessInfo.processInfo.environment["WRITER_CONNECTIONS"].flatMap(Int.init) { cfg.connections = c }
    let writer = BatchWriter(config: cfg)
    // Connections up and statements prepared before the clock starts.
    let warm = DispatchSemaphore(value: 0)
    for w in generate(cfg.connections * 4, offset: 90_000_000 + offset) { writer.submit(.message(w), onResult: { _ in warm.signal() }) }
    for _ in 0..<(cfg.connections * 4) { warm.wait() }
    let cpu0 = cpuSeconds()
    let rec = Recorder(target: n, inflight: kind == "sat" ? 4096 : nil)
    let t0 = monoNanos()
    for (i, m) in messages.enumerated() {
        if kind == "rate" {
            // Paced in 1 ms steps (a session hands over what one read brought): polling
            // every 50 µs cost this process 0.4 of a core and the writer its share.
            let due = t0 + UInt64(Double(i) / Double(a) * 1e9)
            let now = monoNanos()
            if now < due { usleep(UInt32(max(1000, (due - now) / 1000))) }
        } else {
            rec.inflight!.wait()
        }
        let t = monoNanos()
        writer.submit(.message(m), onResult: { r in rec.record(r.status, since: t, t0: t0) })
    }
    rec.done.wait()
    let secs = Double(monoNanos() - t0) / 1e9
    let cpu = cpuSeconds() - cpu0
    writer.stop()
    let st = writer.stats
    var line: [String: Any] = [
        "mode": kind, "batch_limit": cfg.maxRows, "offered_per_s": kind == "rate" ? a : 0, "messages": n,
        "acked_ok": rec.ok, "not_ok": rec.other, "seconds": (secs * 1000).rounded() / 1000,
        "committed_per_s": Int(Double(st.rowsCommitted - cfg.connections * 4) / secs), "batches": st.batches,
        "mean_batch": st.batches > 0 ? st.rowsCommitted / st.batches : 0,
        "ack_p50_ms": (rec.percentile(0.50) * 1000).rounded() / 1000, "ack_p99_ms": (rec.percentile(0.99) * 1000).rounded() / 1000,
        "connections": cfg.connections, "bench_process_cpu_s_per_100k": (cpu / Double(n) * 100_000 * 100).rounded() / 100,
    ]
    if kind == "rate" { line["worst_ack_ms_by_second"] = rec.worstBySecond() }
    let data = try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))

}
