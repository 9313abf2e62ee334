import Foundation
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

final class MetricsTests: XCTestCase {
    /// Resolved series and by-name updates land in the same exported series.
    func testResolvedSeriesAndNamedUpdatesShareOneSeries() {
        let m = MetricsRegistry()
        m.define("t_total", .counter, "test")
        m.define("t_seconds", .histogram, "test", buckets: [0.01, 0.1])
        let c = m.counter("t_total", [("bind", "b1")])
        for _ in 0..<5 { c.add() }
        m.inc("t_total", [("bind", "b1")])
        m.inc("t_total", [("bind", "b2")])
        XCTAssertTrue(m.counter("t_total", [("bind", "b1")]) === c)
        m.histogram("t_seconds", [("bind", "b1")]).observe(0.005)
        m.observe("t_seconds", [("bind", "b1")], 0.05)
        m.observe("t_seconds", [("bind", "b1")], 7)
        let text = m.render()
        XCTAssertTrue(text.contains("t_total{bind=\"b1\"} 6\n"), text)
        XCTAssertTrue(text.contains("t_total{bind=\"b2\"} 1\n"), text)
        XCTAssertTrue(text.contains("t_seconds_bucket{bind=\"b1\",le=\"0.01\"} 1\n"), text)
        XCTAssertTrue(text.contains("t_seconds_bucket{bind=\"b1\",le=\"0.1\"} 2\n"), text)
        XCTAssertTrue(text.contains("t_seconds_bucket{bind=\"b1\",le=\"+Inf\"} 3\n"), text)
        XCTAssertTrue(text.contains("t_seconds_count{bind=\"b1\"} 3\n"), text)
        // An undefined name is accepted and never exported.
        m.counter("nope_total").add()
        XCTAssertFalse(m.render().contains("nope_total"))
    }

    /// `/metrics.json` says what `/metrics` says: every series with its labels, histograms
    /// cumulative; it survives a JSON round trip, and `top` computes rates and quantiles from it.
    func testTheJSONSnapshotMatchesTheTextAndFeedsTop() throws {
        let m = MetricsRegistry()
        m.define(M.deliverSM, .counter, "test")
        m.define(M.ackLatency, .histogram, "test", buckets: [0.001, 0.01, 0.1])
        m.define(M.queueDepth, .gauge, "test")
        m.define(M.bindState, .gauge, "test")
        let l = [("carrier", "c1"), ("bind", "c1-1")]
        m.set(M.bindState, l, 3)
        m.set(M.queueDepth, [], 7)
        m.inc(M.deliverSM, l, by: 10)
        for v in [0.0005, 0.005, 0.005, 0.05] { m.observe(M.ackLatency, l, v) }
        let before = try JSONDecoder().decode(MetricsSnapshot.self, from: JSONEncoder().encode(m.snapshot()))
        for sample in MetricSample.parse(m.render()) where !sample.name.hasSuffix("_bucket") && !sample.name.hasSuffix("_sum") && !sample.name.hasSuffix("_count") {
            XCTAssertEqual(before.sum(sample.name, sample.labels), sample.value, "\(sample.name) \(sample.labels)")
        }
        let h = try XCTUnwrap(before.series(M.ackLatency, ["carrier": "c1"]).first?.histogram)
        XCTAssertEqual(h.cumulativeCounts, [1, 3, 4])
        XCTAssertEqual(h.count, 4)
        m.inc(M.deliverSM, l, by: 30)
        for _ in 0..<100 { m.observe(M.ackLatency, l, 0.02) }
        let after = m.snapshot()
        let view = TopView(previous: before, current: after, seconds: 2, events: [])
        XCTAssertEqual(view.delta(M.deliverSM, ["carrier": "c1", "bind": "c1-1"]), 30)
        let p50 = try XCTUnwrap(view.quantile(M.ackLatency, ["carrier": "c1"], 0.5))
        XCTAssertGreaterThan(p50, 0.01, "the interval's 100 observations are all in (0.01, 0.1]")
        XCTAssertLessThanOrEqual(p50, 0.1)
        let page = view.render(url: "http://127.0.0.1:9464")
        let row = try XCTUnwrap(page.split(separator: "\n").first { $0.contains("c1-1") }, page)
        XCTAssertTrue(row.contains(" 15 "), "30 messages in 2 s: \(row)")
        XCTAssertTrue(page.contains("queue 7"), page)
    }

    /// The ring keeps the last `capacity` events in order, renders them masked as
    /// they were when published, and only builds JSON when read.
    func testEventRingWrapsInOrderAndMasks() throws {
        let hub = EventHub(capacity: 4)
        func event(_ i: Int, reveal: Bool = false) -> RoutingEvent {
            RoutingEvent(unixMillis: 1_780_000_123_456 + UInt64(i), carrier: "c", bind: "b", source: "447700900\(100 + i)",
                         destination: "447700900\(200 + i)", orderID: UInt64(i), outcome: "routed", service: "google",
                         code: "123456", parts: 1, latencyMs: 1.5, mask: Mask(reveal: reveal))
        }
        for i in 0..<10 { hub.publish(event(i)) }
        let lines = hub.last(10)
        XCTAssertEqual(lines.count, 4)
        let orders = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["order_id"] as? Int }
        XCTAssertEqual(orders, [6, 7, 8, 9])
        XCTAssertEqual(hub.last(2).count, 2)
        for l in lines {
            XCTAssertFalse(l.contains("447700900"), "numbers masked: \(l)")
            XCTAssertFalse(l.contains("123456"), "code never shown masked: \(l)")
            XCTAssertTrue(l.contains("\"code_present\":true"))
        }
        XCTAssertTrue(lines[0].contains("\"time\":\"2026-05-28T20:28:43.462Z\""), lines[0])
        XCTAssertTrue(lines[0].hasPrefix("{\"bind\":"), "keys in one order: \(lines[0])")
        hub.publish(event(10, reveal: true))
        XCTAssertTrue(hub.last(1)[0].contains("\"code\":\"123456\""))
        XCTAssertTrue(hub.last(1)[0].contains("447700900210"))
    }
}
