import BridgeRuntime
import ArgumentParser
import Foundation
import Routing
import SMPPWire

/// `smpp-bridge demo`: the main job on the embedded default. A throwaway
/// PostgreSQL, the simulator pushing a realistic OTP stream over loopback, and the
/// bridge bound to it; then the simulator's log is compared with the table.
/// `--capture` only decodes the bundled capture (no database).
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run the bridge end to end against the simulator and a throwaway PostgreSQL, and summarize.")

    @Flag(help: "Print the summary as one JSON object.") var json = false
    @Flag(help: "Show texts and numbers unmasked.") var showText = false
    @Flag(help: "Only decode the bundled capture through the routing core (no database, no sessions).") var capture = false
    @Option(help: "Messages the simulator pushes.") var count = 50_000
    @Option(help: "Share of multi-part messages.") var multipart = 0.2
    @Option(help: "Binds to the simulator.") var binds = 2
    @Option(help: "Window per bind.") var window = 64
    @Option(help: "Give up after this many seconds.") var timeout: Double = 600

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if !(0...1).contains(multipart) { throw ValidationError("--multipart must be between 0 and 1") }
    }

    func run() throws {
        if capture {
            let report = DemoRun.run(showText: showText)
            print(json ? report.json : report.text)
            return
        }
        if !json { FileHandle.standardError.write(Data("smpp-bridge demo: starting a throwaway PostgreSQL, the simulator and the bridge (\(count) messages)…\n".utf8)) }
        let summary = try EndToEndDemo(count: count, multipart: multipart, binds: binds, window: window, timeout: timeout, showText: showText).run()
        print(json ? summary.json : summary.text)
        if summary.lost > 0 || summary.duplicated > 0 || summary.unexpected > 0 || summary.acked < summary.sent { throw ExitCode(1) }
    }
}

public struct DemoReport: Sendable {
    public var outcomes: [String: Int] = [:]
    public var codesExtracted = 0
    public var pdus = 0
    public var bytes = 0
    public var byCommand: [String: Int] = [:]
    public var byEncoding: [String: Int] = [:]
    public var decodeErrors: [String] = []
    public var concatenated = 0
    public var samples: [String] = []

    public var json: String {
        FieldValue.object([
            .init("pdus", .int(pdus)), .init("bytes", .int(bytes)),
            .init("commands", .object(byCommand.sorted { $0.key < $1.key }.map { .init($0.key, .int($0.value)) })),
            .init("encodings", .object(byEncoding.sorted { $0.key < $1.key }.map { .init($0.key, .int($0.value)) })),
            .init("concatenated_parts", .int(concatenated)),
            .init("outcomes", .object(outcomes.sorted { $0.key < $1.key }.map { .init($0.key, .int($0.value)) })),
            .init("codes_extracted", .int(codesExtracted)),
            .init("decode_errors", .list(decodeErrors.map { .string($0) })),
            .init("samples", .list(samples.map { .string($0) })),
        ]).json
    }

    public var text: String {
        var s = "smpp-bridge demo: decoded the bundled capture (\(pdus) PDUs, \(bytes) bytes, fed in ragged chunks)\n\n"
        s += "commands:\n" + byCommand.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        s += "\ntext encodings:\n" + byEncoding.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        s += "\nconcatenated parts: \(concatenated) (reassembled before decoding)\n"
        s += "routing outcomes: " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        s += "codes extracted: \(codesExtracted)\n"
        s += "decode errors (answered, session kept):\n" + decodeErrors.map { "  " + $0 }.joined(separator: "\n")
        s += "\n\nrouted messages (numbers and codes masked):\n" + samples.map { "  " + $0 }.joined(separator: "\n")
        return s
    }
}

public enum DemoRun {
    /// Leases for some of the capture's numbers (one of them already expired), so
    /// the demo shows routed, expired and unmatched messages.
    static func leases(now: UInt32) -> LeaseTable {
        let t = LeaseTable()
        for (n, order, svc, ends) in [("447700900123", 1001, "whatsapp", now + 900), ("79161234567", 1002, "telegram", now + 900),
                                      ("971501234567", 1003, "careem", now - 60), ("14155550123", 1004, "google", now + 900),
                                      ("4915112345678", 1005, "microsoft", now + 900), ("12025550143", 1006, "amazon", now + 900)] {
            t.upsert(MSISDNKey(n)!, Lease(orderID: UInt64(order), service: t.serviceID(svc), startsAt: now - 600, expiresAt: ends, version: 1))
        }
        return t
    }

    public static func run(showText: Bool = false, now nowMillis: UInt64? = nil) -> DemoReport {
        let now = nowMillis ?? UInt64(Date().timeIntervalSince1970 * 1000)
        var report = DemoReport()
        let capture = SampleCapture.bytes()
        report.bytes = capture.count
        let router = SessionRouter(carrier: CarrierProfile(name: "demo", plan: .uk), table: leases(now: UInt32(now / 1000)),
                                   reassembler: Reassembler(), extractor: OTPExtractor())
        var framer = FrameDecoder(initialCapacity: 256)
        var offset = 0
        var chunk = 1
        while offset < capture.count {
            let n = min(chunk, capture.count - offset)
            capture.withUnsafeBytes { framer.append(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            offset += n
            chunk = chunk % 97 + 13
            while let done = try? framer.nextFrame({ frame in handle(frame, &report, router, now, showText) }), done {}
        }
        return report
    }

    static func handle(_ frame: PDUFrame, _ report: inout DemoReport, _ router: SessionRouter, _ now: UInt64, _ showText: Bool) -> Bool {
        report.pdus += 1
        report.byCommand[frame.commandID.description, default: 0] += 1
        do {
            var evicted: [InboundMessage] = []
            let accepted: Accepted
            switch frame.commandID {
            case .deliverSM:
                let v = try ShortMessageView(frame)
                report.byEncoding[v.decodeText().encoding.rawValue, default: 0] += 1
                accepted = router.accept(v, receivedAt: now, evicted: &evicted)
            case .dataSM:
                let v = try DataSMView(frame)
                report.byEncoding[v.decodeText().encoding.rawValue, default: 0] += 1
                accepted = router.accept(v, receivedAt: now, evicted: &evicted)
            default:
                _ = try PDU.decode(frame)
                return true
            }
            switch accepted {
            case .message(let m): record(router.decide(m), &report, showText)
            case .part(_, _, let done):
                report.concatenated += 1
                if let m = done { record(router.decide(m), &report, showText) }
            case .duplicatePart: break
            }
        } catch {
            report.decodeErrors.append("seq \(frame.sequenceNumber): \(error) -> \(frame.commandID == .deliverSM ? "deliver_sm_resp" : "generic_nack") \(error.commandStatus)")
        }
        return true
    }

    static func record(_ d: RoutingDecision, _ report: inout DemoReport, _ showText: Bool) {
        report.outcomes[d.outcome.rawValue, default: 0] += 1
        if d.code != nil { report.codesExtracted += 1 }
        let from = showText ? d.sourceRaw : Redact.number(d.sourceRaw)
        let to = showText ? d.destinationRaw : Redact.number(d.destinationRaw)
        let order = d.orderID.map { " order \($0)" } ?? ""
        let code = d.code.map { " code \(showText ? $0 : String(repeating: "*", count: $0.count)) (\(d.rule ?? ""))" } ?? ""
        let parts = d.partCount > 1 ? " [\(d.partCount) parts]" : ""
        report.samples.append("\(from) -> \(to): \(d.outcome.rawValue)\(order)\(code)\(parts): \(showText ? d.text : Redact.text(d.text))")
    }
}
