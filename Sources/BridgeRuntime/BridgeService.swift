import Primitives
import Dispatch
import Foundation
package import Logging
package import Routing
import SMPPSession
import SMPPWire
package import Store

package struct StartupError: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// The running bridge: start order migrate check → lease load → restored parts →
/// writer → binds; SIGHUP-style reload of rules and carriers; graceful shutdown
/// (binds stop reading and wait for their acks, the writer drains, final flush).
package final class BridgeService: @unchecked Sendable {
    private(set) var config: BridgeConfig
    package let logger: Logger
    package let metrics = MetricsRegistry()
    package let events = EventHub()
    package let table = LeaseTable()
    package let multipart: MultipartCoordinator
    package var reassembler: Reassembler { multipart.reassembler }
    /// When this service was made (monotonic ns): a carrier that never delivered has been silent since then.
    package let startedAtMonotonic = Clock.monotonicNanos()
    private(set) var writer: BatchWriter!
    private(set) var leaseSync: LeaseSync!
    private let lock = NSLock()
    /// Each running carrier with the password it bound with (compared on reload, so a rotated secret restarts it).
    private var carriers: [String: (config: CarrierConfig, binds: CarrierBinds, pipeline: MessagePipeline, password: String)] = [:]
    /// Carriers an operator stopped (`ctl carrier stop`): they stay stopped across SIGHUP
    /// until `ctl carrier start` or a restart of the process, and do not count against readiness.
    private var stoppedByAdmin: Set<String> = []
    private var rules: RoutingRules
    private var stage = "starting"
    private var databaseURL = ""
    private var writerMetrics: WriterMetrics?
    private(set) var lateMatching: LateMatching?
    private lazy var sessionLogLimiter = LogLimiter(metrics: metrics)

    package init(config: BridgeConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        // A finished message's parts are remembered as long as its key is a redelivery target.
        let reassembler = Reassembler(timeoutMillis: UInt64(config.reassemblyTimeoutSeconds * 1000), maxPendingBytes: config.reassemblyMaxBytes,
                                      maxPendingBytesPerCarrier: config.reassemblyMaxBytesPerCarrier,
                                      rememberMillis: UInt64(config.dedupWindowSeconds) * 1000)
        multipart = MultipartCoordinator(reassembler: reassembler)
        rules = RoutingRules(extractor: OTPExtractor(rules: try Self.loadRules(config.otpRulesFile)), generation: 1)
        M.defineAll(metrics)
    }

    package static func loadRules(_ path: String?) throws -> OTPRules {
        guard let path else { return .defaults }
        guard let data = FileManager.default.contents(atPath: path) else { throw StartupError(description: "routing.otp_rules_file: cannot read \(path)") }
        do { return try JSONDecoder().decode(OTPRules.self, from: data) } catch {
            throw StartupError(description: "routing.otp_rules_file: \(path): not a valid rules file (\(error))")
        }
    }

    package var mask: Mask { Mask(reveal: config.revealSensitive) }
    package var isReady: Bool { readiness.ready }

    /// Ready means able to take traffic now: started, the writer committing, the lease
    /// feed listening, and every carrier with a bind up. The detail names what is not.
    package var readiness: (ready: Bool, detail: String) {
        let current: String = lock.withLock { stage }
        let binds: [(String, CarrierBinds)] = lock.withLock { carriers.values.map { ($0.config.name, $0.binds) } }
        guard current == "ready" else { return (false, current) }
        var problems: [String] = []
        if let w = writer?.stats, let since = w.failingSince, Clock.monotonicNanos() - since > 2_000_000_000 {
            problems.append("database: the writer cannot commit (\(w.lastError ?? "error"))")
        }
        if let ls = leaseSync, !ls.isListening { problems.append("database: lease feed disconnected, reconnecting") }
        for (name, b) in binds.sorted(by: { $0.0 < $1.0 }) where !b.sessions.contains(where: { s in s.currentState == .bound }) {
            problems.append("carrier \(name): no bind up")
        }
        guard problems.isEmpty else { return (false, problems.joined(separator: "; ")) }
        let stopped = lock.withLock { stoppedByAdmin.sorted() }
        let note = stopped.isEmpty ? "" : "; stopped by admin: \(stopped.joined(separator: ", "))"
        // What a failover runbook asks first: which server, and is it committing.
        if let w = writer?.stats, let server = w.server {
            let since = w.lastCommitAt.map { String(format: "%.1f s ago", Double(Clock.monotonicNanos() &- $0) / 1e9) } ?? "none yet"
            return (true, "ready (writer on \(server), \(w.serverInRecovery ? "standby" : "primary"); last commit \(since)\(note))")
        }
        return (true, "ready" + note)
    }
    package var stageName: String { lock.withLock { stage } }
    private func setStage(_ s: String) { lock.withLock { stage = s }; logger.info("stage", metadata: ["stage": "\(s)"]) }

    /// Runs the start order. Throws (and binds nothing) when the schema is not
    /// current or the database cannot be reached for the lease load.
    package func start() throws {
        do { databaseURL = try config.databaseURL.read() } catch {
            throw StartupError(description: "database.url: \(error) (\(config.databaseURL.describe))")
        }
        if let w = PostgresTLSPolicy(conninfo: databaseURL)?.warning {
            // A remote database without a verified certificate is refused unless the config says otherwise.
            guard config.allowUnverifiedTLS else {
                throw StartupError(description: "database.url: \(w) (or set database.allow_unverified_tls = true to accept it)")
            }
            logger.warning("database TLS not verified, allowed by database.allow_unverified_tls", metadata: ["detail": "\(w)"])
        }
        setStage("migrate-check")
        let db: PostgresConnection
        do { db = try PostgresConnection(databaseURL, applicationName: "smpp-bridge-start") } catch {
            throw StartupError(description: "database: cannot connect: \(error)")
        }
        if config.applyMigrations { _ = try Migrator.migrate(db, context: .init(dedupWindowSeconds: config.dedupWindowSeconds)) }
        let pending = try Migrator.pending(db)
        guard pending.isEmpty else {
            throw StartupError(description: "database: schema migrations pending (\(pending.map(String.init).joined(separator: ", "))): run `smpp-bridge migrate` or set database.apply_migrations = true")
        }
        setStage("lease-load")
        leaseSync = LeaseSync(url: databaseURL, table: table, reconcileInterval: config.leaseReconcileSeconds)
        let late = LateMatching(url: databaseURL, lookbackSeconds: config.lateMatchLookbackSeconds,
                                settleSeconds: config.commitDeadlineMillis / 1000 + 1, metrics: metrics, logger: logger,
                                extractor: { [weak self] in self?.lock.withLock { self?.rules.extractor } ?? OTPExtractor() })
        lateMatching = late
        leaseSync.onLeasesApplied = { late.leasesApplied($0) }
        leaseSync.onLag = { [metrics] in metrics.observe(M.leaseLag, [], $0) }
        try leaseSync.start()
        logger.info("leases loaded", metadata: ["entries": "\(table.count)"])
        var w = BatchWriter.Config(url: databaseURL)
        w.maxRows = config.batchMaxRows
        w.targetRows = config.batchTargetRows
        w.maxWait = config.batchMaxWaitMillis / 1000
        w.maxBatchBytes = config.batchMaxBytes
        w.commitDeadline = config.commitDeadlineMillis / 1000
        w.connections = config.writerConnections
        w.statementTimeoutMillis = config.statementTimeoutMillis
        w.dedupWindowSeconds = config.dedupWindowSeconds
        writer = BatchWriter(config: w)
        writerMetrics = WriterMetrics(metrics: metrics, logger: logger)
        writer.observer = writerMetrics
        let restored = try multipart.restore(from: db)
        logger.info("reassembly restored", metadata: ["parts": "\(restored.parts)", "completed": "\(restored.completed.count)"])
        installCollectors()
        setStage("binding")
        for c in config.carriers { try addCarrier(c) }
        multipart.start(databaseURL: databaseURL, restored: restored.completed,
                        router: { [weak self] carrier in self?.pipeline(carrier)?.makeRouter() },
                        store: { [weak self] m in
                            guard let carrier = m.parts.first?.key.carrier, let pipeline = self?.pipeline(carrier) else { return }
                            pipeline.store(pipeline.makeRouter().decide(m), message: m, bind: "reassembly", token: nil, session: nil)
                        })
        setStage("ready")
    }

    private static func readPassword(_ c: CarrierConfig) throws -> String {
        do { return try c.passwordSource.read() } catch {
            throw StartupError(description: "carrier \(c.name): password: \(error) (\(c.passwordSource.describe))")
        }
    }

    private func addCarrier(_ c: CarrierConfig, password given: String? = nil) throws {
        let password = try given ?? Self.readPassword(c)
        let pipeline = MessagePipeline(carrier: c, table: table, multipart: multipart, writer: writer, rules: lock.withLock { rules },
                                       metrics: metrics, events: events, logger: logger, mask: mask)
        var s = SessionConfig(name: c.name, host: c.host, port: c.port, systemID: c.systemID, password: password)
        s.systemType = c.systemType
        s.bindType = c.bindType
        s.enquireLinkInterval = c.enquireLinkSeconds
        s.responseTimeout = c.responseTimeoutSeconds
        s.window = c.window
        s.maxUnackedInbound = c.maxUnacked
        s.addressRange = c.addressRange
        s.tls = c.tls
        let binds = CarrierBinds(config: s, count: c.binds) { pipeline.handler(forBind: $0) }
        for session in binds.sessions {
            let name = session.config.name
            session.onEvent = { [logger, sessionLogLimiter] event, detail in
                // Events a peer can cause per PDU are rate-limited; the rest are rare.
                if ["unmatched_response", "alert_notification"].contains(event) {
                    sessionLogLimiter.warning(logger, kind: event, "session", metadata: ["carrier": "\(c.name)", "bind": "\(name)", "event": "\(event)", "detail": "\(detail)"])
                    return
                }
                let level: Logger.Level = ["connect_failed", "bind_refused", "bind_refused_credentials", "link_dead", "closed", "tls_insecure", "auth_backoff"].contains(event) ? .warning : .info
                logger.log(level: level, "session", metadata: ["carrier": "\(c.name)", "bind": "\(name)", "event": "\(event)", "detail": "\(detail)"])
            }
        }
        lock.withLock { carriers[c.name] = (c, binds, pipeline, password) }
        binds.start()
        logger.info("carrier started", metadata: ["carrier": "\(c.name)", "host": "\(c.host)", "port": "\(c.port)", "binds": "\(c.binds)",
                                                   "tls": "\(c.tls != nil)", "password": "\(c.passwordSource.describe)"])
    }

    private func removeCarrier(_ name: String, done: @escaping @Sendable () -> Void) {
        guard let entry = lock.withLock({ carriers.removeValue(forKey: name) }) else { return done() }
        logger.info("carrier stopping", metadata: ["carrier": "\(name)"])
        // The pipeline (the sessions' handler, held weakly by them) and the sessions themselves
        // live until the binds have drained and unbound: a PDU read meanwhile is stored and acked,
        // never answered without a handler, and a session nobody held would be freed mid-drain,
        // its unbind never finished and its socket left open (the SMSC would keep seeing the bind).
        let pipeline = entry.pipeline, binds = entry.binds
        binds.shutdown(deadline: config.shutdownGraceSeconds) { [weak self] in
            withExtendedLifetime((pipeline, binds)) {}
            // Its series go with it (a restarted carrier starts again at 0, which rate() reads as a
            // reset), unless it was started again meanwhile (a drain that outlasted its wait).
            if let self, self.lock.withLock({ self.carriers[name] == nil }) {
                self.metrics.removeSeries(carrier: name)
                self.logger.info("carrier stopped", metadata: ["carrier": "\(name)"])
            }
            done()
        }
    }

    /// SIGHUP: new OTP rules and carrier list. Everything is read first (rules, every
    /// carrier's secret), before anything stops: a carrier whose secret cannot be read
    /// keeps running as it is (or is not added) and is reported in `failed`. A carrier
    /// restarts when its settings or its secret's value changed (a rotated password is
    /// picked up); removed ones drain; the others are left alone. Database, metrics and
    /// log settings need a restart (logged if they changed).
    package func reload(_ new: BridgeConfig) throws -> (added: [String], removed: [String], restarted: [String], failed: [String: String]) {
        let newRules = RoutingRules(extractor: OTPExtractor(rules: try Self.loadRules(new.otpRulesFile)), generation: lock.withLock { rules.generation } + 1)
        let running = lock.withLock { carriers.mapValues { (config: $0.config, password: $0.password) } }
        var passwords: [String: String] = [:]
        var failed: [String: String] = [:]
        for c in new.carriers {
            do { passwords[c.name] = try Self.readPassword(c) } catch { failed[c.name] = "\(error)" }
        }
        let newByName = Dictionary(uniqueKeysWithValues: new.carriers.filter { failed[$0.name] == nil }.map { ($0.name, $0) })
        let wanted = Set(new.carriers.map(\.name))
        let removed = running.keys.filter { !wanted.contains($0) }.sorted()
        let stopped = lock.withLock { stoppedByAdmin.formIntersection(wanted); return stoppedByAdmin }
        let added = newByName.keys.filter { running[$0] == nil && !stopped.contains($0) }.sorted()
        let changed = newByName.keys.filter { name in
            guard let r = running[name] else { return false }
            return r.config != newByName[name] || r.password != passwords[name]
        }.sorted()
        for (name, problem) in failed.sorted(by: { $0.key < $1.key }) {
            logger.error("reload: carrier left as it was: its secret cannot be read", metadata: ["carrier": "\(name)", "error": "\(problem)"])
        }
        if new.databaseURL != config.databaseURL || new.metricsListen != config.metricsListen || new.batchMaxRows != config.batchMaxRows {
            logger.warning("reload: database and metrics settings take effect after a restart")
        }
        lock.withLock {
            rules = newRules
            for (_, e) in carriers { e.pipeline.swap(rules: newRules) }
        }
        let group = DispatchGroup()
        for name in removed + changed {
            group.enter()
            removeCarrier(name) { group.leave() }
        }
        _ = group.wait(timeout: .now() + config.shutdownGraceSeconds + 2)
        var keep = config
        // A carrier whose secret failed keeps its running config (it still runs as before).
        keep.carriers = new.carriers.map { c in failed[c.name] != nil ? (running[c.name]?.config ?? c) : c }
            .filter { failed[$0.name] == nil || running[$0.name] != nil || stopped.contains($0.name) }
        keep.otpRulesFile = new.otpRulesFile
        keep.revealSensitive = new.revealSensitive
        config = keep
        for name in added + changed { try addCarrier(newByName[name]!, password: passwords[name]) }
        logger.notice("reloaded", metadata: ["added": "\(added)", "removed": "\(removed)", "restarted": "\(changed)",
                                            "failed": "\(failed.keys.sorted())", "rules_generation": "\(newRules.generation)"])
        return (added, removed, changed, failed)
    }

    // MARK: Admin actions (run on the runner's control queue, one at a time, like SIGHUP)

    /// An unknown carrier is a 404 before anything runs.
    package func adminCheck(_ a: AdminAction) -> AdminError? {
        switch a {
        case .stopCarrier(let n), .startCarrier(let n), .restartCarrier(let n):
            let known = lock.withLock { config.carriers.contains { $0.name == n } }
            return known ? nil : AdminError(status: 404, message: "no carrier \(n) in the configuration")
        case .setLogLevel: return nil
        }
    }

    /// Drains the carrier's binds (in-flight messages are stored and acked) and keeps it stopped.
    package func adminStop(_ name: String) -> String {
        let wasRunning = lock.withLock { () -> Bool in
            stoppedByAdmin.insert(name)
            return carriers[name] != nil
        }
        guard wasRunning else { return "already stopped" }
        let done = DispatchSemaphore(value: 0)
        removeCarrier(name) { done.signal() }
        let drained = done.wait(timeout: .now() + config.shutdownGraceSeconds + 2) == .success
        return drained ? "stopped" : "stopped taking messages; still unbinding after \(Int(config.shutdownGraceSeconds + 2)) s"
    }

    /// Starts a stopped carrier with its configured settings, its secret read again.
    package func adminStart(_ name: String) -> String {
        let (running, c) = lock.withLock { (carriers[name] != nil, config.carriers.first { $0.name == name }) }
        guard !running else { return "already running" }
        guard let c else { return "not configured" }
        do { try addCarrier(c) } catch { return "failed: \(error)" }
        lock.withLock { _ = stoppedByAdmin.remove(name) }
        return "started"
    }

    package func adminRestart(_ name: String) -> String {
        _ = adminStop(name)
        let r = adminStart(name)
        return r == "started" ? "restarted" : r
    }

    /// The state `/status` serves.
    package func status(logLevel: Logger.Level, adminEnabled: Bool) -> BridgeStatus {
        let (entries, stopped, cfg) = lock.withLock { (Array(carriers.values), stoppedByAdmin, config) }
        let r = readiness
        let monoNow = Clock.monotonicNanos()
        var out: [BridgeStatus.Carrier] = entries.map { e in
            var last = startedAtMonotonic
            let binds = e.binds.sessions.map { s -> BridgeStatus.Bind in
                let st = s.snapshot
                if let t = st.lastDeliverSMAt { last = max(last, t) }
                return BridgeStatus.Bind(name: s.config.name, state: st.state.rawValue, windowInUse: st.windowInUse, unackedInbound: st.unackedInbound,
                                         pdusIn: UInt64(st.pdusIn), pdusOut: UInt64(st.pdusOut), reconnects: st.reconnectReasons.values.reduce(0, +))
            }
            return BridgeStatus.Carrier(name: e.config.name, state: "running", binds: binds, silentSeconds: Double(monoNow &- last) / 1e9)
        }
        for name in stopped where !out.contains(where: { $0.name == name }) {
            out.append(BridgeStatus.Carrier(name: name, state: "stopped", binds: [], silentSeconds: 0))
        }
        let writerStatus = writer.map { w -> BridgeStatus.Writer in
            let st = w.stats
            return BridgeStatus.Writer(server: st.server, role: st.server == nil ? nil : (st.serverInRecovery ? "standby" : "primary"),
                                       queueDepth: w.queueDepth, lastCommitSecondsAgo: st.lastCommitAt.map { Double(monoNow &- $0) / 1e9 },
                                       rowsCommitted: Int(st.rowsCommitted), failing: st.failingSince != nil)
        }
        let leases = leaseSync.map { ls in BridgeStatus.Leases(entries: ls.stats.entries, loaded: ls.stats.loaded, listening: ls.isListening) }
        return BridgeStatus(instance: cfg.instance, version: BuildStamp.version, commit: BuildStamp.commit,
                            uptimeSeconds: Double(monoNow &- startedAtMonotonic) / 1e9, stage: stageName, ready: r.ready, readiness: r.detail,
                            logLevel: logLevel.rawValue, adminEnabled: adminEnabled, carriers: out.sorted { $0.name < $1.name },
                            writer: writerStatus, leases: leases, reassemblyPending: reassembler.pendingCount)
    }

    /// Stops taking messages, waits for in-flight acks, drains the writer.
    package func shutdown() {
        setStage("stopping")
        let all = lock.withLock { Array(carriers.values) }
        let group = DispatchGroup()
        for e in all {
            group.enter()
            e.binds.shutdown(deadline: config.shutdownGraceSeconds) { group.leave() }
        }
        _ = group.wait(timeout: .now() + config.shutdownGraceSeconds + 2)
        multipart.stop()
        writer?.stop(timeout: config.shutdownGraceSeconds)
        leaseSync?.stop()
        setStage("stopped")
        logger.info("stopped", metadata: ["rows_committed": "\(writer?.stats.rowsCommitted ?? 0)"])
    }

    private func pipeline(_ carrier: String) -> MessagePipeline? { lock.withLock { carriers[carrier]?.pipeline } }

    package static let reconnectReasons = ["connect_failed", "peer_closed", "read_error", "write_error", "framing", "tls", "write_stalled"]

    private func installCollectors() {
        metrics.addCollector { [weak self] r in
            guard let self else { return }
            let entries = self.lock.withLock { Array(self.carriers.values) }
            // Series read from the sessions are rebuilt at every scrape, so a removed bind's go with it.
            for g in [M.bindState, M.bindStateInfo, M.window, M.unacked, M.lastDeliverSM, M.backpressure, M.reconnects,
                      M.pdusReceived, M.pdusSent] { r.reset(g) }
            let monoNow = Clock.monotonicNanos(), wallNow = Double(Clock.wallMillis()) / 1000
            for e in entries {
                // A carrier silent since start counts from the start: its alert can fire without any message ever.
                var last = self.startedAtMonotonic
                for s in e.binds.sessions {
                    let st = s.snapshot
                    let l = [("carrier", e.config.name), ("bind", s.config.name)]
                    r.set(M.bindState, l, st.state == .bound ? 1 : 0)
                    r.set(M.bindStateInfo, l + [("state", st.state.rawValue)], 1)
                    r.set(M.window, l, Double(st.windowInUse))
                    r.set(M.unacked, l, Double(st.unackedInbound))
                    r.set(M.backpressure, l, Double(st.backpressurePauses))
                    // The usual reasons exist at 0 from the start, so increase() sees the first one.
                    for reason in Self.reconnectReasons where st.reconnectReasons[reason] == nil { r.set(M.reconnects, l + [("reason", reason)], 0) }
                    for (reason, n) in st.reconnectReasons { r.set(M.reconnects, l + [("reason", reason)], Double(n)) }
                    r.set(M.pdusReceived, l, Double(st.pdusIn))
                    r.set(M.pdusSent, l, Double(st.pdusOut))
                    if let t = st.lastDeliverSMAt { last = max(last, t) }
                    r.set(M.pdusOut, l + [("command", "generic_nack"), ("status", "error")], Double(st.genericNacksSent))
                    r.set(M.pdusOut, l + [("command", "enquire_link"), ("status", "ESME_ROK")], Double(st.enquireLinksSent))
                }
                r.set(M.lastDeliverSM, [("carrier", e.config.name)], wallNow - Double(monoNow &- last) / 1e9)
            }
            r.set(M.reassemblyPending, [], Double(self.reassembler.pendingCount))
            r.set(M.reassemblyHeld, [], Double(self.reassembler.heldRedeliveries))
            r.set(M.reassemblyEvicted, [], Double(self.reassembler.evictedCount))
            if let w = self.writer {
                r.set(M.queueDepth, [], Double(w.queueDepth))
                let st = w.stats
                r.set(M.dbReconnects, [], Double(st.reconnects))
                r.set(M.dbDedupRetries, [], Double(st.dedupRetries))
                r.reset(M.dbServer)
                if let server = st.server { r.set(M.dbServer, [("server", server), ("role", st.serverInRecovery ? "standby" : "primary")], 1) }
                if let at = st.lastCommitAt {
                    r.set(M.dbLastCommit, [], wallNow - Double(monoNow &- at) / 1e9)
                }
            }
            if let ls = self.leaseSync {
                let st = ls.stats
                r.set(M.leaseEntries, [], Double(st.entries))
                r.set(M.leaseLoaded, [], st.loaded ? 1 : 0)
                r.set(M.leaseReconcileCorrections, [], Double(st.reconcileCorrections))
                r.set(M.leaseReconciles, [], Double(st.reconciles))
                r.set(M.leaseFullLoads, [], Double(st.fullLoads))
            }
            r.set(M.ready, [], self.isReady ? 1 : 0)
        }
    }
}

/// Writer batches into histograms; failures into a counter and the log (PostgreSQL's
/// message never holds the connection string).
package final class WriterMetrics: WriterObserver, @unchecked Sendable {
    package let metrics: MetricsRegistry
    package let logger: Logger
    package init(metrics: MetricsRegistry, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
        for kind in ["connection", "statement"] { _ = metrics.counter(M.dbFailures, [("kind", kind)]) }
    }
    package func writer(committed rows: Int, duplicates: Int, commitMicros: Int) {
        metrics.observe(M.batchSize, [], Double(rows))
        metrics.observe(M.commitLatency, [], Double(commitMicros) / 1e6)
    }
    package func writerFailed(_ error: PostgresError) {
        metrics.inc(M.dbFailures, [("kind", error.isConnectionFailure ? "connection" : "statement")])
        logger.error("database batch failed", metadata: ["error": "\(error.description)"])
    }
}
