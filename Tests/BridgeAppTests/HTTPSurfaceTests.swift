import Foundation
import Routing
import TestSupport
import Testing

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

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
            #expect(try BridgeHTTP.request(base, path: "/events?" + q).status == 400, "\(q)")
        }
        #expect(try BridgeHTTP.request(base, path: "/events?recent=0").status == 200)
        #expect(try BridgeHTTP.request(base, path: "/healthz").status == 200)
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

/// The HTTP server's own bounds, each hit on purpose against a live server with small
/// limits: the connection cap, the request-head size, the idle timeout, a stalled
/// reader of `/events`, requests it does not take; keep-alive and pipelining work.
@Suite(.serialized) struct BoundedHTTPServerTests {
    /// A raw client: connects, sends `bytes`, reads until the server closes or `wait` passes.
    final class Client {
        let fd: Int32
        init(port: Int, receiveBuffer: Int32? = nil) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            if var rb = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, socklen_t(MemoryLayout<Int32>.size)) }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = UInt16(port).bigEndian
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
            var tv = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }
        func send(_ s: String) { _ = s.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        /// What came until the server closed (closed: true) or `wait` seconds passed.
        func read(wait: Double) -> (text: String, closed: Bool) {
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            let end = Date().addingTimeInterval(wait)
            while Date() < end {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { out += buf[0..<n] } else if n == 0 { return (String(decoding: out, as: UTF8.self), true) }
            }
            return (String(decoding: out, as: UTF8.self), false)
        }
    }

    func withServer(_ limits: BoundedHTTPServer.Limits, hub: EventHub = EventHub(), _ body: (Int, MetricsRegistry) throws -> Void) throws {
        let metrics = MetricsRegistry()
        M.defineAll(metrics)
        let server = try MetricsServer(host: "127.0.0.1", port: 0, metrics: metrics, events: hub, limits: limits, health: { (true, "ready") })
        let port = try server.startForTests()
        defer { server.stop() }
        try body(port, metrics)
    }

    @Test func connectionsPastTheCapAre503AndTheOthersStillServed() throws {
        var l = BoundedHTTPServer.Limits()
        l.maxConnections = 3
        try withServer(l) { port, metrics in
            let held = try (0..<3).map { _ in try Client(port: port) }
            usleep(200_000)
            let extra = try Client(port: port)
            let r = extra.read(wait: 3)
            #expect(r.text.hasPrefix("HTTP/1.1 503") && r.text.contains("too many connections"), "\(r.text)")
            #expect(r.closed)
            #expect(metrics.value(M.httpRefused, [("reason", "capacity")]) == 1)
            held[0].send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(held[0].read(wait: 0.5).text.hasSuffix("\r\n\r\nok\n"), "a held connection is served")
        }
    }

    @Test func aRequestHeadPastItsLimitIs431AndClosed() throws {
        var l = BoundedHTTPServer.Limits()
        l.maxHeadBytes = 1024
        try withServer(l) { port, metrics in
            let c = try Client(port: port)
            c.send("GET /metrics HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 100_000))
            let r = c.read(wait: 3)
            #expect(r.text.hasPrefix("HTTP/1.1 431"), "\(r.text.prefix(80))")
            #expect(r.closed)
            #expect(metrics.value(M.httpRefused, [("reason", "head_too_large")]) == 1)
        }
    }

    @Test func anIdleConnectionIsClosed() throws {
        var l = BoundedHTTPServer.Limits()
        l.idleTimeout = 1
        try withServer(l) { port, metrics in
            let c = try Client(port: port)
            c.send("GET /heal")  // half a request, then nothing
            let r = c.read(wait: 4)
            #expect(r.closed && r.text.isEmpty, "closed without an answer: \(r.text)")
            #expect(metrics.value(M.httpRefused, [("reason", "idle_timeout")]) == 1)
        }
    }

    /// A `tail` that stops reading: its output backs up to the stream limit (or stops
    /// moving for the write timeout) and it is dropped; the hub loses the subscriber.
    @Test func anEventsReaderThatStopsReadingIsDropped() throws {
        var l = BoundedHTTPServer.Limits()
        l.maxStreamBacklog = 16 << 10
        l.writeTimeout = 2
        let hub = EventHub()
        try withServer(l, hub: hub) { port, metrics in
            let c = try Client(port: port, receiveBuffer: 4096)
            c.send("GET /events HTTP/1.1\r\n\r\n")
            #expect(waitUntil(5) { hub.subscriberCount == 1 })
            let e = RoutingEvent(unixMillis: 0, carrier: "c", bind: "b", source: "s", destination: "d", orderID: 1, outcome: "routed",
                                 service: String(repeating: "x", count: 500), code: nil, parts: 1, latencyMs: nil, mask: Mask(reveal: false))
            let end = Date().addingTimeInterval(15)
            while hub.subscriberCount > 0, Date() < end {
                for _ in 0..<100 { hub.publish(e) }
                usleep(10_000)
            }
            #expect(hub.subscriberCount == 0, "the stalled reader was let go")
            #expect(metrics.value(M.httpRefused, [("reason", "slow_subscriber")]) + metrics.value(M.httpRefused, [("reason", "write_stalled")])
                + Double(hub.droppedSubscribers) >= 1)
        }
    }

    @Test(arguments: [
        ("POST /metrics HTTP/1.1\r\n\r\n", "405"),
        ("PUT /metrics HTTP/1.1\r\n\r\n", "405"),
        ("POST /admin/log-level?level=debug HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", "413"),
        ("POST /admin/log-level?level=debug HTTP/1.1\r\n\r\n", "404"),
        ("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "413"),
        ("GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "413"),
        ("GARBAGE\r\n\r\n", "400"),
        ("GET metrics HTTP/1.1\r\n\r\n", "400"),
        ("GET /metrics HTTP/1.1\r\nno-colon-here\r\n\r\n", "400"),
        ("GET /events?carrier=%zz HTTP/1.1\r\n\r\n", "400"),
        ("GET /nothing HTTP/1.1\r\n\r\n", "404"),
    ])
    func requestsItDoesNotTakeGetAClearAnswer(request: String, status: String) throws {
        try withServer(.init()) { port, _ in
            let c = try Client(port: port)
            c.send(request)
            let r = c.read(wait: 1)
            #expect(r.text.hasPrefix("HTTP/1.1 \(status)"), "\(request.debugDescription) → \(r.text.prefix(60))")
        }
    }

    @Test func keepAliveAndPipelinedRequestsAreAnsweredInOrder() throws {
        try withServer(.init()) { port, _ in
            let c = try Client(port: port)
            c.send("GET /healthz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            let r = c.read(wait: 3)
            #expect(r.text.components(separatedBy: "HTTP/1.1 200 OK").count == 4, "\(r.text)")
            #expect(r.text.hasSuffix("ok\n"))
            #expect(r.closed, "Connection: close is honoured")
        }
    }
}
