import Foundation
import SMPPWire
import Testing

/// Every file in protocol-fixtures/ is a named test case: the hex, the expected decoded
/// fields, and (where recorded) Wireshark's decode as an independent oracle.
@Suite struct FixtureTests {
    static let fixtures: [Fixture] = (try? loadFixtures()) ?? []

    @Test(arguments: fixtures.map(\.path))
    func fixture(_ path: String) throws {
        let fx = try #require(Self.fixtures.first { $0.path == path })
        Self.check(fx)
    }

    /// Over all of them: none went missing, and the malformed and Wireshark-checked cases are still many.
    @Test func theFixturesStillCoverWhatTheyShould() {
        #expect(Self.fixtures.count >= 200, "fixtures went missing")
        var malformed = 0, tsharkChecked = 0
        for fx in Self.fixtures {
            let (m, t) = Self.counts(fx)
            malformed += m
            tsharkChecked += t
        }
        #expect(malformed >= 15)
        #expect(tsharkChecked > 100, "the Wireshark cross-check covered too few PDUs")
    }

    /// How many error PDUs a fixture has and how many PDUs Wireshark's decode covers (no checks).
    static func counts(_ fx: Fixture) -> (malformed: Int, tsharkChecked: Int) {
        let (pdus, end, _) = run(fx.bytes, chunks: [fx.bytes.count], options: fx.options)
        let malformed = pdus.filter { $0["error"] != nil }.count
        let expectedEnd = (fx.json["expect"] as? [String: Any])?["end"] as? String ?? "complete"
        guard let t = fx.json["tshark"] as? [String: Any], (t["malformed"] as? Bool) == false, expectedEnd == "complete", end == "complete",
              let tp = t["pdus"] as? [[String: Any]], tp.count == pdus.count else { return (malformed, 0) }
        return (malformed, pdus.filter { $0["error"] == nil }.count)
    }
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("protocol-fixtures")

    struct Fixture: @unchecked Sendable {
        var path: String
        var json: [String: Any]
        var bytes: [UInt8]
        var options: Inspection.Options
    }

    struct FixtureError: Error, CustomStringConvertible { var description: String }

    static func loadFixtures() throws -> [Fixture] {
        var out: [Fixture] = []
        let fm = FileManager.default
        let e = fm.enumerator(at: root, includingPropertiesForKeys: nil)!
        for case let url as URL in e where url.pathExtension == "json" && !url.path.contains("/tools/") {
            let data = try Data(contentsOf: url)
            let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            guard let hex = json["hex"] as? String, let bytes = bytesFromHex(hex) else {
                throw FixtureError(description: "\(url.lastPathComponent): bad hex")
            }
            var options = Inspection.Options()
            if let o = json["options"] as? [String: Any], let a = o["default_alphabet"] as? String {
                options.text.smscDefaultAlphabet = SMSCDefaultAlphabet(rawValue: a)!
            }
            out.append(Fixture(path: url.path.replacingOccurrences(of: root.path + "/", with: ""), json: json, bytes: bytes, options: options))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Frames a stream fed in pieces of the given sizes; returns each frame's
    /// description and how the stream ended.
    static func run(_ bytes: [UInt8], chunks: [Int], options: Inspection.Options) -> ([[String: Any]], String, [[UInt8]]) {
        var framer = FrameDecoder(initialCapacity: 64)
        var described: [[String: Any]] = []
        var raw: [[UInt8]] = []
        var offset = 0
        var ci = 0
        var end: String?
        while offset < bytes.count && end == nil {
            let n = min(chunks[ci % chunks.count], bytes.count - offset)
            ci += 1
            bytes.withUnsafeBytes { framer.append(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            offset += n
            while end == nil {
                do {
                    let got = try framer.nextFrame { frame -> Bool in
                        let entries = Inspection.describe(frame.bytes, options: options)
                        let obj = try! JSONSerialization.jsonObject(with: Data(FieldValue.object(entries).json.utf8))
                        described.append(obj as! [String: Any])
                        raw.append(Array(frame.bytes))
                        return true
                    }
                    if got == nil { break }
                } catch let e as DecodeError {
                    end = e.code
                } catch {
                    end = "unexpected"
                }
            }
        }
        return (described, end ?? (framer.bufferedByteCount == 0 ? "complete" : "incomplete"), raw)
    }

    /// One fixture, checked whole, byte by byte and in ragged chunks, and against Wireshark's decode.
    static func check(_ fx: Fixture) {
        let expect = fx.json["expect"] as? [String: Any] ?? [:]
        let whole = Self.run(fx.bytes, chunks: [fx.bytes.count], options: fx.options)
        let byteByByte = Self.run(fx.bytes, chunks: [1], options: fx.options)
        let ragged = Self.run(fx.bytes, chunks: [3, 7, 1, 16, 5], options: fx.options)
        // Framing must not depend on how the bytes arrive.
        #expect(whole.1 == byteByByte.1, "end differs byte by byte")
        #expect(whole.1 == ragged.1, "end differs in ragged chunks")
        #expect(whole.2 == byteByByte.2, "frames differ byte by byte")
        #expect(whole.2 == ragged.2, "frames differ in ragged chunks")

        let (pdus, end, raw) = whole
        // "valid" means: every frame decodes and the stream ends on a PDU boundary.
        let isValid = end == "complete" && pdus.allSatisfy { $0["error"] == nil }
        #expect(fx.json["valid"] as? Bool == isValid, "valid flag")
        let expectedEnd = expect["end"] as? String ?? "complete"
        #expect(end == expectedEnd, "stream end")
        let expectedPDUs = expect["pdus"] as? [[String: Any]] ?? []
        #expect(pdus.count == expectedPDUs.count, "frame count")
        for (i, (want, got)) in zip(expectedPDUs, pdus).enumerated() {
            for (k, v) in want {
                if k == "tlv_tags" {
                    let tags = (got["tlvs"] as? [[String: Any]] ?? []).map { $0["tag"] as! String }
                    #expect(tags == v as? [String], "pdu \(i): tlv tags")
                    continue
                }
                #expect(Self.matches(v, got[k]), "pdu \(i): \(k) expected \(v), got \(String(describing: got[k]))")
            }
            let isError = got["error"] != nil
            if (fx.json["valid"] as? Bool) == true || fx.path.hasPrefix("handmade") {
                #expect(!(isError && expectedEnd == "complete" && want["error"] == nil), "unexpected error \(got["error"] ?? "")")
            }
            // Round trip: encode(decode(x)) == x for every PDU that decodes.
            if !isError {
                do {
                    let pdu = try PDU.decode(raw[i])
                    #expect(pdu.encode() == raw[i], "pdu \(i): round trip")
                } catch {
                    Issue.record("pdu \(i): \(error)")
                }
            }
        }
        if let t = fx.json["tshark"] as? [String: Any], (t["malformed"] as? Bool) == false, expectedEnd == "complete",
            let tp = t["pdus"] as? [[String: Any]], tp.count == pdus.count
        {
            for (ts, got) in zip(tp, pdus) where got["error"] == nil { Self.crossCheck(ts, got, fx.path) }
        }
    }

    /// Our decode against Wireshark's, for the fields both name the same way.
    static func crossCheck(_ ts: [String: Any], _ got: [String: Any], _ path: String) {
        func int(_ s: Any?) -> Int? {
            guard let s = s as? String else { return nil }
            return s.hasPrefix("0x") ? Int(s.dropFirst(2), radix: 16) : Int(s)
        }
        for k in ["command_length", "sequence_number", "command_status", "source_addr_ton", "source_addr_npi",
                  "dest_addr_ton", "dest_addr_npi", "data_coding", "sm_length", "protocol_id", "priority_flag",
                  "replace_if_present_flag", "interface_version", "addr_ton", "addr_npi", "esme_addr_ton"] {
            guard let want = int(ts[k]) else { continue }
            // submit_multi lists its destinations; tshark flattens them (compared via the list below).
            if k.hasPrefix("dest_addr"), let list = (got["dest_address"] ?? got["unsuccess_sme"]) as? [[String: Any]] {
                #expect(list.first?[k] as? Int == want, "\(path): tshark \(k) (first destination)")
                continue
            }
            #expect(got[k] as? Int == want, "\(path): tshark \(k)")
        }
        if let id = ts["command_id"] as? String { #expect(got["command_id"] as? String == id.lowercased(), "\(path): tshark command_id") }
        for k in ["source_addr", "destination_addr", "system_id", "system_type", "address_range", "esme_addr"] {
            guard let want = ts[k] as? String, got[k] != nil else { continue }
            #expect(got[k] as? String == want, "\(path): tshark \(k)")
        }
        if let m = ts["message"] as? String, let sm = got["short_message"] as? String, (got["sm_length"] as? Int ?? 0) > 0 {
            #expect(sm == m.replacingOccurrences(of: ":", with: ""), "\(path): tshark message")
        }
        if let tags = ts["opt_param_tag"] {
            let want = (tags as? [String] ?? [tags as! String]).map { $0.lowercased() }
            let have = (got["tlvs"] as? [[String: Any]] ?? []).map { $0["tag"] as! String }
            #expect(have == want, "\(path): tshark TLV tags")
        }
    }

    /// JSON equality, where an expected object only constrains the keys it names.
    static func matches(_ want: Any, _ got: Any?) -> Bool {
        switch want {
        case is NSNull: return got == nil || got is NSNull
        case let w as [String: Any]:
            guard let g = got as? [String: Any] else { return false }
            return w.allSatisfy { matches($0.value, g[$0.key]) }
        case let w as [Any]:
            guard let g = got as? [Any], g.count == w.count else { return false }
            return zip(w, g).allSatisfy { matches($0, $1) }
        case let w as NSNumber:
            guard let g = got as? NSNumber else { return false }
            return w == g
        case let w as String:
            return (got as? String) == w
        default:
            return false
        }
    }
}
