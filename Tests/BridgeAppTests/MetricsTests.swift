import Foundation
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
        XCTAssertTrue(lines[0].hasPrefix("{\"time\":\"2026-05-28T20:28:43.462Z\""), lines[0])
        hub.publish(event(10, reveal: true))
        XCTAssertTrue(hub.last(1)[0].contains("\"code\":\"123456\""))
        XCTAssertTrue(hub.last(1)[0].contains("447700900210"))
    }
}
