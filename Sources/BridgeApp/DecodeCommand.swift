import BridgeRuntime
import ArgumentParser
import SMPPWire

#if canImport(Glibc)
    import Glibc
#endif

/// `smpp-bridge decode`: the operator's tool for looking at SMPP bytes.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode SMPP PDUs from a hex argument or a capture file.",
        discussion: """
            Input is one PDU as hex, or --file with concatenated binary PDUs ('-' reads stdin).
            --json prints one JSON object per PDU with the SMPP 3.4 field names; --summary
            prints only counts per command and per error. Passwords are masked.
            """
    )

    @Argument(help: "One PDU as hex (spaces and colons allowed).")
    var hex: String?

    @Option(name: .long, help: "A binary file of concatenated PDUs; '-' for stdin.")
    var file: String?

    @Flag(help: "One JSON object per PDU.")
    var json = false

    @Flag(help: "Only counts per command and per error (fast: for whole captures).")
    var summary = false

    @Option(help: "What data_coding 0 means: gsm7, gsm7-packed, ia5 or latin1.")
    var defaultAlphabet: String = "gsm7"

    @Option(help: "Largest command_length accepted.")
    var maxCommandLength: Int = 65536

    func validate() throws {
        if (hex == nil) == (file == nil) { throw ValidationError("give either a hex argument or --file") }
        if SMPPSMSCAlphabet(defaultAlphabet) == nil {
            throw ValidationError("--default-alphabet must be one of gsm7, gsm7-packed, ia5, latin1")
        }
        if maxCommandLength < 16 { throw ValidationError("--max-command-length must be at least 16") }
    }

    func run() throws {
        let options = Inspection.Options(text: TextOptions(smscDefaultAlphabet: SMPPSMSCAlphabet(defaultAlphabet)!))
        let limits = FrameLimits(maximumCommandLength: maxCommandLength)
        var out = OutputBuffer()
        func describe(_ p: UnsafeRawBufferPointer) {
            if summary {
                var s = CaptureSummary()
                s.scan(p, limits: limits)
                out.write(json ? s.json : s.text)
            } else {
                CaptureDecoder.describeStream(p, limits: limits, options: options, json: json, out: &out)
            }
        }
        if let hex {
            guard let bytes = bytesFromHex(hex) else { throw ValidationError("not valid hex") }
            bytes.withUnsafeBytes(describe)
        } else if let file {
            try InputBytes(path: file).withBytes(describe)
        }
        out.flush()
    }
}

func SMPPSMSCAlphabet(_ s: String) -> SMSCDefaultAlphabet? { SMSCDefaultAlphabet(rawValue: s) }

/// Buffered stdout: a capture can print millions of lines.
struct OutputBuffer {
    var buffer: [UInt8] = []
    /// Tests collect the output instead.
    var flushToStdout = true
    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if flushToStdout, buffer.count > 1 << 16 { flush() }
    }
    mutating func flush() {
        guard flushToStdout else { return }
        buffer.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = Glibc.write(1, p.baseAddress! + off, p.count - off)
                if n <= 0 { break }
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

enum CaptureDecoder {
    /// Walks a byte stream frame by frame and prints each PDU.
    static func describeStream(
        _ p: UnsafeRawBufferPointer, limits: FrameLimits, options: Inspection.Options, json: Bool,
        out: inout OutputBuffer
    ) {
        var offset = 0
        while offset < p.count {
            let rest = UnsafeRawBufferPointer(rebasing: p[offset...])
            switch PDUFrame.scan(rest, limits: limits) {
            case .frame(let length):
                let pdu = UnsafeRawBufferPointer(rebasing: rest[0..<length])
                var entries = Inspection.describe(pdu, options: options)
                entries.insert(Inspection.Entry("offset", .int(offset)), at: 0)
                out.write(json ? FieldValue.object(entries).json + "\n" : TextRendering.render(entries) + "\n")
                offset += length
            case .incomplete(let needed):
                let err: FieldValue = .object([
                    Inspection.Entry("reason", .string("capture ends inside a PDU: \(rest.count) of \(needed.map(String.init) ?? "at least 4") bytes")),
                    Inspection.Entry("code", .string("truncated_capture")),
                    Inspection.Entry("offset", .int(offset)),
                ])
                let entries = [Inspection.Entry("offset", .int(offset)), Inspection.Entry("error", err)]
                out.write(json ? FieldValue.object(entries).json + "\n" : TextRendering.render(entries) + "\n")
                return
            case .invalid(let e):
                let entries = [Inspection.Entry("offset", .int(offset)), Inspection.Entry("error", Inspection.describe(error: e))]
                out.write(json ? FieldValue.object(entries).json + "\n" : TextRendering.render(entries) + "\n")
                return
            }
        }
    }
}

/// Human-readable form of inspection entries: one `name: value` per line.
enum TextRendering {
    static func render(_ entries: [Inspection.Entry], indent: String = "") -> String {
        var lines: [String] = []
        for e in entries {
            switch e.value {
            case .object(let sub):
                lines.append(indent + e.key + ":")
                lines.append(render(sub, indent: indent + "  "))
            case .list(let items):
                if items.isEmpty { continue }
                lines.append(indent + e.key + ":")
                for item in items {
                    if case .object(let sub) = item {
                        lines.append(indent + "  -")
                        lines.append(render(sub, indent: indent + "    "))
                    } else {
                        lines.append(indent + "  - " + scalar(item))
                    }
                }
            default:
                lines.append(indent + e.key + ": " + scalar(e.value))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func scalar(_ v: FieldValue) -> String {
        switch v {
        case .string(let s): s
        case .int(let i): String(i)
        case .hex(let b): b.isEmpty ? "(empty)" : hexString(b)
        case .bool(let b): b ? "yes" : "no"
        case .null: "-"
        default: v.json
        }
    }
}

/// Counts per command and per error over a capture, using only the zero-copy path
/// for deliver_sm, submit_sm and data_sm so a 1 GB capture runs at codec speed.
struct CaptureSummary {
    var pdus = 0
    var bytes = 0
    var byCommand: [UInt32: Int] = [:]
    var byError: [String: Int] = [:]
    var tlvs = 0
    var stoppedAt: (offset: Int, reason: String)?

    mutating func scan(_ p: UnsafeRawBufferPointer, limits: FrameLimits) {
        var offset = 0
        while offset < p.count {
            let rest = UnsafeRawBufferPointer(rebasing: p[offset...])
            switch PDUFrame.scan(rest, limits: limits) {
            case .frame(let length):
                let frame = PDUFrame(unchecked: UnsafeRawBufferPointer(rebasing: rest[0..<length]))
                let id = frame.commandID
                byCommand[id.rawValue, default: 0] += 1
                pdus += 1
                do {
                    switch id {
                    case .deliverSM, .submitSM:
                        let v = try ShortMessageView(frame)
                        for _ in v.tlvs { tlvs += 1 }
                    case .dataSM:
                        let v = try DataSMView(frame)
                        for _ in v.tlvs { tlvs += 1 }
                    default:
                        tlvs += try PDU.decode(frame).tlvs.count
                    }
                } catch {
                    byError[error.code, default: 0] += 1
                }
                offset += length
            case .incomplete:
                byError["truncated_capture", default: 0] += 1
                stoppedAt = (offset, "capture ends inside a PDU")
                bytes = offset
                return
            case .invalid(let e):
                byError[e.code, default: 0] += 1
                stoppedAt = (offset, e.description)
                bytes = offset
                return
            }
        }
        bytes = offset
    }

    var sortedCommands: [(String, Int)] {
        byCommand.map { (CommandID($0.key).description, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    var text: String {
        var s = "pdus: \(pdus)\nbytes: \(bytes)\ntlvs: \(tlvs)\ncommands:\n"
        for (n, c) in sortedCommands { s += "  \(n): \(c)\n" }
        s += "errors:\n"
        for (n, c) in byError.sorted(by: { $0.key < $1.key }) { s += "  \(n): \(c)\n" }
        if let st = stoppedAt { s += "stopped_at: offset \(st.offset): \(st.reason)\n" }
        return s
    }

    var json: String {
        let entries: [Inspection.Entry] = [
            Inspection.Entry("pdus", .int(pdus)),
            Inspection.Entry("bytes", .int(bytes)),
            Inspection.Entry("tlvs", .int(tlvs)),
            Inspection.Entry("commands", .object(sortedCommands.map { Inspection.Entry($0.0, .int($0.1)) })),
            Inspection.Entry(
                "errors", .object(byError.sorted(by: { $0.key < $1.key }).map { Inspection.Entry($0.key, .int($0.value)) })),
            Inspection.Entry("stopped_at", stoppedAt.map { .int($0.offset) } ?? .null),
        ]
        return FieldValue.object(entries).json + "\n"
    }
}
