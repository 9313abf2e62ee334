import ArgumentParser
import Routing
import SMPPWire

/// `smpp-bridge demo`: the main job on the embedded default. For now it pushes
/// the bundled capture through the framer in ragged chunks (as TCP would deliver
/// it) and decodes every PDU; later issues grow it into the full bridge against
/// the simulator and a throwaway PostgreSQL.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Decode the bundled capture and print a summary (numbers and codes masked).")

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Flag(help: "Show texts and numbers unmasked.")
    var showText = false

    func run() throws {
        let report = DemoRun.run(showText: showText)
        print(json ? report.json : report.text)
    }
}

public struct DemoReport: Sendable {
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
            .init("decode_errors", .list(decodeErrors.map { .string($0) })),
            .init("samples", .list(samples.map { .string($0) })),
        ]).json
    }

    public var text: String {
        var s = "smpp-bridge demo: decoded the bundled capture (\(pdus) PDUs, \(bytes) bytes, fed in ragged chunks)\n\n"
        s += "commands:\n" + byCommand.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        s += "\ntext encodings:\n" + byEncoding.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        s += "\nconcatenated parts: \(concatenated)\n"
        s += "decode errors (answered, session kept):\n" + decodeErrors.map { "  " + $0 }.joined(separator: "\n")
        s += "\n\nmessages (numbers and codes masked):\n" + samples.map { "  " + $0 }.joined(separator: "\n")
        return s
    }
}

public enum DemoRun {
    public static func run(showText: Bool = false) -> DemoReport {
        var report = DemoReport()
        let capture = SampleCapture.bytes()
        report.bytes = capture.count
        var framer = FrameDecoder(initialCapacity: 256)
        var offset = 0
        var chunk = 1
        while offset < capture.count {
            let n = min(chunk, capture.count - offset)
            capture.withUnsafeBytes { framer.append(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            offset += n
            chunk = chunk % 97 + 13
            while let done = try? framer.nextFrame({ frame in handle(frame, &report, showText) }), done {}
        }
        return report
    }

    static func handle(_ frame: PDUFrame, _ report: inout DemoReport, _ showText: Bool) -> Bool {
        report.pdus += 1
        report.byCommand[frame.commandID.description, default: 0] += 1
        do {
            switch frame.commandID {
            case .deliverSM:
                let v = try ShortMessageView(frame)
                sample(v.userData, v.dataCoding, v.tlvs, source: v.sourceAddr, dest: v.destinationAddr, &report, showText)
            case .dataSM:
                let v = try DataSMView(frame)
                sample(v.userData, v.dataCoding, v.tlvs, source: v.sourceAddr, dest: v.destinationAddr, &report, showText)
            default:
                _ = try PDU.decode(frame)
            }
        } catch {
            report.decodeErrors.append("seq \(frame.sequenceNumber): \(error) -> \(frame.commandID.description == "deliver_sm" ? "deliver_sm_resp" : "generic_nack") \(error.commandStatus)")
        }
        return true
    }

    static func sample(
        _ ud: UserData, _ dc: DataCoding, _ tlvs: TLVList, source: UnsafeRawBufferPointer, dest: UnsafeRawBufferPointer,
        _ report: inout DemoReport, _ showText: Bool
    ) {
        let t = TextDecoder.decode(userData: ud, dataCoding: dc)
        report.byEncoding[t.encoding.rawValue, default: 0] += 1
        var part = ""
        if let c = ud.concatenation ?? tlvs.sar.map({ Concatenation(kind: .sar, reference: $0.msgRefNum, total: $0.totalSegments, sequence: $0.segmentSeqnum) }) {
            report.concatenated += 1
            part = " [\(c.kind.rawValue) ref \(c.reference) part \(c.sequence)/\(c.total)]"
        }
        let from = COctetString(source).string, to = COctetString(dest).string
        let text = showText ? t.text : Redact.text(t.text)
        report.samples.append("\(showText ? from : Redact.number(from)) -> \(showText ? to : Redact.number(to))\(part): \(text)")
    }
}
