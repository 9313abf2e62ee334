import FlyingFox
import FlyingSocks
import Foundation
import SMPPWire
import Logging

/// `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/events` (routing events
/// as JSON lines, streamed; filters `carrier`, `outcome`, `order_id`; `recent=N`
/// returns the last N and ends). FlyingFox: NIO-free, its own socket layer.
final class MetricsServer: @unchecked Sendable {
    let server: HTTPServer
    let host: String
    let port: UInt16
    private let routes: @Sendable (HTTPServer) async -> Void

    init(host: String, port: Int, metrics: MetricsRegistry, events: EventHub, logger: Logger? = nil,
         health: @escaping @Sendable () -> (ready: Bool, stage: String)) throws {
        self.host = host
        self.port = UInt16(port)
        let address: any SocketAddress = host.contains(":") ? try sockaddr_in6.inet6(ip6: host, port: UInt16(port)) : try sockaddr_in.inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: UInt16(port))
        // FlyingFox's own logger prints to stdout: ours gets its warnings and errors instead.
        server = HTTPServer(address: address, timeout: 3600, logger: FlyingFoxLogs(logger: logger))
        let text: HTTPHeaders = [.contentType: "text/plain; charset=utf-8"]
        routes = { server in
            await server.appendRoute("GET /metrics") { _ in
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: Data(metrics.render().utf8))
            }
            await server.appendRoute("GET /healthz") { _ in HTTPResponse(statusCode: .ok, headers: text, body: Data("ok\n".utf8)) }
            await server.appendRoute("GET /readyz") { _ in
                let h = health()
                return HTTPResponse(statusCode: h.ready ? .ok : .serviceUnavailable, headers: text, body: Data("\(h.ready ? "ready" : "not ready"): \(h.stage)\n".utf8))
            }
            await server.appendRoute("GET /events") { req in
                let filter = EventFilter(query: req.query.map { ($0.name, $0.value) })
                let json: HTTPHeaders = [.contentType: "application/x-ndjson"]
                if let n = req.query.first(where: { $0.name == "recent" }).flatMap({ Int($0.value) }) {
                    let lines = events.last(max(n, 0) * 4 + 100).filter(filter.matches).suffix(n)
                    return HTTPResponse(statusCode: .ok, headers: json, body: Data(lines.map { $0 + "\n" }.joined().utf8))
                }
                return HTTPResponse(statusCode: .ok, headers: json, body: HTTPBodySequence(from: EventBytes(stream: events.subscribe(), filter: filter)))
            }
        }
    }

    /// Routes first, then listen: nothing is served before every route is in place.
    func run() async throws {
        await routes(server)
        try await server.run()
    }
    func waitUntilListening() async throws { try await server.waitUntilListening(timeout: 10) }
    func stop() async { await server.stop(timeout: 1) }
}

/// `tail`'s filters, applied on the server.
struct EventFilter: Sendable {
    var carrier: String?
    var outcome: String?
    var orderID: String?

    init(query: [(String, String)]) {
        for (k, v) in query {
            switch k {
            case "carrier": carrier = v
            case "outcome": outcome = v
            case "order_id": orderID = v
            default: break
            }
        }
    }

    func matches(_ line: String) -> Bool {
        if let c = carrier, !line.contains("\"carrier\":\"\(jsonEscaped(c))\"") { return false }
        if let o = outcome, !line.contains("\"outcome\":\"\(jsonEscaped(o))\"") { return false }
        if let id = orderID, !line.contains("\"order_id\":\(id),") { return false }
        return true
    }
}

/// Live events as a byte sequence for a chunked HTTP response.
struct EventBytes: AsyncBufferedSequence, Sendable {
    typealias Element = UInt8
    let stream: AsyncStream<String>
    let filter: EventFilter

    func makeAsyncIterator() -> Iterator { Iterator(inner: stream.makeAsyncIterator(), filter: filter) }

    struct Iterator: AsyncBufferedIteratorProtocol {
        var inner: AsyncStream<String>.Iterator
        let filter: EventFilter
        var pending: [UInt8] = []

        mutating func next() async throws -> UInt8? {
            if pending.isEmpty { guard let b = try await nextBuffer(suggested: 4096) else { return nil }; pending = Array(b) }
            return pending.isEmpty ? nil : pending.removeFirst()
        }

        mutating func nextBuffer(suggested count: Int) async throws -> [UInt8]? {
            if !pending.isEmpty { defer { pending = [] }; return pending }
            while let line = await inner.next() {
                if filter.matches(line) { return Array((line + "\n").utf8) }
            }
            return nil
        }
    }
}

/// FlyingFox's log lines into swift-log (warnings and up; connection chatter dropped;
/// the cancellation at shutdown is not an error).
struct FlyingFoxLogs: FlyingSocks.Logging {
    let logger: Logger?
    func logDebug(_ debug: @autoclosure () -> String) {}
    func logInfo(_ info: @autoclosure () -> String) {}
    func logWarning(_ warning: @autoclosure () -> String) { logger?.warning("metrics server", metadata: ["detail": "\(warning())"]) }
    func logError(_ error: @autoclosure () -> String) { logger?.error("metrics server", metadata: ["detail": "\(error())"]) }
    func logCritical(_ critical: @autoclosure () -> String) {
        let m = critical()
        if m.contains("CancellationError") { return }
        logger?.critical("metrics server", metadata: ["detail": "\(m)"])
    }
}
