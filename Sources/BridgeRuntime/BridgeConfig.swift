import Foundation
package import Routing
package import SMPPSession
package import SMPPWire
import Store
package import TOMLKit

/// A config problem, naming the file, the field (its TOML path) and what is wrong.
/// Never carries a secret's value.
package struct ConfigError: Error, CustomStringConvertible, Equatable {
    package var file: String
    package var field: String
    package var problem: String
    package var description: String { "\(file): \(field): \(problem)" }
}

/// One carrier (an SMSC or aggregator) and how to bind to it.
package struct CarrierConfig: Equatable, Sendable {
    package var name: String
    package var host: String
    package var port: Int
    package var systemID: String
    /// Where the password comes from: `password_env` or `password_file`. The value is
    /// read at start and on reload, never printed.
    package var passwordSource: SecretSource
    package var systemType = ""
    package var bindType: BindType = .receiver
    package var binds = 1
    package var enquireLinkSeconds: Double = 30
    package var responseTimeoutSeconds: Double = 10
    package var window = 64
    package var maxUnacked = 256
    package var addressRange = ""
    package var numberPlan = "UK"
    /// What data_coding 0 means on this carrier's link (SMPP 3.4 leaves it to the SMSC).
    package var defaultAlphabet: SMSCDefaultAlphabet = .gsm7
    /// Address prefixes rewritten before the number plan applies (Kannel's unified-prefix form).
    package var unifiedPrefix: UnifiedPrefix?
    package var tls: TLSConfig?

    package static let plans: [String: NumberPlan] = [
        "UK": .uk, "DE": .germany, "RU": .russia, "US": .usa, "BR": .brazil, "IN": .india, "AE": .uae, "CN": .china,
    ]
    package var plan: NumberPlan { Self.plans[numberPlan] ?? .uk }
    package var profile: CarrierProfile {
        CarrierProfile(name: name, plan: plan, text: TextOptions(smscDefaultAlphabet: defaultAlphabet), unifiedPrefix: unifiedPrefix)
    }
}

package enum SecretSource: Equatable, Sendable {
    case env(String)
    case file(String)

    package var describe: String {
        switch self {
        case .env(let v): "env \(v)"
        case .file(let f): "file \(f)"
        }
    }

    package func read() throws -> String {
        switch self {
        case .env(let name):
            guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
                throw SecretError(message: "environment variable \(name) is not set")
            }
            return v
        case .file(let path):
            guard let v = try? String(contentsOfFile: path, encoding: .utf8) else { throw SecretError(message: "cannot read \(path)") }
            return v.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

package struct SecretError: Error, CustomStringConvertible { package var message: String; package var description: String { message } }

package enum LogFormat: String, Sendable { case json, logfmt }

/// The whole `bridge.toml`. Every field is documented in docs/configuration.md.
package struct BridgeConfig: Equatable, Sendable {
    package var file = "<defaults>"
    // [bridge]
    package var instance = "bridge-1"
    package var logLevel = "info"
    package var logFormat: LogFormat = .json
    /// Show full numbers and codes in logs, tail and errors (off by default).
    package var revealSensitive = false
    package var shutdownGraceSeconds: Double = 10
    // [database]
    package var databaseURL: SecretSource = .env("BRIDGE_DATABASE_URL")
    package var batchMaxRows = 1000
    package var batchTargetRows = 64
    package var batchMaxWaitMillis: Double = 2
    package var batchMaxBytes = 1 << 20
    package var commitDeadlineMillis: Double = 10_000
    package var writerConnections = 2
    package var statementTimeoutMillis = 30_000
    package var applyMigrations = false
    /// Accept a remote database reached without certificate verification (logged at every start).
    package var allowUnverifiedTLS = false
    // [metrics]
    package var metricsListen = "127.0.0.1:9464"
    package var metricsAllowNonLoopback = false
    // [admin]
    /// The admin actions' token (`token_file` or `token_env`); admin actions are off without it.
    package var adminToken: SecretSource?
    // [routing]
    package var reassemblyTimeoutSeconds: Double = 120
    package var reassemblyMaxBytes = 64 << 20
    /// One carrier's share of it; past it, that carrier's own oldest message is given up.
    package var reassemblyMaxBytesPerCarrier = 32 << 20
    package var leaseReconcileSeconds: Double = 300
    /// How long after its first receipt a message is a redelivery target (docs/operations.md).
    package var dedupWindowSeconds = BatchWriter.Config.defaultDedupWindowSeconds
    /// How far back a newly applied lease claims unmatched messages (late matching).
    package var lateMatchLookbackSeconds = 900
    package var otpRulesFile: String?
    // [[carrier]]
    package var carriers: [CarrierConfig] = []

    package var metricsHost: String { String(metricsListen.split(separator: ":").dropLast().joined(separator: ":")).trimmingCharacters(in: CharacterSet(charactersIn: "[]")) }
    package var metricsPort: Int { Int(metricsListen.split(separator: ":").last ?? "") ?? 9464 }
}

/// Reads and validates `bridge.toml`: every key known, every value checked, and an
/// error that names the file and the field. Environment variables override the
/// file: `BRIDGE_<SECTION>_<KEY>` (e.g. `BRIDGE_DATABASE_BATCH_MAX_ROWS=500`) and
/// `BRIDGE_CARRIER_<NAME>_<KEY>` for a carrier (name upper-cased, `-` as `_`).
package enum ConfigLoader {
    package static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BridgeConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(file: path, field: "-", problem: "cannot read the file")
        }
        return try parse(text, file: path, environment: environment)
    }

    package static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> BridgeConfig {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError(file: file, field: "line \(e.source.begin.line), column \(e.source.begin.column)", problem: "TOML syntax: \(e.description)")
        }
        let fromEnvironment = try mergeEnvironment(into: root, environment: environment, file: file)
        let r = Reader(file: file, env: environment, fromEnvironment: fromEnvironment)
        var c = BridgeConfig()
        c.file = file
        try r.keys(root, "", allowed: ["bridge", "database", "metrics", "admin", "routing", "carrier"])
        if let t = try r.table(root, "bridge") {
            try r.keys(t, "bridge", allowed: ["instance", "log_level", "log_format", "reveal_sensitive", "shutdown_grace_s"])
            c.instance = try r.string(t, "bridge", "instance") ?? c.instance
            c.logLevel = try r.string(t, "bridge", "log_level", oneOf: ["trace", "debug", "info", "notice", "warning", "error", "critical"]) ?? c.logLevel
            if let f = try r.string(t, "bridge", "log_format", oneOf: ["json", "logfmt"]) { c.logFormat = LogFormat(rawValue: f)! }
            c.revealSensitive = try r.bool(t, "bridge", "reveal_sensitive") ?? c.revealSensitive
            c.shutdownGraceSeconds = try r.double(t, "bridge", "shutdown_grace_s", range: 0...300) ?? c.shutdownGraceSeconds
        }
        if let t = try r.table(root, "database") {
            try r.keys(t, "database", allowed: ["url_env", "url_file", "batch_max_rows", "batch_target_rows", "batch_max_wait_ms", "batch_max_bytes", "commit_deadline_ms",
                                               "connections", "statement_timeout_ms", "apply_migrations", "allow_unverified_tls"])
            c.databaseURL = try r.secret(t, "database", "url") ?? c.databaseURL
            c.batchMaxRows = try r.int(t, "database", "batch_max_rows", range: 1...10_000) ?? c.batchMaxRows
            c.batchTargetRows = try r.int(t, "database", "batch_target_rows", range: 1...10_000) ?? c.batchTargetRows
            c.batchMaxWaitMillis = try r.double(t, "database", "batch_max_wait_ms", range: 0...1000) ?? c.batchMaxWaitMillis
            c.batchMaxBytes = try r.int(t, "database", "batch_max_bytes", range: 4096...(64 << 20)) ?? c.batchMaxBytes
            c.commitDeadlineMillis = try r.double(t, "database", "commit_deadline_ms", range: 100...600_000) ?? c.commitDeadlineMillis
            c.writerConnections = try r.int(t, "database", "connections", range: 1...16) ?? c.writerConnections
            c.statementTimeoutMillis = try r.int(t, "database", "statement_timeout_ms", range: 100...600_000) ?? c.statementTimeoutMillis
            c.applyMigrations = try r.bool(t, "database", "apply_migrations") ?? c.applyMigrations
            c.allowUnverifiedTLS = try r.bool(t, "database", "allow_unverified_tls") ?? c.allowUnverifiedTLS
        }
        if let t = try r.table(root, "metrics") {
            try r.keys(t, "metrics", allowed: ["listen", "allow_non_loopback"])
            c.metricsListen = try r.string(t, "metrics", "listen") ?? c.metricsListen
            c.metricsAllowNonLoopback = try r.bool(t, "metrics", "allow_non_loopback") ?? c.metricsAllowNonLoopback
        }
        try validateListen(&c, file: file)
        if let t = try r.table(root, "admin") {
            try r.keys(t, "admin", allowed: ["token_file", "token_env"])
            c.adminToken = try r.secret(t, "admin", "token")
        }
        if let t = try r.table(root, "routing") {
            try r.keys(t, "routing", allowed: ["reassembly_timeout_s", "reassembly_max_bytes", "reassembly_max_bytes_per_carrier", "lease_reconcile_s", "otp_rules_file",
                                              "dedup_window_s", "late_match_lookback_s"])
            c.reassemblyTimeoutSeconds = try r.double(t, "routing", "reassembly_timeout_s", range: 1...86_400) ?? c.reassemblyTimeoutSeconds
            c.reassemblyMaxBytes = try r.int(t, "routing", "reassembly_max_bytes", range: 1 << 16...1 << 34) ?? c.reassemblyMaxBytes
            c.reassemblyMaxBytesPerCarrier = try r.int(t, "routing", "reassembly_max_bytes_per_carrier", range: 1 << 16...1 << 34)
                ?? min(c.reassemblyMaxBytesPerCarrier, c.reassemblyMaxBytes)
            c.leaseReconcileSeconds = try r.double(t, "routing", "lease_reconcile_s", range: 5...86_400) ?? c.leaseReconcileSeconds
            c.otpRulesFile = try r.string(t, "routing", "otp_rules_file")
            c.dedupWindowSeconds = try r.int(t, "routing", "dedup_window_s", range: 1...604_800) ?? c.dedupWindowSeconds
            c.lateMatchLookbackSeconds = try r.int(t, "routing", "late_match_lookback_s", range: 0...86_400) ?? c.lateMatchLookbackSeconds
            if let f = c.otpRulesFile, !FileManager.default.isReadableFile(atPath: f) {
                throw ConfigError(file: file, field: "routing.otp_rules_file", problem: "cannot read \(f)")
            }
        }
        if let v = root["carrier"] {
            guard let list = v.array else { throw ConfigError(file: file, field: "carrier", problem: "expected [[carrier]] tables") }
            for (i, item) in list.enumerated() {
                guard let t = item.table else { throw ConfigError(file: file, field: "carrier[\(i)]", problem: "expected a table") }
                c.carriers.append(try r.carrier(t, index: i))
            }
        }
        var names = Set<String>()
        for (i, carrier) in c.carriers.enumerated() where !names.insert(carrier.name).inserted {
            throw ConfigError(file: file, field: "carrier[\(i)].name", problem: "duplicate carrier name \"\(carrier.name)\"")
        }
        // A carrier override must name a configured carrier: a misspelt one would be ignored.
        let prefixes = c.carriers.map { "BRIDGE_CARRIER_\($0.name.uppercased().replacingOccurrences(of: "-", with: "_"))_" }
        for k in environment.keys.sorted() where k.hasPrefix("BRIDGE_CARRIER_") && !prefixes.contains(where: { k.hasPrefix($0) }) {
            throw ConfigError(file: file, field: k, problem: "no configured carrier matches (carriers: \(c.carriers.map(\.name).joined(separator: ", ")))")
        }
        return c
    }

    /// `BRIDGE_<SECTION>_<KEY>` become part of the document before it is read, so an
    /// override gets exactly the file's parsing, range checks and unknown-key errors
    /// (an error names the variable). Any other `BRIDGE_` name is an error, so a
    /// misspelt one is never silently ignored. `BRIDGE_DATABASE_URL` is the database
    /// URL's default place, not an override; `BRIDGE_CARRIER_…` are read per carrier.
    package static func mergeEnvironment(into root: TOMLTable, environment: [String: String], file: String) throws -> Set<String> {
        let sections = ["bridge", "database", "metrics", "admin", "routing"]
        var merged: Set<String> = []
        for (k, v) in environment.sorted(by: { $0.key < $1.key }) where k.hasPrefix("BRIDGE_") {
            if k == "BRIDGE_DATABASE_URL" || k.hasPrefix("BRIDGE_CARRIER_") { continue }
            let rest = k.dropFirst("BRIDGE_".count).lowercased()
            guard let section = sections.first(where: { rest.hasPrefix($0 + "_") }) else {
                throw ConfigError(file: file, field: k, problem: "unknown environment override: expected BRIDGE_<SECTION>_<KEY> with a section of \(sections.joined(separator: ", ")), or BRIDGE_CARRIER_<NAME>_<KEY>")
            }
            let key = String(rest.dropFirst(section.count + 1))
            if root[section] == nil { root[section] = TOMLTable() }
            guard let table = root[section]?.table else {
                throw ConfigError(file: file, field: section, problem: "expected a table [\(section)]")
            }
            if let i = Int(v) { table[key] = i } else if v.contains("."), let d = Double(v) { table[key] = d } else { table[key] = v }
            merged.insert("\(section).\(key)")
        }
        return merged
    }

    package static func validateListen(_ c: inout BridgeConfig, file: String) throws {
        let parts = c.metricsListen.split(separator: ":")
        guard parts.count >= 2, let port = Int(parts.last!), (0...65535).contains(port) else {
            throw ConfigError(file: file, field: "metrics.listen", problem: "expected host:port, got \"\(c.metricsListen)\"")
        }
        let host = c.metricsHost
        let loopback = host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.")
        if !loopback && !c.metricsAllowNonLoopback {
            throw ConfigError(file: file, field: "metrics.listen",
                              problem: "\(host) is not a loopback address; set metrics.allow_non_loopback = true to expose metrics beyond this host")
        }
    }

    /// Typed access with errors naming the field.
    package struct Reader {
        package var file: String
        package var env: [String: String]
        /// Fields whose value came from the environment (`mergeEnvironment`).
        package var fromEnvironment: Set<String> = []

        package func fail(_ field: String, _ problem: String) -> ConfigError {
            guard fromEnvironment.contains(field) else { return ConfigError(file: file, field: field, problem: problem) }
            return ConfigError(file: file, field: "\(field) (from BRIDGE_\(field.uppercased().replacingOccurrences(of: ".", with: "_")))", problem: problem)
        }
        package func path(_ section: String, _ key: String) -> String { section.isEmpty ? key : "\(section).\(key)" }

        package func keys(_ t: TOMLTable, _ section: String, allowed: Set<String>) throws {
            for k in t.keys.sorted() where !allowed.contains(k) {
                throw fail(path(section, k), "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }

        package func table(_ t: TOMLTable, _ key: String) throws -> TOMLTable? {
            guard let v = t[key] else { return nil }
            guard let tt = v.table else { throw fail(key, "expected a table [\(key)]") }
            return tt
        }

        package func string(_ t: TOMLTable, _ section: String, _ key: String, oneOf: [String]? = nil) throws -> String? {
            guard let v = t[key] else { return nil }
            // From the environment every value is text: a number there is a string here.
            let fromEnv = fromEnvironment.contains(path(section, key))
            guard let s = v.string ?? (fromEnv ? v.int.map(String.init) ?? v.double.map { String($0) } : nil) else {
                throw fail(path(section, key), "expected a string")
            }
            if let oneOf, !oneOf.contains(s) { throw fail(path(section, key), "\"\(s)\" is not one of \(oneOf.joined(separator: ", "))") }
            return s
        }

        package func bool(_ t: TOMLTable, _ section: String, _ key: String) throws -> Bool? {
            guard let v = t[key] else { return nil }
            if let b = v.bool { return b }
            if fromEnvironment.contains(path(section, key)) {
                switch v.string?.lowercased() ?? v.int.map(String.init) {
                case "true", "yes", "1": return true
                case "false", "no", "0": return false
                default: break
                }
            }
            throw fail(path(section, key), "expected true or false")
        }

        package func int(_ t: TOMLTable, _ section: String, _ key: String, range: ClosedRange<Int>) throws -> Int? {
            guard let v = t[key] else { return nil }
            guard let i = v.int else { throw fail(path(section, key), "expected an integer") }
            guard range.contains(i) else { throw fail(path(section, key), "\(i) is out of range \(range.lowerBound)…\(range.upperBound)") }
            return i
        }

        package func double(_ t: TOMLTable, _ section: String, _ key: String, range: ClosedRange<Double>) throws -> Double? {
            guard let v = t[key] else { return nil }
            guard let d = v.double ?? v.int.map(Double.init) else { throw fail(path(section, key), "expected a number") }
            guard range.contains(d) else { throw fail(path(section, key), "\(d) is out of range \(range.lowerBound)…\(range.upperBound)") }
            return d
        }

        /// `<key>_env` or `<key>_file`, exactly one; a literal secret in the file is refused.
        package func secret(_ t: TOMLTable, _ section: String, _ key: String) throws -> SecretSource? {
            let e = try string(t, section, key + "_env"), f = try string(t, section, key + "_file")
            if e != nil && f != nil { throw fail(path(section, key + "_env"), "set \(key)_env or \(key)_file, not both") }
            if let e { return .env(e) }
            if let f { return .file(f) }
            return nil
        }

        static package let carrierKeys: Set<String> = [
            "name", "host", "port", "system_id", "password_env", "password_file", "system_type", "bind_type", "binds",
            "enquire_link_s", "response_timeout_s", "window", "max_unacked", "address_range", "number_plan", "tls",
            "default_alphabet", "unified_prefix",
        ]

        package func carrier(_ t: TOMLTable, index i: Int) throws -> CarrierConfig {
            let s = "carrier[\(i)]"
            try keys(t, s, allowed: Self.carrierKeys)
            guard let name = try string(t, s, "name") else { throw fail("\(s).name", "required") }
            guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"#, options: .regularExpression) != nil else {
                throw fail("\(s).name", "use letters, digits, - and _ (up to 40), got \"\(name)\"")
            }
            let sec = "carrier[\(i)] (\(name))"
            var ov: [String: String] = [:]
            let prefix = "BRIDGE_CARRIER_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))_"
            for (k, v) in env where k.hasPrefix(prefix) { ov[String(k.dropFirst(prefix.count)).lowercased()] = v }
            for k in ov.keys where !Self.carrierKeys.contains(k) || k == "tls" || k == "name" {
                throw fail("\(sec).\(k) (from \(prefix)\(k.uppercased()))", "unknown setting")
            }
            func str(_ k: String) throws -> String? { try ov[k] ?? string(t, sec, k) }
            func integer(_ k: String, _ range: ClosedRange<Int>) throws -> Int? {
                if let v = ov[k] {
                    guard let x = Int(v), range.contains(x) else { throw fail("\(sec).\(k) (from environment)", "expected an integer in \(range)") }
                    return x
                }
                return try int(t, sec, k, range: range)
            }
            func number(_ k: String, _ range: ClosedRange<Double>) throws -> Double? {
                if let v = ov[k] {
                    guard let x = Double(v), range.contains(x) else { throw fail("\(sec).\(k) (from environment)", "expected a number in \(range)") }
                    return x
                }
                return try double(t, sec, k, range: range)
            }
            guard let host = try str("host"), !host.isEmpty else { throw fail("\(sec).host", "required") }
            guard let port = try integer("port", 1...65535) else { throw fail("\(sec).port", "required") }
            guard let systemID = try str("system_id"), !systemID.isEmpty else { throw fail("\(sec).system_id", "required") }
            guard systemID.utf8.count <= 15 else { throw fail("\(sec).system_id", "at most 15 characters (SMPP 3.4 system_id)") }
            let pe = try str("password_env"), pf = try str("password_file")
            let source: SecretSource
            switch (pe, pf) {
            case (let e?, nil): source = .env(e)
            case (nil, let f?): source = .file(f)
            case (nil, nil): throw fail("\(sec).password_env", "required: the name of an environment variable (or password_file) holding the password")
            default: throw fail("\(sec).password_env", "set password_env or password_file, not both")
            }
            var c = CarrierConfig(name: name, host: host, port: port, systemID: systemID, passwordSource: source)
            c.systemType = try str("system_type") ?? ""
            guard c.systemType.utf8.count <= 12 else { throw fail("\(sec).system_type", "at most 12 characters") }
            if let b = try str("bind_type") {
                guard let bt = BindType(rawValue: b), bt != .transmitter else {
                    throw fail("\(sec).bind_type", "expected receiver or transceiver, got \"\(b)\" (the bridge only receives)")
                }
                c.bindType = bt
            }
            c.binds = try integer("binds", 1...64) ?? c.binds
            c.enquireLinkSeconds = try number("enquire_link_s", 1...3600) ?? c.enquireLinkSeconds
            c.responseTimeoutSeconds = try number("response_timeout_s", 0.5...600) ?? c.responseTimeoutSeconds
            c.window = try integer("window", 1...1024) ?? c.window
            c.maxUnacked = try integer("max_unacked", 1...100_000) ?? c.maxUnacked
            c.addressRange = try str("address_range") ?? ""
            if let p = try str("number_plan") {
                guard CarrierConfig.plans[p] != nil else {
                    throw fail("\(sec).number_plan", "\"\(p)\" is not one of \(CarrierConfig.plans.keys.sorted().joined(separator: ", "))")
                }
                c.numberPlan = p
            }
            if let a = try str("default_alphabet") {
                guard let alphabet = SMSCDefaultAlphabet(rawValue: a) else {
                    throw fail("\(sec).default_alphabet", "\"\(a)\" is not one of \(SMSCDefaultAlphabet.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                c.defaultAlphabet = alphabet
            }
            if let u = try str("unified_prefix") {
                guard let rule = UnifiedPrefix(u) else {
                    throw fail("\(sec).unified_prefix", "expected groups of replacement,prefix[,prefix...] separated by ; (e.g. \"+44,0044,0;+,00\"), got \"\(u)\"")
                }
                c.unifiedPrefix = rule
            }
            if let v = t["tls"] {
                guard let tt = v.table else { throw fail("\(sec).tls", "expected a table [carrier.tls]") }
                let ts = "\(sec).tls"
                try keys(tt, ts, allowed: ["enabled", "ca_file", "server_name", "cert_file", "key_file", "insecure"])
                if try bool(tt, ts, "enabled") ?? true {
                    var tls = TLSConfig(caFile: try string(tt, ts, "ca_file"), serverName: try string(tt, ts, "server_name"),
                                        certificateFile: try string(tt, ts, "cert_file"), keyFile: try string(tt, ts, "key_file"),
                                        insecure: try bool(tt, ts, "insecure") ?? false)
                    if let n = tls.serverName, n.trimmingCharacters(in: .whitespaces).isEmpty {
                        throw fail("\(ts).server_name", "empty: it would verify the chain and no name (leave it out to verify the host)")
                    }
                    if (tls.certificateFile == nil) != (tls.keyFile == nil) { throw fail("\(ts).cert_file", "cert_file and key_file go together (mutual TLS)") }
                    for (k, f) in [("ca_file", tls.caFile), ("cert_file", tls.certificateFile), ("key_file", tls.keyFile)] {
                        if let f, !FileManager.default.isReadableFile(atPath: f) { throw fail("\(ts).\(k)", "cannot read \(f)") }
                    }
                    if tls.serverName == nil { tls.serverName = nil }
                    c.tls = tls
                }
            }
            return c
        }
    }
}
