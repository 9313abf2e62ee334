import BridgeRuntime
import ArgumentParser
import Dispatch
import Foundation
import SMPPSession
import Routing
// The probe stores nothing by design (it measures a carrier), so it acks with a proof of its own.
@_spi(CommitProof) import SMPPWire

/// `smpp-bridge probe`: bind to a carrier without a database.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Bind to an SMSC, ack everything, and report what arrived (no database).")

    @Option(help: "SMSC host.") var host: String
    @Option(help: "SMSC port.") var port: Int
    @Option(help: "system_id.") var systemID: String
    @Option(help: "Environment variable holding the password (never a flag: flags show in ps).") var passwordEnv: String
    @Option(help: "receiver or transceiver.") var bind = "receiver"
    @Option(help: "system_type.") var systemType = ""
    @Option(help: "Stop after N messages.") var count: Int?
    @Option(help: "Stop after S seconds.") var duration: Double = 30
    @Flag(help: "Connect with TLS (certificate verified against --ca-file or the system store).") var tls = false
    @Option(help: "CA bundle (PEM) for TLS verification.") var caFile: String?
    @Option(help: "Name to verify and send as SNI (default: --host).") var serverName: String?
    @Flag(help: "Turn TLS certificate verification off (logged at every connect).") var insecure = false
    @Flag(help: "One JSON object.") var json = false
    @Flag(help: "Show decoded texts (redacted by default).") var showText = false

    func validate() throws {
        guard let b = BindType(rawValue: bind), b != .transmitter else {
            throw ValidationError("--bind must be receiver or transceiver")
        }
        _ = b
        if (caFile != nil || insecure || serverName != nil) && !tls {
            throw ValidationError("--ca-file, --server-name and --insecure need --tls")
        }
        if ProcessInfo.processInfo.environment[passwordEnv] == nil {
            throw ValidationError("--password-env: environment variable \(passwordEnv) is not set")
        }
    }

    func run() throws {
        var c = SessionConfig(name: "probe", host: host, port: port, systemID: systemID,
                              password: ProcessInfo.processInfo.environment[passwordEnv] ?? "")
        c.systemType = systemType
        c.bindType = BindType(rawValue: bind)!
        c.authFailureBackoff = Backoff(initial: 3600, maximum: 3600)
        if tls { c.tls = TLSConfig(caFile: caFile, serverName: serverName, insecure: insecure) }
        let stats = ProbeStats(limit: count, showText: showText)
        let session = ESMESession(config: c, handler: stats)
        session.onEvent = { name, detail in
            if name == "tls_insecure" || name == "bind_refused_credentials" || name == "connect_failed" {
                FileHandle.standardError.write(Data("\(name): \(detail)\n".utf8))
            }
        }
        let started = Date()
        session.start()
        let deadline = started.addingTimeInterval(duration)
        while Date() < deadline {
            if stats.reachedLimit { break }
            let st = session.snapshot
            if st.state == .backoff && (st.lastBindError != nil || st.boundSince == nil) { break }
            usleep(20_000)
        }
        let done = DispatchSemaphore(value: 0)
        session.shutdown(deadline: 2) { done.signal() }
        _ = done.wait(timeout: .now() + 5)
        let snap = session.snapshot
        let elapsed = Date().timeIntervalSince(started)
        print(stats.report(bound: snap.boundSince != nil, bindError: snap.lastBindError, lastError: snap.lastError, elapsed: elapsed, json: json))
    }
}

final class ProbeStats: InboundHandler, @unchecked Sendable {
    let lock = NSLock()
    var received = 0
    var acked = 0
    var errors: [String: Int] = [:]
    var byDataCoding: [String: Int] = [:]
    var byConcat: [String: Int] = [:]
    var samples: [String] = []
    let limit: Int?
    let showText: Bool

    init(limit: Int?, showText: Bool) {
        self.limit = limit
        self.showText = showText
    }

    var reachedLimit: Bool { lock.withLock { limit.map { received >= $0 } ?? false } }

    func session(_ session: ESMESession, received message: Inbound, token: AckToken) {
        var dc = "binary", concat = "none", sample: String?
        switch message {
        case .deliverSM(let v):
            dc = v.dataCoding.alphabetName
            concat = v.userData.concatenation?.kind.rawValue ?? (v.tlvs.sar != nil ? "sar" : (v.smLength == 0 && v.tlvs.hasMessagePayload ? "payload" : "none"))
            if lock.withLock({ samples.count < 5 }) {  // text only for the few samples shown
                let t = v.decodeText().text
                sample = showText ? t : Redact.text(t)
            }
        case .dataSM(let v):
            dc = v.dataCoding.alphabetName
            concat = "payload"
        }
        lock.withLock {
            received += 1
            acked += 1
            byDataCoding[dc, default: 0] += 1
            byConcat[concat, default: 0] += 1
            if let sample, samples.count < 5 { samples.append(sample) }
        }
        session.ack(token, committed: CommitProof())
    }

    func session(_ session: ESMESession, rejected frame: PDUFrame, error: DecodeError) {
        lock.withLock {
            received += 1
            errors[error.code, default: 0] += 1
        }
    }

    func report(bound: Bool, bindError: CommandStatus?, lastError: String?, elapsed: Double, json: Bool) -> String {
        lock.withLock {
            let rate = elapsed > 0 ? Double(received) / elapsed : 0
            if json {
                struct Report: Encodable {
                    var bound: Bool
                    var bindError: String?
                    var lastError: String?
                    var received, acked: Int
                    var errors, byDataCoding, byConcatenation: [String: Int]
                    var elapsedS, rate: Double
                }
                let r = Report(bound: bound, bindError: bindError?.description, lastError: bound ? nil : lastError, received: received, acked: acked,
                               errors: errors, byDataCoding: byDataCoding, byConcatenation: byConcat,
                               elapsedS: (elapsed * 1000).rounded() / 1000, rate: (rate * 10).rounded() / 10)
                let e = JSONEncoder()
                e.keyEncodingStrategy = .convertToSnakeCase
                e.outputFormatting = [.sortedKeys]
                return (try? e.encode(r)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            }
            var s = "bind: \(bound ? "ok" : "failed\(bindError.map { " (\($0))" } ?? "")\(lastError.map { ": \($0)" } ?? "")")\n"
            s += "received: \(received), acked: \(acked), rate: \(String(format: "%.1f", rate))/s over \(String(format: "%.1f", elapsed)) s\n"
            s += "by data coding: " + byDataCoding.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
            s += "by concatenation: " + byConcat.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
            s += "decode errors: " + (errors.isEmpty ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) + "\n"
            for x in samples { s += "  " + x + "\n" }
            return s
        }
    }
}
