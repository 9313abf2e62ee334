import Foundation
import SMPPWire
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime
import Routing

final class DecodeCommandTests: XCTestCase {
    func testJSONUsesSpecFieldNames() throws {
        let bytes = SampleCapture.bytes()
        var out = OutputBuffer()
        out.flushToStdout = false
        bytes.withUnsafeBytes {
            CaptureDecoder.describeStream($0, limits: .default, options: Inspection.Options(), json: true, out: &out)
        }
        let lines = String(decoding: out.buffer, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, SampleCapture.pdus().count + 1)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let deliver = try XCTUnwrap(objects.first { $0["command"] as? String == "deliver_sm" })
        for key in ["command_id", "command_status", "sequence_number", "source_addr", "destination_addr", "esm_class",
                    "data_coding", "sm_length", "short_message", "tlvs", "text"] {
            XCTAssertNotNil(deliver[key], key)
        }
        XCTAssertEqual(deliver["text"] as? String, "Your WhatsApp code: 482-913. Don't share it. [€0 fee]")
        let bad = try XCTUnwrap(objects.first { $0["error"] != nil })
        let err = try XCTUnwrap(bad["error"] as? [String: Any])
        XCTAssertEqual(err["command_status_name"] as? String, "ESME_RINVMSGLEN")
        XCTAssertNotNil(err["offset"])
        XCTAssertNotNil(err["reason"])
        let udh = try XCTUnwrap(objects.first { $0["udh"] != nil })
        XCTAssertNotNil(udh["concatenation"])
    }

    func testSummaryCountsCommandsAndErrors() {
        var s = CaptureSummary()
        SampleCapture.bytes().withUnsafeBytes { s.scan($0, limits: .default) }
        XCTAssertEqual(s.pdus, SampleCapture.pdus().count + 1)
        XCTAssertEqual(s.byCommand[CommandID.deliverSM.rawValue], 14)
        XCTAssertEqual(s.byError["sm_length_overrun"], 1)
        XCTAssertNil(s.stoppedAt)
        // A stream that turns insane stops with the reason.
        var t = CaptureSummary()
        ([0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1] + [0xFF, 0xFF, 0xFF, 0xFF] as [UInt8]).withUnsafeBytes {
            t.scan($0, limits: .default)
        }
        XCTAssertEqual(t.pdus, 1)
        XCTAssertEqual(t.byError["command_length_too_large"], 1)
        XCTAssertEqual(t.stoppedAt?.offset, 16)
    }

    func testDemoDecodesTheBundledCaptureAndMasks() {
        let r = DemoRun.run()
        XCTAssertEqual(r.pdus, SampleCapture.pdus().count + 1)
        XCTAssertEqual(r.decodeErrors.count, 1)
        XCTAssertEqual(r.concatenated, 6)
        XCTAssertEqual(r.outcomes["routed"], 5)
        XCTAssertEqual(r.outcomes["expired"], 1)
        XCTAssertGreaterThanOrEqual(r.codesExtracted, 9)
        // The emoji split across two UCS2 parts decodes whole after reassembly.
        XCTAssertTrue(DemoRun.run(showText: true).samples.contains { $0.contains("390211 🙂 Enter it") })
        let all = r.samples.joined(separator: "\n")
        // No full destination number and no OTP code in the masked output.
        for secret in ["447700900123", "482-913", "73519", "918273", "552019", "204913"] {
            XCTAssertFalse(all.contains(secret), secret)
        }
        XCTAssertTrue(DemoRun.run(showText: true).samples.joined().contains("482-913"))
    }

    func testRedaction() {
        XCTAssertEqual(Redact.number("447700900123"), "**********23")
        XCTAssertEqual(Redact.number("WhatsApp"), "WhatsApp")
        XCTAssertEqual(Redact.text("code 482-913 now"), "code ***-*** now")
        XCTAssertEqual(Redact.text("in 10 min"), "in 10 min")
    }
}

final class ExtractCommandTests: XCTestCase {
    func testJSONLines() throws {
        let x = OTPExtractor()
        let out = ExtractCommand.process(line: #"{"sender": "Google", "text": "G-771204 is your Google verification code."}"#, extractor: x)
        let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        XCTAssertEqual(obj["code"] as? String, "G-771204")
        XCTAssertEqual(obj["rule"] as? String, "google:G-######")
        XCTAssertEqual(obj["confidence"] as? Double, 0.97)
        let none = try JSONSerialization.jsonObject(with: Data(ExtractCommand.process(line: #"{"text": "Meeting in room 4012"}"#, extractor: x).utf8)) as! [String: Any]
        XCTAssertTrue(none["code"] is NSNull)
        XCTAssertTrue(ExtractCommand.process(line: "garbage", extractor: x).contains("error"))
        XCTAssertTrue(ExtractCommand.process(line: #"{"sender": "x"}"#, extractor: x).contains("missing string field 'text'"))
    }

    func testRulesFileErrorsNameTheField() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"rules": [{"service": "x", "codes": []}], "minimumConfidence": 0.5}"#.utf8).write(to: bad)
        XCTAssertThrowsError(try ExtractCommand.loadRules(bad.path)) { e in
            XCTAssertTrue("\(e)".contains("senders"), "\(e)")
        }
        let good = dir.appendingPathComponent("good.json")
        try Data(#"{"rules": [{"service": "acme", "senders": ["ACME"], "codes": ["AC-####"], "keywords": []}], "minimumConfidence": 0.5}"#.utf8).write(to: good)
        let x = OTPExtractor(rules: try ExtractCommand.loadRules(good.path))
        XCTAssertEqual(x.extract(text: "Your ACME login: AC-4821", sender: "ACME")?.code, "AC-4821")
    }
}
