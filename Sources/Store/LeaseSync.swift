import Dispatch
import Primitives
import SMPPWire
public import Routing
#if canImport(Glibc)
    import Glibc
#endif

/// Keeps the lock-free lease table in step with the storefront's `leases` table.
///
/// At start, every lease that can still matter (active, or ended within the last
/// day, so late messages report `expired` with their order) is streamed in
/// single-row mode, never held as a whole result, into a new table generation
/// that is swapped in at once. Then changes arrive by LISTEN `lease_changed`
/// (the socket watched by a Dispatch read source) and are applied one by one.
/// On any reconnect the table is reloaded fully and swapped. A periodic reconcile,
/// the safety net for a lost notification, compares every number's latest lease
/// with the table and corrects it in place (`LeaseTable.reconcile`), so that it does
/// not hold a second generation every few minutes (docs/decisions/010-lease-table-memory.md).
///
/// Routing before the first load: the bridge does not bind to any SMSC until
/// `start()` returned (see docs/architecture.md); `isLoaded` drives readiness.
public final class LeaseSync: @unchecked Sendable {
    public let url: String
    public let table: LeaseTable
    public let reconcileInterval: Double
    private let queue = DispatchQueue(label: "smpp.store.leases")
    private var listener: PostgresConnection?
    private var source: (any DispatchSourceRead)?
    private var timer: (any DispatchSourceTimer)?
    private let state = Locked(SyncStats())
    private var stopped = false
    private var reclaimScheduled = false
    /// Called on the sync's queue after leases were applied: with the numbers whose
    /// lease changed (a notification), or nil after a full load or a reconcile (any
    /// number). Late matching hangs here (`LateMatcher`). Set before `start()`.
    public var onLeasesApplied: (@Sendable (_ msisdns: [String]?) -> Void)?
    /// Each applied change's lag (storefront's updated_at to now), in seconds, for a histogram. Set before `start()`.
    public var onLag: (@Sendable (Double) -> Void)?

    public struct SyncStats: Sendable, Hashable {
        public var loaded = false
        public var listening = false
        public var entries = 0
        public var fullLoads = 0
        public var changesApplied = 0
        public var reconnects = 0
        public var reconciles = 0
        /// Leases the periodic reconciles found wrong in the table and corrected
        /// (changed, added or ended): notifications that never arrived.
        public var reconcileCorrections = 0
        /// Milliseconds from the storefront's change (trigger time) to the table update, last change.
        public var lastLagMillis: Int = 0
        public var lastError: String?
    }

    public init(url: String, table: LeaseTable, reconcileInterval: Double = 300) {
        self.url = url
        self.table = table
        self.reconcileInterval = reconcileInterval
    }

    public var stats: SyncStats { state.withLock { s in var x = s; x.entries = table.count; return x } }
    public var isLoaded: Bool { state.withLock { $0.loaded } }
    /// The LISTEN connection is up (false from a lost connection until it is back and reloaded).
    public var isListening: Bool { state.withLock { $0.listening } }

    /// Loads the table and starts listening. Returns once the table is loaded.
    public func start() throws {
        try queue.sync { try connectAndLoad() }
        queue.sync {
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now() + reconcileInterval, repeating: reconcileInterval)
            t.setEventHandler { [weak self] in try? self?.reconcile() }
            timer = t
            t.resume()
        }
    }

    public func stop() {
        queue.sync {
            stopped = true
            source?.cancel()
            source = nil
            timer?.cancel()
            timer = nil
            listener = nil
        }
    }

    /// LISTEN first, then load: a change committed during the load is either in the
    /// load or in a notification (applying it twice is harmless).
    private func connectAndLoad() throws {
        let l = try PostgresConnection(url, applicationName: "smpp-bridge-leases")
        try l.listen("lease_changed")
        listener = l
        try fullLoad(using: l)
        source?.cancel()
        source = l.watchNotifications(queue: queue, { [weak self] n in self?.apply(n) }, onFailure: { [weak self] e in
            self?.lost(e)
        })
        state.withLock { $0.listening = true }
    }

    private func lost(_ e: PostgresError) {
        state.withLock { $0.lastError = e.description; $0.reconnects += 1; $0.listening = false }
        source = nil
        listener = nil
        guard !stopped else { return }
        queue.asyncAfter(deadline: .now() + 0.5) { [weak self] in
            guard let self, !self.stopped else { return }
            do { try self.connectAndLoad() } catch {
                self.lost(error as? PostgresError ?? PostgresError(operation: "lease sync", message: "\(error)", sqlState: nil))
            }
        }
    }

    /// Streams every lease that can still matter into a new generation and swaps it in.
    private func fullLoad(using conn: PostgresConnection?) throws {
        let db = try conn ?? PostgresConnection(url, applicationName: "smpp-bridge-leases")
        // Sized from a count first (an estimate: the stream is another snapshot, and
        // the builder grows if it must), so the first load does not rehash its way up.
        let counted = try db.execute("SELECT count(*) FROM leases WHERE expires_at > now() - interval '1 day'").rows.first?.first ?? nil
        let expected = counted.flatMap { Int($0) } ?? table.count
        let builder = table.makeBuilder(expectedCount: expected)
        // Later leases of a number replace earlier ones (ordered by starts_at).
        try streamLeases(db, latestOnly: false) { builder.insert($0, $1) }
        table.replaceAll(with: builder)
        state.withLock { $0.loaded = true; $0.fullLoads += 1 }
        reclaimRetired()
        onLeasesApplied?(nil)
    }

    /// The periodic safety net, in place. Falls back to a full reload when the table
    /// had to grow meanwhile (many new numbers whose notifications were all lost), and
    /// reloads to compact it when a quarter of its numbers are no longer leased at all
    /// (in place, a number's slot is never freed): so the table stays bounded by the
    /// numbers leased in the last day, plus a quarter, without a second generation at
    /// every reconcile.
    private func reconcile() throws {
        let db = try PostgresConnection(url, applicationName: "smpp-bridge-leases")
        let result = try table.reconcile({ visit in try streamLeases(db, latestOnly: true, visit) },
                                         endingAbsentAt: UInt32(clamping: Clock.wallMillis() / 1000))
        if let r = result {
            state.withLock { $0.reconciles += 1; $0.reconcileCorrections += r.updated + r.ended }
            if r.absent > Self.compactionThreshold(entries: table.count) {
                try fullLoad(using: db)
            } else {
                reclaimRetired()
                onLeasesApplied?(nil)
            }
        } else {
            try fullLoad(using: db)
        }
    }

    /// Dead entries past which a reconcile compacts the table by a full reload.
    static func compactionThreshold(entries: Int) -> Int { max(64, entries / 4) }

    /// Every lease that can still matter (active, or ended within the last day), one
    /// row at a time (single-row mode). In starts_at order, so that a number's later
    /// lease comes after its earlier ones; or with `latestOnly`, each number once with
    /// its latest lease (what an in-place comparison needs: an earlier lease must never
    /// be written over the current one, even for an instant).
    private func streamLeases(_ db: PostgresConnection, latestOnly: Bool, _ visit: (MSISDNKey, Lease) -> Void) throws {
        var services: [String: ServiceID] = [:]
        try db.stream("""
            SELECT \(latestOnly ? "DISTINCT ON (msisdn)" : "") msisdn, order_id, service,
                   floor(extract(epoch FROM starts_at))::bigint AS starts_at,
                   floor(extract(epoch FROM CASE WHEN status = 'active' THEN expires_at ELSE LEAST(expires_at, updated_at) END))::bigint AS ends_at,
                   version
            FROM leases
            WHERE expires_at > now() - interval '1 day'
            ORDER BY \(latestOnly ? "msisdn, starts_at DESC, order_id DESC" : "starts_at, order_id")
            """) { r in
            guard let m = r["msisdn"], let key = MSISDNKey(m), let order = r["order_id"].flatMap({ UInt64($0) }) else { return true }
            let name = r["service"] ?? ""
            let sid: ServiceID
            if let s = services[name] { sid = s } else { sid = table.serviceID(name); services[name] = sid }
            visit(key, Lease(orderID: order, service: sid, startsAt: UInt32(clamping: r.int("starts_at") ?? 0),
                             expiresAt: UInt32(clamping: r.int("ends_at") ?? 0), version: UInt32(clamping: r.int("version") ?? 0)))
            return true
        }
    }

    /// Frees the generation a reload (or a growth) replaced, once no session is
    /// routing with it. Under traffic a reader nearly always holds it at the moment of
    /// the swap, and the table itself only tries again on its next write, so this
    /// retries soon after; a reader holds a generation for one read batch. Runs on `queue`.
    private func reclaimRetired() {
        table.reclaim()
        guard table.retiredGenerations > 0, !stopped, !reclaimScheduled else { return }
        reclaimScheduled = true
        retryReclaim(attempt: 0)
    }

    private func retryReclaim(attempt: Int) {
        queue.asyncAfter(deadline: .now() + (attempt < 100 ? 0.01 : 1)) { [weak self] in
            guard let self else { return }
            self.table.reclaim()
            if self.table.retiredGenerations > 0, !self.stopped {
                self.retryReclaim(attempt: attempt + 1)
            } else {
                self.reclaimScheduled = false
            }
        }
    }

    private func apply(_ notes: [(String, String)]) {
        let nowMs = Int(Clock.wallMillis())
        var covering: [String] = []
        for (_, payload) in notes {
            let f = FlatJSON.parse(payload)
            guard let m = f["msisdn"], let key = MSISDNKey(m), let order = f["order_id"].flatMap({ UInt64($0) }) else { continue }
            let op = f["op"] ?? ""
            let starts = UInt32(clamping: Int(f["starts_at"] ?? "0") ?? 0)
            var expires = UInt32(clamping: Int(f["expires_at"] ?? "0") ?? 0)
            if op == "DELETE" || (f["status"] ?? "active") != "active" {
                expires = min(expires, UInt32(clamping: nowMs / 1000))
            }
            let lease = Lease(orderID: order, service: table.serviceID(f["service"] ?? ""), startsAt: starts, expiresAt: expires,
                              version: UInt32(clamping: Int(f["version"] ?? "0") ?? 0))
            table.upsert(key, lease)
            if op != "DELETE", (f["status"] ?? "active") == "active" { covering.append(m) }
            let lag = f["updated_at_ms"].flatMap { Int($0) }.map { max(0, nowMs - $0) } ?? 0
            state.withLock { $0.changesApplied += 1; $0.lastLagMillis = lag }
            onLag?(Double(lag) / 1000)
        }
        reclaimRetired()  // an upsert may have grown the table
        if !covering.isEmpty { onLeasesApplied?(covering) }
    }
}


/// Reads the flat JSON objects our own trigger builds (string and number values only).
enum FlatJSON {
    static func parse(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        let chars = Array(s.unicodeScalars)
        var i = 0
        func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" { i += 1 } }
        func string() -> String {
            var v = String.UnicodeScalarView()
            i += 1
            while i < chars.count, chars[i] != "\"" {
                if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                v.append(chars[i])
                i += 1
            }
            i += 1
            return String(v)
        }
        skipSpace()
        guard i < chars.count, chars[i] == "{" else { return out }
        i += 1
        while i < chars.count {
            skipSpace()
            guard i < chars.count, chars[i] == "\"" else { break }
            let k = string()
            skipSpace()
            guard i < chars.count, chars[i] == ":" else { break }
            i += 1
            skipSpace()
            if i < chars.count, chars[i] == "\"" {
                out[k] = string()
            } else {
                var v = String.UnicodeScalarView()
                while i < chars.count, chars[i] != ",", chars[i] != "}" { v.append(chars[i]); i += 1 }
                let t = String(v).split(separator: " ").joined()
                if t != "null" { out[k] = t }
            }
            skipSpace()
            if i < chars.count, chars[i] == "," { i += 1 }
        }
        return out
    }
}
