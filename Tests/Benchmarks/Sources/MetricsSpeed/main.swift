// make bench-metrics: the bridge's own registry (BridgeApp's MetricsRegistry) against
// swift-prometheus 2.x, directly and through swift-metrics, on what the hot path does
// per message: a counter add and a histogram observation on series resolved once,
// from 1 and 2 threads; and a scrape (rendering ~600 series). Same process, same run,
// alternating rounds; ns per operation, median (range) of 5 rounds.
@testable import BridgeRuntime
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// ns per call of `body`, `n` calls on each of `threads` threads at once.
func time(threads: Int, n: Int, _ body: @escaping @Sendable (Int) -> Void) -> Double {
    let start = now()
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        for i in 0..<n { body(i &+ t) }
    }
    return (now() - start) * 1e9 / Double(n)
}

let buckets = MetricsRegistry.latencyBuckets
let ours = MetricsRegistry()
ours.define("c_total", .counter, "c")
ours.define("h_seconds", .histogram, "h", buckets: buckets)
let ourCounter = ours.counter("c_total", [("carrier", "a"), ("bind", "a-1")])
let ourHistogram = ours.histogram("h_seconds", [("carrier", "a"), ("bind", "a-1")])

let prom = PrometheusCollectorRegistry()
let promCounter = prom.makeCounter(name: "c_total", labels: [("carrier", "a"), ("bind", "a-1")])
let promHistogram = prom.makeDurationHistogram(name: "h_seconds", labels: [("carrier", "a"), ("bind", "a-1")],
                                               buckets: buckets.map { .nanoseconds(Int64($0 * 1e9)) })
let promValueHistogram = prom.makeValueHistogram(name: "v_seconds", labels: [("carrier", "a"), ("bind", "a-1")], buckets: buckets)

// swift-metrics over swift-prometheus, as an application using the API would.
let factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
MetricsSystem.bootstrap(factory)
let smCounter = CoreMetrics.Counter(label: "c_total", dimensions: [("carrier", "a"), ("bind", "a-1")])
let smRecorder = CoreMetrics.Recorder(label: "v_seconds", dimensions: [("carrier", "a"), ("bind", "a-1")], aggregate: true)

// ~600 series to render: what a bridge with 8 carriers of 8 binds exports.
for c in 0..<8 {
    for b in 0..<8 {
        let l = [("carrier", "c\(c)"), ("bind", "c\(c)-\(b)")]
        for name in ["x_total", "y_total", "z_total"] {
            ours.define(name, .counter, name)
            ours.counter(name, l).add(UInt64(c * b))
            prom.makeCounter(name: name, labels: l).increment(by: Int64(c * b))
        }
        ours.histogram("h_seconds", l).observe(0.003)
        prom.makeValueHistogram(name: "v_seconds", labels: l, buckets: buckets).record(0.003)
    }
}

let values = (0..<1024).map { _ in Double.random(in: 0.0001...0.05) }
var results: [String: [Double]] = [:]
let n = 2_000_000
for _ in 0..<5 {
    for threads in [1, 2] {
        results["counter add, ours, \(threads) thr", default: []].append(time(threads: threads, n: n) { _ in ourCounter.add() })
        results["counter add, swift-prometheus, \(threads) thr", default: []].append(time(threads: threads, n: n) { _ in promCounter.increment() })
        results["counter add, swift-metrics+prometheus, \(threads) thr", default: []].append(time(threads: threads, n: n) { _ in smCounter.increment() })
        results["histogram observe, ours, \(threads) thr", default: []].append(time(threads: threads, n: n / 4) { i in ourHistogram.observe(values[i & 1023]) })
        results["histogram observe, swift-prometheus, \(threads) thr", default: []].append(
            time(threads: threads, n: n / 4) { i in promValueHistogram.record(values[i & 1023]) })
        results["histogram observe, swift-metrics+prometheus, \(threads) thr", default: []].append(
            time(threads: threads, n: n / 4) { i in smRecorder.record(values[i & 1023]) })
    }
    results["scrape ~600 series, ours", default: []].append(time(threads: 1, n: 200) { _ in _ = ours.render() } / 1000)
    results["scrape ~600 series, swift-prometheus", default: []].append(time(threads: 1, n: 200) { _ in
        var buffer: [UInt8] = []
        prom.emit(into: &buffer)
    } / 1000)
}
_ = promHistogram
print("metrics registry, ns per operation (scrape: µs), median (range) of 5 rounds")
for (k, v) in results.sorted(by: { $0.key < $1.key }) {
    let s = v.sorted()
    print(String(format: "  %-52@ %8.1f  (%.1f-%.1f)", k as NSString, s[s.count / 2], s.first!, s.last!))
}
