import BridgeRuntime
import ArgumentParser
import Foundation

/// `smpp-bridge top`: a live view of a running bridge: its state from /status, rates and
/// latencies from two /metrics.json samples, recent events from /events.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Live view of a running bridge: binds, outcomes, latency, database, leases, recent events.")
    @Option(help: "The bridge's metrics address.") var url = "http://127.0.0.1:9464"
    @Option(help: "Seconds between refreshes (rates are over this interval).") var interval: Double = 2
    @Flag(help: "Print one snapshot (two samples, one interval apart) and exit.") var once = false
    @Option(help: "Recent routing events shown.") var events = 5

    func validate() throws {
        if interval < 0.1 { throw ValidationError("--interval must be at least 0.1 s") }
        if !(0...200).contains(events) { throw ValidationError("--events: expected 0 to 200 (the bridge keeps the last 200)") }
    }

    func run() throws {
        let fancy = !once && isatty(STDOUT_FILENO) == 1 && (ProcessInfo.processInfo.environment["TERM"] ?? "dumb") != "dumb"
        var previous: MetricsSnapshot
        do { previous = try fetch() } catch {
            FileHandle.standardError.write(Data("smpp-bridge top: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var last = Date()
        while true {
            Thread.sleep(forTimeInterval: interval)
            let current: MetricsSnapshot
            do { current = try fetch() } catch {
                if once { FileHandle.standardError.write(Data("smpp-bridge top: \(error)\n".utf8)); throw ExitCode(1) }
                print("smpp-bridge top: \(error); retrying")
                continue
            }
            let now = Date()
            let recent = (try? BridgeHTTP.request(url, path: "/events?recent=\(events)").body).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let status = (try? BridgeHTTP.request(url, path: "/status")).flatMap { r in
                r.status == 200 ? try? BridgeStatus.decoder.decode(BridgeStatus.self, from: r.body) : nil
            }
            let view = TopView(previous: previous, current: current, seconds: now.timeIntervalSince(last),
                               events: recent.split(separator: "\n").map(String.init), status: status)
            let text = view.render(url: url)
            writeOut(fancy ? "\u{1B}[H\u{1B}[2J" + text : text + "\n")
            if once { return }
            previous = current
            last = now
        }
    }

    func fetch() throws -> MetricsSnapshot {
        let r = try BridgeHTTP.request(url, path: "/metrics.json")
        guard r.status == 200 else { throw BridgeHTTP.Failure(description: "/metrics.json answered \(r.status)") }
        return try JSONDecoder().decode(MetricsSnapshot.self, from: r.body)
    }
}

/// Rates and quantiles from two samples of the bridge's series.
struct TopView {
    var previous: MetricsSnapshot
    var current: MetricsSnapshot
    var seconds: Double
    var events: [String]
    /// The bridge's /status (nil from a bridge too old to serve it: the view falls back to the series alone).
    var status: BridgeStatus? = nil

    func delta(_ name: String, _ match: [String: String] = [:]) -> Double {
        max(0, current.sum(name, match) - previous.sum(name, match))
    }

    /// A histogram's count and sum over the interval.
    func histogramDelta(_ name: String) -> (count: Double, sum: Double) {
        let c = current.histogramTotals(name), p = previous.histogramTotals(name)
        return (max(0, c.count - p.count), max(0, c.sum - p.sum))
    }

    /// A quantile over the interval, interpolated inside the bucket.
    func quantile(_ name: String, _ match: [String: String], _ q: Double) -> Double? {
        let cur = current.buckets(name, match)
        let prev = Dictionary(previous.buckets(name, match).map { ($0.le, $0.count) }, uniquingKeysWith: +)
        let d = cur.map { ($0.le, $0.count - (prev[$0.le] ?? 0)) }
        guard let total = d.last?.1, total > 0 else { return nil }
        let target = q * total
        var lower = 0.0, below = 0.0
        for (le, cum) in d {
            if cum >= target {
                if le.isInfinite { return lower }
                let inBucket = cum - below
                return inBucket > 0 ? lower + (le - lower) * (target - below) / inBucket : le
            }
            lower = le.isInfinite ? lower : le
            below = cum
        }
        return lower
    }

    func ms(_ v: Double?) -> String { v.map { String(format: "%.2f ms", $0 * 1000) } ?? "-" }

    func render(url: String) -> String {
        var out = "smpp-bridge top — \(url) — every \(String(format: "%.1f", seconds)) s\n"
        if let s = status {
            out += "ready: \(s.ready ? "yes" : "NO") (\(s.readiness))\n"
            out += "\(s.instance), version \(s.version), up \(Int(s.uptimeSeconds)) s, log \(s.logLevel)\n\n"
        } else {
            out += "ready: \(current.sum(M.ready) == 1 ? "yes" : "NO")\n\n"
        }
        out += "BINDS\n"
        out += pad("carrier", 16) + pad("bind", 20) + pad("state", 12) + pad("msgs/s", 10) + pad("ack p50", 11) + pad("ack p99", 11) + pad("window", 8) + "unacked\n"
        // The binds and their state from /status; from /metrics when there is none.
        let binds: [(carrier: String, bind: String, state: String, window: Int, unacked: Int)] = status.map { s in
            s.carriers.flatMap { c in c.binds.map { (c.name, $0.name, $0.state, $0.windowInUse, $0.unackedInbound) } }
        } ?? current.series(M.bindState).map { x in
            let l = ["carrier": x.labels["carrier"] ?? "", "bind": x.labels["bind"] ?? ""]
            return (l["carrier"]!, l["bind"]!, current.series(M.bindStateInfo, l).first { $0.value == 1 }?.labels["state"] ?? "?",
                    Int(current.sum(M.window, l)), Int(current.sum(M.unacked, l)))
        }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        for b in binds {
            let l = ["carrier": b.carrier, "bind": b.bind]
            let rate = delta(M.deliverSM, l) / max(seconds, 0.001)
            out += pad(b.carrier, 16) + pad(b.bind, 20) + pad(b.state, 12) + pad(String(format: "%.0f", rate), 10)
            out += pad(ms(quantile(M.ackLatency, l, 0.5)), 11) + pad(ms(quantile(M.ackLatency, l, 0.99)), 11)
            out += pad(String(b.window), 8) + String(b.unacked) + "\n"
        }
        for c in status?.carriers ?? [] where c.state != "running" { out += pad(c.name, 16) + pad("-", 20) + "stopped by admin\n" }
        if binds.isEmpty && (status?.carriers ?? []).isEmpty { out += "  (no carriers configured)\n" }
        out += "\nOUTCOMES (this interval / total)\n"
        let carriers = Set(current.series(M.outcomes).compactMap { $0.labels["carrier"] }).sorted()
        for c in carriers {
            let parts = ["routed", "unmatched", "expired", "duplicate", "invalid", "temp_failed"].map { o -> String in
                let m = ["carrier": c, "outcome": o]
                return "\(o) \(Int(delta(M.outcomes, m)))/\(Int(current.sum(M.outcomes, m)))"
            }
            out += "  " + pad(c, 16) + parts.joined(separator: "  ") + "\n"
        }
        let codes = delta(M.otp, ["extracted": "yes"]), noCodes = delta(M.otp, ["extracted": "no"])
        out += "  otp extracted \(Int(codes)), not \(Int(noCodes)) this interval\n"
        out += "\nDATABASE\n"
        out += "  commit p50 \(ms(quantile(M.commitLatency, [:], 0.5)))  p99 \(ms(quantile(M.commitLatency, [:], 0.99)))"
        let (batches, rows) = histogramDelta(M.batchSize)
        out += "  batches/s \(String(format: "%.1f", batches / max(seconds, 0.001)))  mean batch \(batches > 0 ? String(format: "%.0f", rows / batches) : "-")"
        out += "  queue \(Int(current.sum(M.queueDepth)))  failures \(Int(current.sum(M.dbFailures)))\n"
        if let w = status?.writer {
            out += "  writer on \(w.server ?? "-") \(w.role ?? "")  last commit \(w.lastCommitSecondsAgo.map { String(format: "%.1f s ago", $0) } ?? "none")\n"
        }
        out += "\nLEASES\n"
        out += "  entries \(Int(current.sum(M.leaseEntries)))  sync lag p99 \(ms(quantile(M.leaseLag, [:], 0.99)))  loaded \(current.sum(M.leaseLoaded) == 1 ? "yes" : "no")\n"
        out += "\nRECENT EVENTS (redacted)\n"
        if events.isEmpty { out += "  (none yet)\n" }
        for e in events { out += "  " + e + "\n" }
        return out
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}

/// `smpp-bridge tail`: routing events as JSON lines, as they happen.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail", abstract: "Stream routing events as JSON lines (numbers masked, codes never shown by default).")
    @Option(help: "The bridge's metrics address.") var url = "http://127.0.0.1:9464"
    @Option(help: "Only this carrier.") var carrier: String?
    @Option(help: "Only this outcome (routed, unmatched, expired, receipt, duplicate, invalid, temp_failed).") var outcome: String?
    @Option(help: "Only this order id.") var order: UInt64?
    @Option(help: "Stop after N events.") var count: Int?
    @Option(help: "Print the last N events first.") var recent = 0

    func validate() throws {
        if let o = outcome, !EventQuery.outcomes.contains(o) {
            throw ValidationError("--outcome: \(o) is not an outcome")
        }
        if !(0...200).contains(recent) { throw ValidationError("--recent: expected 0 to 200 (the bridge keeps the last 200)") }
        if let c = count, c < 1 { throw ValidationError("--count: expected 1 or more") }
    }

    func run() throws {
        var q: [String] = []
        if let carrier { q.append("carrier=" + (carrier.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? carrier)) }
        if let outcome { q.append("outcome=\(outcome)") }
        if let order { q.append("order_id=\(order)") }
        let query = q.isEmpty ? "" : "?" + q.joined(separator: "&")
        var printed = 0
        if recent > 0, let r = try? BridgeHTTP.request(url, path: "/events" + (query.isEmpty ? "?" : query + "&") + "recent=\(recent)") {
            for line in String(decoding: r.body, as: UTF8.self).split(separator: "\n") {
                writeOut(line + "\n")
                printed += 1
            }
        }
        if let count, printed >= count { return }
        var partial: [UInt8] = []
        do {
            try BridgeHTTP.stream(url, path: "/events" + query, timeout: 86_400) { bytes in
                partial += bytes
                while let nl = partial.firstIndex(of: 10) {
                    writeOut(String(decoding: partial[...nl], as: UTF8.self))
                    partial.removeFirst(nl + 1)
                    printed += 1
                    if let count, printed >= count { return false }
                }
                return true
            }
        } catch {
            FileHandle.standardError.write(Data("smpp-bridge tail: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Unbuffered stdout: each refresh or event reaches a pipe at once.
func writeOut(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

/// `smpp-bridge ready`: exits 0 when the running bridge answers /readyz with 200
/// (started, writer committing, lease feed listening, a bind up per carrier), 1
/// otherwise, printing why. For container health checks and scripts.
struct ReadyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ready", abstract: "Exit 0 if the running bridge is ready (its /readyz), 1 otherwise, saying why.")
    @Option(help: "The bridge's metrics address.") var url = "http://127.0.0.1:9464"

    func run() throws {
        do {
            let r = try BridgeHTTP.request(url, path: "/readyz")
            print(String(decoding: r.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            if r.status != 200 { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            print("not ready: \(error)")
            throw ExitCode(1)
        }
    }
}
