import Foundation
import Routing
import Testing

@testable import BridgeApp

/// `/events` parameters: negative, zero, huge and malformed values are a 400 that
/// names the parameter, never a trap. `recent=-1` and `recent=2^62` used to kill the
/// bridge (SIGILL in `suffix`), every bind of every carrier with it.
@Suite struct EventQueryTests {
    @Test(arguments: [
        ("recent", "-1"), ("recent", "4611686018427387904"), ("recent", "9223372036854775807"), ("recent", "201"), ("recent", ""),
        ("recent", "1.5"), ("recent", "0x10"), ("order_id", "-1"), ("order_id", "18446744073709551616"), ("order_id", "12a"),
        ("order_id", ""), ("carrier", ""), ("carrier", String(repeating: "a", count: 41)), ("carrier", "a\"b"), ("carrier", "a b"),
        ("outcome", "ROUTED"), ("outcome", ""), ("outcome", "anything"), ("since", "1"),
    ])
    func badValuesAreRefusedByName(name: String, value: String) {
        guard case .failure(let p) = EventQuery.parse([(name, value)], ringCapacity: 200) else {
            Issue.record("\(name)=\(value) accepted")
            return
        }
        #expect(p.message.hasPrefix(name + ":"))
    }

    @Test(arguments: [
        ("recent", "0"), ("recent", "200"), ("order_id", "0"), ("order_id", "18446744073709551615"), ("carrier", "sim"),
        ("carrier", "aggregator-a_2"), ("outcome", "routed"), ("outcome", "receipt"),
    ])
    func goodValuesPass(name: String, value: String) {
        #expect((try? EventQuery.parse([(name, value)], ringCapacity: 200).get()) != nil)
    }

    @Test func aParameterGivenTwiceIsRefused() {
        #expect(throws: EventQuery.Problem.self) { try EventQuery.parse([("recent", "1"), ("recent", "2")], ringCapacity: 200).get() }
    }
}

/// The same against a live server: each bad request answered 400, the server alive after all of them.
@Suite struct HTTPSurfaceTests {
    @Test func everyBadQueryIsA400AndTheServerStaysUp() async throws {
        let metrics = MetricsRegistry()
        M.defineAll(metrics)
        let port = try ThrowawayPostgres.freePort()
        let server = try MetricsServer(host: "127.0.0.1", port: port, metrics: metrics, events: EventHub(), health: { (true, "ready") })
        let t = Task { try await server.run() }
        defer { t.cancel() }
        try await server.waitUntilListening()
        let base = "http://127.0.0.1:\(port)"
        for q in ["recent=-1", "recent=4611686018427387904", "recent=99999999999999999999", "order_id=-5", "outcome=x", "carrier=%00", "foo=1"] {
            #expect(try HTTPGet.get(base, path: "/events?" + q).status == 400, "\(q)")
        }
        #expect(try HTTPGet.get(base, path: "/events?recent=0").status == 200)
        #expect(try HTTPGet.get(base, path: "/healthz").status == 200)
    }

    @Test func aSlowSubscriberIsDroppedNotBufferedFor() {
        let hub = EventHub()
        let stream = hub.subscribe()
        #expect(stream != nil)
        let e = RoutingEvent(unixMillis: 0, carrier: "c", bind: "b", source: "s", destination: "d", orderID: nil, outcome: "routed",
                             service: nil, code: nil, parts: 1, latencyMs: nil, mask: Mask(reveal: false))
        for _ in 0...EventHub.subscriberBuffer { hub.publish(e) }  // one more than it may fall behind
        #expect(hub.droppedSubscribers == 1)
        #expect(hub.subscriberCount == 0)
    }

    @Test func subscribersAreCapped() {
        let hub = EventHub()
        let streams = (0..<EventHub.maxSubscribers).map { _ in hub.subscribe() }
        #expect(streams.allSatisfy { $0 != nil })
        #expect(hub.subscribe() == nil)
    }
}

@Suite struct LogLimiterTests {
    @Test func aFloodIsCutToTheBurstAndCounted() {
        let metrics = MetricsRegistry()
        M.defineAll(metrics)
        let l = LogLimiter(burst: 3, window: 10, metrics: metrics)
        let admitted = (0..<1000).filter { _ in l.admit("malformed", now: 100).log }.count
        #expect(admitted == 3)
        #expect(metrics.value(M.logSuppressed, [("kind", "malformed")]) == 997)
        let next = l.admit("malformed", now: 111)
        #expect(next.log && next.suppressed == 997, "the next window's first line says how many were dropped")
        #expect(l.admit("other", now: 100).log, "kinds are limited apart")
    }
}
