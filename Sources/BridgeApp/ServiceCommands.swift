import BridgeRuntime
import ArgumentParser
import Dispatch
import Foundation
import Primitives
import Logging
import SMPPWire
import Store

/// `smpp-bridge run --config bridge.toml`: the service.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the bridge: bind to the configured carriers, route and store every message.",
        discussion: """
            Signals:
              SIGTERM, SIGINT  stop taking messages, wait up to bridge.shutdown_grace_s for in-flight acks, flush the writer, exit 0
              SIGHUP           reload: OTP rules, carriers and their secrets (a carrier restarts only if its settings or secret changed)
            Exit codes:
              0  stopped by a signal, everything drained
              1  could not start (database, migrations, a carrier's secret), or failed while running
              2  configuration error: the message names the field (systemd's unit does not restart on it)
            Under systemd (Type=notify) it sends READY=1 once the binds are started and STOPPING=1 when it drains.
            """)
    @Option(help: "Config file (TOML). Environment variables BRIDGE_* override it.") var config: String

    func run() throws {
        let cfg: BridgeConfig
        do { cfg = try ConfigLoader.load(path: config) } catch let e as ConfigError {
            FileHandle.standardError.write(Data("smpp-bridge: config error: \(e)\n".utf8))
            throw ExitCode(2)
        }
        try BridgeRunner(config: cfg, configPath: config).runUntilSignalled()
    }
}

/// Wires the service, the metrics server and the signals. Nonisolated on purpose:
/// Dispatch handlers created in main-actor code trap when run on another queue.
final class BridgeRunner: @unchecked Sendable {
    let configPath: String?
    let service: BridgeService
    let logger: Logger
    let metricsServer: MetricsServer
    let logLevel: LogLevelBox
    /// SIGHUP and admin actions run here, one at a time: both start and stop carriers.
    private let control = DispatchQueue(label: "smpp.bridge.control")
    private var sources: [any DispatchSourceSignal] = []
    private let stopped = DispatchSemaphore(value: 0)
    /// The admin token (nil: admin actions off), read at start and on SIGHUP.
    private let adminToken: Locked<String?>

    init(config: BridgeConfig, configPath: String?, sink: LogSink = LogSink()) throws {
        self.configPath = configPath
        let levelBox = LogLevelBox(Logger.Level(config: config.logLevel))
        logLevel = levelBox
        let format = config.logFormat
        var l = Logger(label: "smpp-bridge") { label in LineLogHandler(label: label, format: format, level: levelBox, sink: sink) }
        l[metadataKey: "instance"] = "\(config.instance)"
        logger = l
        let token = Locked<String?>(try Self.readAdminToken(config))
        adminToken = token
        service = try BridgeService(config: config, logger: l)
        let svc = service, control = control
        let hooks = AdminHooks(
            token: { token.withLock { $0 } },
            status: { svc.status(logLevel: levelBox.level, adminEnabled: token.withLock { $0 } != nil) },
            check: { svc.adminCheck($0) },
            perform: { action, done in
                control.async {
                    switch action {
                    case .stopCarrier(let n): done(AdminResult(action: action.name, carrier: n, result: svc.adminStop(n)))
                    case .startCarrier(let n): done(AdminResult(action: action.name, carrier: n, result: svc.adminStart(n)))
                    case .restartCarrier(let n): done(AdminResult(action: action.name, carrier: n, result: svc.adminRestart(n)))
                    case .setLogLevel(let level):
                        let was = levelBox.level
                        levelBox.level = level
                        done(AdminResult(action: action.name, carrier: nil, result: "\(was.rawValue) -> \(level.rawValue)"))
                    }
                }
            })
        metricsServer = try MetricsServer(host: config.metricsHost, port: config.metricsPort, metrics: service.metrics, events: service.events,
                                          logger: l, admin: hooks, health: { svc.readiness })
        if config.adminToken != nil { l.notice("admin actions on (loopback only, token)", metadata: ["token": "\(config.adminToken!.describe)"]) }
    }

    /// The admin token from its file or variable; at least 16 characters, so that a placeholder is not a token.
    static func readAdminToken(_ config: BridgeConfig) throws -> String? {
        guard let source = config.adminToken else { return nil }
        let t: String
        do { t = try source.read() } catch { throw StartupError(description: "admin.token: \(error) (\(source.describe))") }
        guard t.count >= 16 else { throw StartupError(description: "admin.token: shorter than 16 characters (\(source.describe))") }
        return t
    }

    /// Metrics first (health and readiness answer during start-up), then the start order.
    func start() throws {
        let server = metricsServer
        let log = logger
        Task.detached {
            do { try await server.run() } catch is CancellationError {} catch {
                log.critical("metrics server failed", metadata: ["error": "\(error)"])
            }
        }
        let ready = DispatchSemaphore(value: 0)
        Task.detached {
            try? await server.waitUntilListening()
            ready.signal()
        }
        _ = ready.wait(timeout: .now() + 10)
        logger.info("metrics listening", metadata: ["address": "\(metricsServer.host):\(metricsServer.port)"])
        try service.start()
        SystemdNotify.send("READY=1\nSTATUS=binds started")
    }

    func stop() {
        SystemdNotify.send("STOPPING=1\nSTATUS=draining in-flight acks")
        service.shutdown()
        let done = DispatchSemaphore(value: 0)
        let server = metricsServer
        Task.detached {
            await server.stop()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 3)
    }

    func runUntilSignalled() throws {
        for s in [SIGTERM, SIGINT, SIGHUP] { signal(s, SIG_IGN) }
        installSignals()
        do { try start() } catch {
            logger.critical("start failed", metadata: ["error": "\(error)"])
            service.shutdown()
            throw ExitCode(1)
        }
        stopped.wait()
        stop()
    }

    private func installSignals() {
        for sig in [SIGTERM, SIGINT] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: control)
            s.setEventHandler { [weak self] in
                self?.logger.notice("signal: shutting down", metadata: ["signal": "\(sig == SIGTERM ? "SIGTERM" : "SIGINT")"])
                self?.stopped.signal()
            }
            s.resume()
            sources.append(s)
        }
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: control)
        hup.setEventHandler { [weak self] in self?.reload() }
        hup.resume()
        sources.append(hup)
    }

    func reload() {
        guard let path = configPath else { return }
        SystemdNotify.send("RELOADING=1")
        defer { SystemdNotify.send("READY=1") }
        let now = Double(Clock.wallMillis()) / 1000
        do {
            let new = try ConfigLoader.load(path: path)
            let token = try Self.readAdminToken(new)  // a rotated token takes effect; an unreadable one refuses the reload
            let r = try service.reload(new)
            adminToken.withLock { $0 = token }
            service.metrics.set(M.reloadSuccess, [], r.failed.isEmpty ? 1 : 0)
        } catch {
            service.metrics.set(M.reloadSuccess, [], 0)
            logger.error("reload refused: the running config stays", metadata: ["error": "\(error)"])
        }
        service.metrics.set(M.reloadTimestamp, [], now)
    }
}

/// `smpp-bridge check-config`: validates without connecting to anything.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a config file (and BRIDGE_* overrides) without connecting.")
    @Option(help: "Config file (TOML).") var config: String

    func run() throws {
        let c: BridgeConfig
        do { c = try ConfigLoader.load(path: config) } catch let e as ConfigError {
            print("config error: \(e)")
            throw ExitCode(2)
        }
        var warnings: [String] = []
        if let url = try? c.databaseURL.read() {
            if let w = PostgresTLSPolicy(conninfo: url)?.warning {
                if !c.allowUnverifiedTLS {
                    print("config error: database.url: \(w) (or set database.allow_unverified_tls = true)")
                    throw ExitCode(2)
                }
                warnings.append("database.url: \(w) (allowed by database.allow_unverified_tls)")
            }
        } else {
            warnings.append("database.url: \(c.databaseURL.describe) is not readable here (needed at run time)")
        }
        for k in c.carriers where (try? k.passwordSource.read()) == nil {
            warnings.append("carrier \(k.name): password \(k.passwordSource.describe) is not readable here (needed at run time)")
        }
        for k in c.carriers where k.tls?.insecure == true { warnings.append("carrier \(k.name): TLS certificate verification is OFF (tls.insecure = true)") }
        if c.revealSensitive { warnings.append("bridge.reveal_sensitive = true: numbers and codes appear unmasked in logs and tail") }
        if c.adminToken != nil, case .failure(let e) = Result(catching: { try BridgeRunner.readAdminToken(c) }) {
            warnings.append("\(e) (needed at run time)")
        }
        print("\(config): ok")
        print("  instance \(c.instance), log \(c.logLevel)/\(c.logFormat.rawValue), metrics on \(c.metricsListen)"
            + ", admin actions \(c.adminToken.map { "on (token from \($0.describe), loopback only)" } ?? "off")")
        print("  database: url from \(c.databaseURL.describe), batches go at \(min(c.batchTargetRows, c.batchMaxRows)) rows or \(c.batchMaxWaitMillis) ms, ≤ \(c.batchMaxRows) rows, \(c.writerConnections) connections, deadline \(Int(c.commitDeadlineMillis)) ms")
        for k in c.carriers {
            print("  carrier \(k.name): \(k.host):\(k.port) as \(k.systemID), \(k.binds)× \(k.bindType.rawValue), window \(k.window), tls \(k.tls == nil ? "off" : (k.tls!.insecure ? "on (NOT verified)" : "on (verified)")), password from \(k.passwordSource.describe), plan \(k.numberPlan)"
                + (k.unifiedPrefix.map { ", unified_prefix \($0)" } ?? "") + (k.defaultAlphabet == .gsm7 ? "" : ", data_coding 0 is \(k.defaultAlphabet.rawValue)"))
        }
        for w in warnings { print("warning: \(w)") }
    }
}
