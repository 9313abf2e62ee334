import Foundation
import SMPPWire
import Synchronization

/// One counter series (a name and its labels), resolved once: the hot path adds to
/// it with one atomic instruction, without building its label string or hashing it.
package final class CounterSeries: Sendable {
    private let count = Atomic<UInt64>(0)
    package func add(_ n: UInt64 = 1) { count.add(n, ordering: .relaxed) }
    package var value: Double { Double(count.load(ordering: .relaxed)) }
}

/// One histogram series, resolved once; its own short lock.
package final class HistogramSeries: @unchecked Sendable {
    package let buckets: [Double]
    private let lock = NSLock()
    private var counts: [UInt64]
    private var sum: Double = 0
    private var count: UInt64 = 0
    package init(buckets: [Double]) {
        self.buckets = buckets
        counts = Array(repeating: 0, count: buckets.count)
    }
    package func observe(_ v: Double) {
        // Outside the lock: the bucket search.
        let i = buckets.firstIndex(where: { v <= $0 })
        lock.withLock {
            if let i { counts[i] += 1 }
            sum += v
            count += 1
        }
    }
    package var snapshot: (counts: [UInt64], sum: Double, count: UInt64) { lock.withLock { (counts, sum, count) } }
}

/// Counters, gauges and histograms in the Prometheus text format, with bounded
/// labels (carrier, bind, command, status, outcome, reason: never a number).
/// The per-message paths hold resolved series (`counter`, `histogram`); `inc` and
/// `observe` by name are for the rest. Gauges that mirror other components' state
/// are refreshed by collectors at scrape time.
package final class MetricsRegistry: @unchecked Sendable {
    package enum Kind: String { case counter, gauge, histogram }

    package struct Family {
        package var kind: Kind
        package var help: String
        package var buckets: [Double] = []
        package var values: [String: Double] = [:]              // labels -> value (gauges)
        package var counters: [String: CounterSeries] = [:]     // labels -> series
        package var histograms: [String: HistogramSeries] = [:] // labels -> series
        /// Each series' labels as pairs, by its key (for the JSON snapshot).
        package var labelPairs: [String: [(String, String)]] = [:]
    }

    private let lock = NSLock()
    private var families: [String: Family] = [:]
    private var order: [String] = []
    private var collectors: [@Sendable (MetricsRegistry) -> Void] = []

    package static let latencyBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    package static let batchBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]

    package func define(_ name: String, _ kind: Kind, _ help: String, buckets: [Double] = []) {
        lock.withLock {
            if families[name] == nil { order.append(name) }
            families[name] = Family(kind: kind, help: help, buckets: buckets)
        }
    }

    package func addCollector(_ c: @escaping @Sendable (MetricsRegistry) -> Void) { lock.withLock { collectors.append(c) } }

    package static func labels(_ l: [(String, String)]) -> String {
        l.isEmpty ? "" : "{" + l.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    package static func escape(_ s: String) -> String {
        // Label values are almost always plain: no Foundation search on the hot path.
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return s }
        return s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The series for `name` and `labels`, created on first use. An undefined name
    /// gets a series that is never exported.
    package func counter(_ name: String, _ labels: [(String, String)] = []) -> CounterSeries {
        let key = Self.labels(labels)
        return lock.withLock {
            guard families[name] != nil else { return CounterSeries() }
            if let c = families[name]!.counters[key] { return c }
            let c = CounterSeries()
            families[name]!.counters[key] = c
            families[name]!.labelPairs[key] = labels
            return c
        }
    }

    package func histogram(_ name: String, _ labels: [(String, String)] = []) -> HistogramSeries {
        let key = Self.labels(labels)
        return lock.withLock {
            guard let f = families[name] else { return HistogramSeries(buckets: []) }
            if let h = f.histograms[key] { return h }
            let h = HistogramSeries(buckets: f.buckets)
            families[name]!.histograms[key] = h
            families[name]!.labelPairs[key] = labels
            return h
        }
    }

    package func inc(_ name: String, _ labels: [(String, String)] = [], by v: Double = 1) {
        counter(name, labels).add(UInt64(max(0, v)))
    }

    package func set(_ name: String, _ labels: [(String, String)] = [], _ v: Double) {
        let key = Self.labels(labels)
        lock.withLock {
            guard families[name] != nil else { return }
            families[name]!.values[key] = v
            families[name]!.labelPairs[key] = labels
        }
    }

    /// Drops every series of a gauge (before a collector writes the current set, so
    /// a removed bind disappears).
    package func reset(_ name: String) { lock.withLock { families[name]?.values = [:] } }

    /// Drops every series labelled with this carrier, of every family (a removed carrier's
    /// counters and histograms would otherwise be exported for ever).
    package func removeSeries(carrier: String) {
        let label = "carrier=\"\(Self.escape(carrier))\""
        func matches(_ key: String) -> Bool { key.hasPrefix("{" + label) || key.contains("," + label) }
        lock.withLock {
            for name in order {
                guard var f = families[name] else { continue }
                f.counters = f.counters.filter { !matches($0.key) }
                f.histograms = f.histograms.filter { !matches($0.key) }
                f.values = f.values.filter { !matches($0.key) }
                f.labelPairs = f.labelPairs.filter { !matches($0.key) }
                families[name] = f
            }
        }
    }

    package func observe(_ name: String, _ labels: [(String, String)] = [], _ v: Double) {
        histogram(name, labels).observe(v)
    }

    package func value(_ name: String, _ labels: [(String, String)] = []) -> Double {
        let key = Self.labels(labels)
        return lock.withLock { families[name]?.counters[key]?.value ?? families[name]?.values[key] ?? 0 }
    }

    package func render() -> String {
        let cs = lock.withLock { collectors }
        for c in cs { c(self) }
        return lock.withLock {
            var out = ""
            for name in order {
                guard let f = families[name] else { continue }
                out += "# HELP \(name) \(f.help)\n# TYPE \(name) \(f.kind.rawValue)\n"
                if f.kind == .histogram {
                    for (key, series) in f.histograms.sorted(by: { $0.key < $1.key }) {
                        let h = series.snapshot
                        let inner = key.isEmpty ? "" : String(key.dropFirst().dropLast()) + ","
                        var cum: UInt64 = 0
                        for (i, b) in f.buckets.enumerated() {
                            cum += h.counts[i]
                            out += "\(name)_bucket{\(inner)le=\"\(fmt(b))\"} \(cum)\n"
                        }
                        out += "\(name)_bucket{\(inner)le=\"+Inf\"} \(h.count)\n"
                        out += "\(name)_sum\(key) \(fmt(h.sum))\n\(name)_count\(key) \(h.count)\n"
                    }
                } else {
                    var all = f.values
                    for (key, c) in f.counters { all[key] = c.value }
                    for (key, v) in all.sorted(by: { $0.key < $1.key }) { out += "\(name)\(key) \(fmt(v))\n" }
                }
            }
            return out
        }
    }

    /// Every series, as `/metrics` has them, for `/metrics.json` (what `top` reads).
    package func snapshot() -> MetricsSnapshot {
        let cs = lock.withLock { collectors }
        for c in cs { c(self) }
        return lock.withLock {
            var out = MetricsSnapshot()
            for name in order {
                guard let f = families[name] else { continue }
                var series: [MetricsSnapshot.Series] = []
                func labels(_ key: String) -> [String: String] {
                    Dictionary(f.labelPairs[key] ?? [], uniquingKeysWith: { _, b in b })
                }
                if f.kind == .histogram {
                    for (key, h) in f.histograms {
                        let snap = h.snapshot
                        var cum: UInt64 = 0
                        let counts = snap.counts.map { cum += $0; return cum }
                        series.append(.init(labels: labels(key), value: nil,
                                            histogram: .init(buckets: f.buckets, cumulativeCounts: counts, sum: snap.sum, count: snap.count)))
                    }
                } else {
                    var all = f.values
                    for (key, c) in f.counters { all[key] = c.value }
                    for (key, v) in all { series.append(.init(labels: labels(key), value: v, histogram: nil)) }
                }
                out.families[name] = series
            }
            return out
        }
    }

    package func fmt(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

/// The bridge's series. Names follow Prometheus conventions (`_total`, `_seconds`).
package enum M {
    package static let bindState = "smpp_bridge_bind_up"
    package static let bindStateInfo = "smpp_bridge_bind_state"
    package static let pdusIn = "smpp_bridge_pdus_in_total"
    package static let pdusOut = "smpp_bridge_pdus_out_total"
    package static let deliverSM = "smpp_bridge_deliver_sm_total"
    package static let outcomes = "smpp_bridge_routing_outcomes_total"
    package static let otp = "smpp_bridge_otp_total"
    package static let reassemblyPending = "smpp_bridge_reassembly_pending"
    package static let reassemblyHeld = "smpp_bridge_reassembly_held_redeliveries"
    package static let reassemblyEvicted = "smpp_bridge_reassembly_evicted_total"
    package static let reassemblyTimedOut = "smpp_bridge_reassembly_timed_out_total"
    package static let window = "smpp_bridge_window_in_use"
    package static let unacked = "smpp_bridge_unacked_inbound"
    package static let backpressure = "smpp_bridge_backpressure_pauses_total"
    package static let ackLatency = "smpp_bridge_ack_latency_seconds"
    package static let batchSize = "smpp_bridge_db_batch_rows"
    package static let commitLatency = "smpp_bridge_db_commit_seconds"
    package static let queueDepth = "smpp_bridge_db_queue_depth"
    package static let dbFailures = "smpp_bridge_db_failures_total"
    package static let dbReconnects = "smpp_bridge_db_reconnects_total"
    package static let dbDedupRetries = "smpp_bridge_db_dedup_retries_total"
    package static let leaseEntries = "smpp_bridge_lease_entries"
    package static let leaseLag = "smpp_bridge_lease_sync_lag_seconds"
    package static let leaseLoaded = "smpp_bridge_lease_loaded"
    package static let leaseReconcileCorrections = "smpp_bridge_lease_reconcile_corrections_total"
    package static let leaseReconciles = "smpp_bridge_lease_reconciles_total"
    package static let leaseFullLoads = "smpp_bridge_lease_full_loads_total"
    package static let reconnects = "smpp_bridge_reconnects_total"
    package static let malformed = "smpp_bridge_malformed_pdus_total"
    package static let ready = "smpp_bridge_ready"
    package static let redeliveries = "smpp_bridge_redeliveries_total"
    package static let lateMatches = "smpp_bridge_late_matches_total"
    package static let receipts = "smpp_bridge_receipts_total"
    package static let invalidKept = "smpp_bridge_invalid_pdus_kept_total"
    package static let logSuppressed = "smpp_bridge_log_lines_suppressed_total"
    package static let pdusReceived = "smpp_bridge_bind_pdus_received_total"
    package static let pdusSent = "smpp_bridge_bind_pdus_sent_total"
    package static let lastDeliverSM = "smpp_bridge_last_deliver_sm_timestamp_seconds"
    package static let reloadSuccess = "smpp_bridge_config_reload_success"
    package static let reloadTimestamp = "smpp_bridge_config_reload_timestamp_seconds"
    package static let dbServer = "smpp_bridge_db_server_info"
    package static let dbLastCommit = "smpp_bridge_db_last_commit_timestamp_seconds"
    package static let httpConnections = "smpp_bridge_http_connections"
    package static let httpRefused = "smpp_bridge_http_refused_total"
    package static let buildInfo = "smpp_bridge_build_info"
    package static let adminRequests = "smpp_bridge_admin_requests_total"

    package static func defineAll(_ r: MetricsRegistry) {
        r.define(bindState, .gauge, "1 when the bind is bound, else 0.")
        r.define(bindStateInfo, .gauge, "The bind's state (1 for the current one).")
        r.define(pdusIn, .counter, "PDUs received, by command and status.")
        r.define(pdusOut, .counter, "PDUs sent, by command and status.")
        r.define(deliverSM, .counter, "deliver_sm and data_sm received.")
        r.define(outcomes, .counter, "Routing outcomes: routed, unmatched, expired, receipt, duplicate, invalid, temp_failed.")
        r.define(otp, .counter, "Stored messages with and without an extracted OTP code.")
        r.define(reassemblyPending, .gauge, "Multi-part messages waiting for parts.")
        r.define(reassemblyHeld, .gauge, "Parts of finished messages received again, held until the reassembly timeout in case a new message repeats them.")
        r.define(reassemblyEvicted, .counter, "Incomplete multi-part messages given up (memory bound).")
        r.define(reassemblyTimedOut, .counter, "Incomplete multi-part messages stored after the timeout.")
        r.define(window, .gauge, "Our requests outstanding on the bind (window in use).")
        r.define(unacked, .gauge, "Inbound PDUs received and not yet answered (waiting for commit).")
        r.define(backpressure, .counter, "Times the bind stopped reading because too much was unanswered.")
        r.define(ackLatency, .histogram, "deliver_sm received to deliver_sm_resp queued, seconds.", buckets: MetricsRegistry.latencyBuckets)
        r.define(batchSize, .histogram, "Rows per committed database batch.", buckets: MetricsRegistry.batchBuckets)
        r.define(commitLatency, .histogram, "Database batch transaction time (BEGIN..COMMIT), seconds.", buckets: MetricsRegistry.latencyBuckets)
        r.define(queueDepth, .gauge, "Items waiting for the database writer.")
        r.define(dbFailures, .counter, "Failed database batches (each is retried or answered with a temporary error).")
        r.define(dbReconnects, .counter, "Database writer reconnects.")
        r.define(dbDedupRetries, .counter, "Batches written again with ON CONFLICT DO NOTHING because a plain insert met an already stored dedup key (redeliveries).")
        r.define(leaseEntries, .gauge, "Leases in the lookup table.")
        r.define(leaseLag, .histogram, "Storefront lease change (its updated_at) to lookup table, seconds, per change.", buckets: MetricsRegistry.latencyBuckets)
        r.define(leaseLoaded, .gauge, "1 once the lease table was loaded.")
        r.define(leaseReconcileCorrections, .counter, "Leases the periodic reconcile found wrong in the table (lost notifications).")
        r.define(leaseReconciles, .counter, "Periodic in-place lease reconciles completed.")
        r.define(leaseFullLoads, .counter, "Full lease loads (start, reconnect, or a reconcile that had to grow or compact the table).")
        r.define(reconnects, .counter, "Bind reconnects, by reason.")
        r.define(malformed, .counter, "Malformed PDUs answered with an error, by error.")
        r.define(ready, .gauge, "1 when migrations are current, leases loaded and binds started.")
        r.define(redeliveries, .counter, "Messages received again inside the dedup window: recorded on the stored message, acked, never routed again.")
        r.define(lateMatches, .counter, "Unmatched messages routed later, when the lease covering them arrived.")
        r.define(receipts, .counter, "Delivery receipts and intermediate notifications stored (outcome receipt), by stat.")
        r.define(logSuppressed, .counter, "Per-PDU log lines not written because their kind passed its rate limit (20 per 10 s).")
        r.define(pdusReceived, .counter, "Every PDU received on the bind, all commands (pdus_in_total has them by command).")
        r.define(pdusSent, .counter, "Every PDU sent on the bind, all commands.")
        r.define(lastDeliverSM, .gauge, "When the carrier last delivered a deliver_sm or data_sm (Unix seconds; the bridge's start until the first).")
        r.define(reloadSuccess, .gauge, "1 if the last SIGHUP reload applied everything, 0 if it was refused or a carrier's secret could not be read.")
        r.define(reloadTimestamp, .gauge, "When the last SIGHUP reload ran (Unix seconds; 0 before the first).")
        r.define(dbServer, .gauge, "1 for the database server the writer is connected to (host:port) and its role: primary or standby.")
        r.define(dbLastCommit, .gauge, "When the writer last committed a batch (Unix seconds).")
        r.define(httpConnections, .gauge, "Open connections to the metrics and events HTTP server.")
        r.define(httpRefused, .counter, "HTTP connections refused or closed at a limit, by reason (capacity, head_too_large, idle_timeout, write_stalled, bad_request, slow_subscriber).")
        r.define(invalidKept, .counter, "PDUs that framed but failed body validation, stored as evidence (outcome invalid) and acked, by reason.")
        r.define(adminRequests, .counter, "Admin requests (smpp-bridge ctl), by action and result: ok, refused (admin off), forbidden (not loopback), unauthorized (token), invalid.")
        r.define(buildInfo, .gauge, "1, labelled with the version and commit this binary was built from.")
        r.set(buildInfo, [("version", BuildStamp.version), ("commit", BuildStamp.commit)], 1)
        ProcessMetrics.install(r)
    }
}

/// The standard `process_*` series (as Prometheus' client libraries export them), from /proc/self.
package enum ProcessMetrics {
    package static let cpu = "process_cpu_seconds_total"
    package static let rss = "process_resident_memory_bytes"
    package static let vsize = "process_virtual_memory_bytes"
    package static let openFDs = "process_open_fds"
    package static let maxFDs = "process_max_fds"
    package static let start = "process_start_time_seconds"

    package static func install(_ r: MetricsRegistry) {
        r.define(cpu, .counter, "Total user and system CPU time spent in seconds.")
        r.define(rss, .gauge, "Resident memory size in bytes.")
        r.define(vsize, .gauge, "Virtual memory size in bytes.")
        r.define(openFDs, .gauge, "Number of open file descriptors.")
        r.define(maxFDs, .gauge, "Maximum number of open file descriptors.")
        r.define(start, .gauge, "Start time of the process since unix epoch in seconds.")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let bootTime = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
        var limit = rlimit()
        let maxFiles = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil
        r.addCollector { r in
            // /proc/self/stat: the fields after the command's closing parenthesis, from field 3 (state) on.
            if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
               let close = stat.lastIndex(of: ")") {
                let f = stat[stat.index(after: close)...].split(separator: " ")
                func field(_ n: Int) -> Double? { f.count > n - 3 ? Double(f[n - 3]) : nil }
                if let u = field(14), let s = field(15) { r.set(cpu, [], (u + s) / ticks) }
                if let v = field(23) { r.set(vsize, [], v) }
                if let p = field(24) { r.set(rss, [], p * page) }
                if let st = field(22), let bootTime { r.set(start, [], bootTime + st / ticks) }
            }
            if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { r.set(openFDs, [], Double(fds.count)) }
            if let maxFiles { r.set(maxFDs, [], maxFiles) }
        }
    }
}

/// One routing decision as `tail` and `top` show it. Kept as fields: the JSON line
/// (masked) is built only when someone reads the event, not for every message.
package struct RoutingEvent: Sendable {
    package var unixMillis: UInt64
    package var carrier: String
    package var bind: String
    package var source: String
    package var destination: String
    package var orderID: UInt64?
    package var outcome: String
    package var service: String?
    package var code: String?
    package var parts: Int
    package var latencyMs: Double?
    /// The mask in force when the event happened.
    package var mask: Mask

    /// The event as one JSON line, masked as configured when it happened.
    package var json: String {
        (try? Self.encoder.encode(Line(self))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Keys sorted: every line of `tail` has its fields in one order.
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// What `tail` prints for an event: numbers masked and the code left out unless revealed.
    private struct Line: Encodable {
        let event: RoutingEvent
        init(_ e: RoutingEvent) { event = e }

        enum Key: String, CodingKey {
            case time, carrier, bind, source, destination, orderID = "order_id", outcome, service
            case codePresent = "code_present", parts, code, latencyMs = "latency_ms"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(LineLogHandler.timestamp(unixMillis: event.unixMillis), forKey: .time)
            try c.encode(event.carrier, forKey: .carrier)
            try c.encode(event.bind, forKey: .bind)
            try c.encode(event.mask.number(event.source), forKey: .source)
            try c.encode(event.mask.number(event.destination), forKey: .destination)
            try c.encode(event.orderID, forKey: .orderID)  // null when unmatched
            try c.encode(event.outcome, forKey: .outcome)
            try c.encode(event.service, forKey: .service)
            try c.encode(event.code != nil, forKey: .codePresent)
            try c.encode(event.parts, forKey: .parts)
            if event.mask.reveal, let code = event.code { try c.encode(code, forKey: .code) }
            // Microsecond precision is noise in a latency shown to people: three decimals.
            try c.encode(event.latencyMs.map { ($0 * 1000).rounded() / 1000 }, forKey: .latencyMs)
        }
    }
}

/// Recent routing events for `tail` and `top`: a ring buffer plus live
/// subscribers. Numbers are masked unless the config reveals them.
package final class EventHub: @unchecked Sendable {
    private let lock = NSLock()
    private var ring: [RoutingEvent] = []
    private var next = 0
    private var subscribers: [UUID: (filter: EventFilter, sink: AsyncStream<String>.Continuation)] = [:]
    package let capacity: Int

    package init(capacity: Int = 200) {
        self.capacity = capacity
        ring.reserveCapacity(capacity)
    }

    package func publish(_ e: RoutingEvent) {
        let subs: [AsyncStream<String>.Continuation]? = lock.withLock {
            if ring.count < capacity { ring.append(e) } else { ring[next] = e }
            next = (next + 1) % capacity
            return subscribers.isEmpty ? nil : subscribers.values.filter { $0.filter.matches(e) }.map(\.sink)
        }
        guard let subs, !subs.isEmpty else { return }
        let line = e.json
        for s in subs {
            if case .dropped = s.yield(line) {
                s.finish()  // a subscriber that cannot keep up is let go
                lock.withLock { droppedSubscribers += 1 }
            }
        }
    }

    /// The last `n` events that match `filter`, oldest first, as JSON lines.
    package func last(_ n: Int, matching filter: EventFilter = EventFilter()) -> [String] {
        let events: [RoutingEvent] = lock.withLock {
            ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
        }
        return events.filter(filter.matches).suffix(max(0, n)).map(\.json)
    }

    /// At most this many live `/events` subscribers at once; more get a 503.
    package static let maxSubscribers = 16
    /// Lines a subscriber may fall behind by. One that does is dropped (its stream
    /// ends), not buffered for: publishing never waits for a reader.
    package static let subscriberBuffer = 256
    private(set) var droppedSubscribers = 0

    /// A live stream of events; ends when the subscriber goes away or falls
    /// `subscriberBuffer` lines behind. Nil when `maxSubscribers` are listening.
    package func subscribe(filter: EventFilter = EventFilter()) -> AsyncStream<String>? {
        let id = UUID()
        let (stream, cont) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(Self.subscriberBuffer))
        cont.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: id) } }
        let admitted = lock.withLock { () -> Bool in
            guard subscribers.count < Self.maxSubscribers else { return false }
            subscribers[id] = (filter, cont)
            return true
        }
        return admitted ? stream : nil
    }

    package var subscriberCount: Int { lock.withLock { subscribers.count } }
}

/// The registry's series as JSON: what `/metrics` says in Prometheus' text format,
/// read by `top` with a decoder instead of a text parser. Encoded with the default
/// key strategy: metric names and labels are dictionary keys, kept as they are.
package struct MetricsSnapshot: Codable, Sendable, Equatable {
    package struct Histogram: Codable, Sendable, Equatable {
        /// Upper bounds, +Inf left out (its count is `count`).
        package var buckets: [Double]
        package var cumulativeCounts: [UInt64]
        package var sum: Double
        package var count: UInt64
    }
    package struct Series: Codable, Sendable, Equatable {
        package var labels: [String: String]
        package var value: Double?
        package var histogram: Histogram?
    }
    package var families: [String: [Series]] = [:]

    package init() {}

    /// The series of `name` whose labels include `match`.
    package func series(_ name: String, _ match: [String: String] = [:]) -> [Series] {
        (families[name] ?? []).filter { s in match.allSatisfy { s.labels[$0.key] == $0.value } }
    }

    /// The sum of the matching series' values.
    package func sum(_ name: String, _ match: [String: String] = [:]) -> Double {
        series(name, match).reduce(0) { $0 + ($1.value ?? 0) }
    }

    /// The matching histograms merged: (upper bound, cumulative count), +Inf last.
    package func buckets(_ name: String, _ match: [String: String] = [:]) -> [(le: Double, count: Double)] {
        var byLe: [Double: Double] = [:]
        for h in series(name, match).compactMap(\.histogram) {
            for (b, c) in zip(h.buckets, h.cumulativeCounts) { byLe[b, default: 0] += Double(c) }
            byLe[.infinity, default: 0] += Double(h.count)
        }
        return byLe.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Histogram count and sum of the matching series.
    package func histogramTotals(_ name: String, _ match: [String: String] = [:]) -> (count: Double, sum: Double) {
        series(name, match).compactMap(\.histogram).reduce((0, 0)) { ($0.0 + Double($1.count), $0.1 + $1.sum) }
    }
}
