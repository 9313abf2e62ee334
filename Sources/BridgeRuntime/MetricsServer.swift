import Foundation
import Primitives
import SMPPWire
package import Logging

/// `/metrics` (Prometheus text; `/metrics.json`, the same series as JSON), `/status`,
/// `/healthz`, `/readyz`, `/events` (routing events
/// as JSON lines, streamed; filters `carrier`, `outcome`, `order_id`; `recent=N`
/// returns the last N and ends; a bad parameter is a 400), served by
/// `BoundedHTTPServer` with its limits.
package final class MetricsServer: @unchecked Sendable {
    package let host: String
    package let port: Int
    private let server: BoundedHTTPServer
    private let stopped = Locked(false)

    package init(host: String, port: Int, metrics: MetricsRegistry, events: EventHub, logger: Logger? = nil,
         limits: BoundedHTTPServer.Limits = .init(), admin: AdminHooks? = nil,
         health: @escaping @Sendable () -> (ready: Bool, detail: String)) throws {
        self.host = host
        self.port = port
        let text = "text/plain; charset=utf-8"
        for reason in BoundedHTTPServer.Refusal.allCases { _ = metrics.counter(M.httpRefused, [("reason", reason.rawValue)]) }
        for action in AdminAction.names + ["none"] {
            for result in ["ok", "refused", "unauthorized", "forbidden", "invalid"] {
                _ = metrics.counter(M.adminRequests, [("action", action), ("result", result)])
            }
        }
        server = BoundedHTTPServer(
            limits: limits,
            onRefusal: { reason in metrics.inc(M.httpRefused, [("reason", reason.rawValue)]) },
            onConnections: { n in metrics.set(M.httpConnections, [], Double(n)) }
        ) { req in
            if req.path == "/admin" || req.path.hasPrefix("/admin/") {
                return Self.admin(req, admin, metrics: metrics, logger: logger)
            }
            guard req.method != "POST" else { return .full(status: 405, contentType: text, body: "POST is for /admin/... only\n") }
            switch req.path {
            case "/status":
                guard let admin else { return .full(status: 404, contentType: text, body: "not found\n") }
                let body = (try? BridgeStatus.encoder.encode(admin.status())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                return .full(status: 200, contentType: "application/json", body: body + "\n")
            case "/metrics":
                return .full(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
            case "/metrics.json":
                let body = (try? JSONEncoder().encode(metrics.snapshot())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                return .full(status: 200, contentType: "application/json", body: body + "\n")
            case "/healthz":
                return .full(status: 200, contentType: text, body: "ok\n")
            case "/readyz":
                let h = health()
                return .full(status: h.ready ? 200 : 503, contentType: text, body: h.ready ? "\(h.detail)\n" : "not ready: \(h.detail)\n")
            case "/events":
                let query: EventQuery
                switch EventQuery.parse(req.query, ringCapacity: events.capacity) {
                case .success(let q): query = q
                case .failure(let problem): return .full(status: 400, contentType: text, body: "bad request: \(problem.message)\n")
                }
                let json = "application/x-ndjson"
                if let n = query.recent {
                    let lines = events.last(n, matching: query.filter)
                    return .full(status: 200, contentType: json, body: lines.map { $0 + "\n" }.joined())
                }
                guard let stream = events.subscribe(filter: query.filter) else {
                    return .full(status: 503, contentType: text, body: "too many /events subscribers (at most \(EventHub.maxSubscribers))\n")
                }
                return .stream(contentType: json, lines: stream)
            default:
                return .full(status: 404, contentType: text, body: "not found\n")
            }
        }
    }

    /// An admin request, checked in this order: admin on (404), from loopback (403), the
    /// token (401), an action that exists (404) and is valid now (400, 404, 409); then run
    /// off the HTTP queue, its result streamed back as one JSON line when it is done.
    /// Every request is logged with the peer's address and counted.
    package static func admin(_ req: BoundedHTTPServer.Request, _ hooks: AdminHooks?, metrics: MetricsRegistry, logger: Logger?) -> BoundedHTTPServer.Response {
        let text = "text/plain; charset=utf-8"
        let parsed = AdminAction.parse(path: req.path, query: req.query)
        let name: String = (try? parsed?.get().name) ?? "none"
        func refuse(_ status: Int, _ result: String, _ message: String) -> BoundedHTTPServer.Response {
            metrics.inc(M.adminRequests, [("action", name), ("result", result)])
            logger?.warning("admin request refused", metadata: ["peer": "\(req.peer)", "path": "\(req.path)", "status": "\(status)", "reason": "\(message)"])
            return .full(status: status, contentType: text, body: message + "\n")
        }
        guard let hooks, let token = hooks.token() else { return refuse(404, "refused", "admin actions are off (set admin.token_file)") }
        guard req.peerIsLoopback else { return refuse(403, "forbidden", "admin actions are answered on loopback only") }
        guard AdminHooks.tokenMatches(req.authorization, token) else { return refuse(401, "unauthorized", "admin actions need Authorization: Bearer <token>") }
        guard req.method == "POST" else { return refuse(405, "invalid", "admin actions are POST") }
        guard let parsed else { return refuse(404, "invalid", "no such admin action: \(req.path)") }
        let action: AdminAction
        switch parsed {
        case .success(let a): action = a
        case .failure(let e): return refuse(e.status, "invalid", e.message)
        }
        if let e = hooks.check(action) { return refuse(e.status, "invalid", e.message) }
        logger?.notice("admin action", metadata: ["peer": "\(req.peer)", "action": "\(action.name)", "path": "\(req.path)"])
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        hooks.perform(action) { result in
            metrics.inc(M.adminRequests, [("action", action.name), ("result", "ok")])
            logger?.notice("admin action done", metadata: ["peer": "\(req.peer)", "action": "\(action.name)", "result": "\(result.result)"])
            let body = (try? BridgeStatus.encoder.encode(result)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            continuation.yield(body)  // the stream ends each line
            continuation.finish()
        }
        return .stream(contentType: "application/json", lines: lines)
    }

    /// Starts serving; returns the port (the one picked, for port 0).
    @discardableResult
    package func startForTests() throws -> Int {
        try server.start(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        return server.boundPort
    }

    /// Serves until cancelled (or `stop`).
    package func run() async throws {
        try server.start(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        while !Task.isCancelled, !stopped.withLock({ $0 }) { try? await Task.sleep(nanoseconds: 100_000_000) }
        stop()
    }
    package func waitUntilListening() async throws {
        for _ in 0..<100 where server.boundPort == 0 { try await Task.sleep(nanoseconds: 100_000_000) }
    }
    package func stop() {
        guard stopped.withLock({ let was = $0; $0 = true; return !was }) else { return }
        server.stop()
    }
}

/// `/events`' query, every parameter checked: a value out of range is a 400 naming
/// it, never a trap (`recent=-1` used to kill the bridge).
package struct EventQuery: Sendable, Equatable {
    package var recent: Int?
    package var filter = EventFilter()

    package struct Problem: Error, Equatable { var message: String }

    package static let outcomes: Set<String> = ["routed", "unmatched", "expired", "duplicate", "invalid", "receipt", "temp_failed"]

    package static func parse(_ items: [(String, String)], ringCapacity: Int) -> Result<EventQuery, Problem> {
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
                q.filter.orderID = id
            default:
                return .failure(Problem(message: "\(k): unknown parameter (known: recent, carrier, outcome, order_id)"))
            }
        }
        return .success(q)
    }
}

/// `tail`'s filters, applied on the server to each event's fields.
package struct EventFilter: Sendable, Equatable {
    package var carrier: String?
    package var outcome: String?
    package var orderID: UInt64?

    package func matches(_ e: RoutingEvent) -> Bool {
        (carrier == nil || e.carrier == carrier) && (outcome == nil || e.outcome == outcome) && (orderID == nil || e.orderID == orderID)
    }
}

extension UInt8 {
    package var isASCIIAlphanumeric: Bool { (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
}

