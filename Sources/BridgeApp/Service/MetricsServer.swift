import FlyingFox
import FlyingSocks
import Foundation
import SMPPWire
import Logging

/// `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/events` (routing events
/// as JSON lines, streamed; filters `carrier`, `outcome`, `order_id`; `recent=N`
/// returns the last N and ends; a bad parameter is a 400). FlyingFox: NIO-free, its
/// own socket layer. A request's handler has `requestTimeoutSeconds`.
final class MetricsServer: @unchecked Sendable {
    let server: HTTPServer
    let host: String
    let port: UInt16
    private let routes: @Sendable (HTTPServer) async -> Void
    /// How long a handler may take to answer (a streamed `/events` body is not a handler's time).
    static let requestTimeoutSeconds: Double = 15

    init(host: String, port: Int, metrics: MetricsRegistry, events: EventHub, logger: Logger? = nil,
         health: @escaping @Sendable () -> (ready: Bool, detail: String)) throws {
        self.host = host
        self.port = UInt16(port)
        let address: any SocketAddress = host.contains(":") ? try sockaddr_in6.inet6(ip6: host, port: UInt16(port)) : try sockaddr_in.inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: UInt16(port))
        // FlyingFox's own logger prints to stdout: ours gets its warnings and errors instead.
        server = HTTPServer(address: address, timeout: Self.requestTimeoutSeconds, logger: FlyingFoxLogs(logger: logger))
        let text: HTTPHeaders = [.contentType: "text/plain; charset=utf-8"]
        routes = { server in
            await server.appendRoute("GET /metrics") { _ in
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: Data(metrics.render().utf8))
            }
            await server.appendRoute("GET /healthz") { _ in HTTPResponse(statusCode: .ok, headers: text, body: Data("ok\n".utf8)) }
            await server.appendRoute("GET /readyz") { _ in
                let h = health()
                return HTTPResponse(statusCode: h.ready ? .ok : .serviceUnavailable, headers: text, body: Data((h.ready ? "ready\n" : "not ready: \(h.detail)\n").utf8))
            }
            await server.appendRoute("GET /events") { req in
                let query: EventQuery
                switch EventQuery.parse(req.query.map { ($0.name, $0.value) }, ringCapacity: events.capacity) {
                case .success(let q): query = q
                case .failure(let problem):
                    return HTTPResponse(statusCode: .badRequest, headers: text, body: Data("bad request: \(problem.message)\n".utf8))
                }
                let json: HTTPHeaders = [.contentType: "application/x-ndjson"]
                if let n = query.recent {
                    let lines = events.last(events.capacity).filter(query.filter.matches).suffix(n)
                    return HTTPResponse(statusCode: .ok, headers: json, body: Data(lines.map { $0 + "\n" }.joined().utf8))
                }
                guard let stream = events.subscribe() else {
                    return HTTPResponse(statusCode: .serviceUnavailable, headers: text,
                                        body: Data("too many /events subscribers (at most \(EventHub.maxSubscribers))\n".utf8))
                }
                return HTTPResponse(statusCode: .ok, headers: json, body: HTTPBodySequence(from: EventBytes(stream: stream, filter: query.filter)))
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

/// `/events`' query, every parameter checked: a value out of range is a 400 naming
/// it, never a trap (`recent=-1` used to kill the bridge).
struct EventQuery: Sendable, Equatable {
    var recent: Int?
    var filter = EventFilter()

    struct Problem: Error, Equatable { var message: String }

    static let outcomes: Set<String> = ["routed", "unmatched", "expired", "duplicate", "invalid", "receipt", "temp_failed"]

    static func parse(_ items: [(String, String)], ringCapacity: Int) -> Result<EventQuery, Problem> {
        var q = EventQuery()
        var seen: Set<String> = []
        for (k, v) in items {
            guard seen.insert(k).inserted else { return .failure(Problem(message: "\(k): given twice")) }
            switch k {
            case "recent":
                guard let n = Int(v), (0...ringCapacity).contains(n) else {
                    return .failure(Problem(message: "recent: expected a whole number from 0 to \(ringCapacity)"))
                }
                q.recent = n
            case "carrier":
                guard (1...40).contains(v.utf8.count), v.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == 0x2D || $0 == 0x5F }) else {
                    return .failure(Problem(message: "carrier: expected a carrier name (letters, digits, - and _, at most 40)"))
                }
                q.filter.carrier = v
            case "outcome":
                guard outcomes.contains(v) else {
                    return .failure(Problem(message: "outcome: expected one of \(outcomes.sorted().joined(separator: ", "))"))
                }
                q.filter.outcome = v
            case "order_id":
                guard let id = UInt64(v) else { return .failure(Problem(message: "order_id: expected a whole number from 0 to \(UInt64.max)")) }
                q.filter.orderID = String(id)
            default:
                return .failure(Problem(message: "\(k): unknown parameter (known: recent, carrier, outcome, order_id)"))
            }
        }
        return .success(q)
    }
}

/// `tail`'s filters, applied on the server to each event's fields.
struct EventFilter: Sendable, Equatable {
    var carrier: String?
    var outcome: String?
    var orderID: String?

    func matches(_ line: String) -> Bool {
        if let c = carrier, !line.contains("\"carrier\":\"\(jsonEscaped(c))\"") { return false }
        if let o = outcome, !line.contains("\"outcome\":\"\(jsonEscaped(o))\"") { return false }
        if let id = orderID, !line.contains("\"order_id\":\(id),") { return false }
        return true
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool { (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
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
