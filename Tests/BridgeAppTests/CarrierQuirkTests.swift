import Foundation
import Routing
import SMPPWire
import TestSupport
import Testing

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// Carrier quirks (issue 24), one fixture each under protocol-fixtures/carrier-quirks/:
/// the carrier's settings go through the config loader as `[[carrier]]` keys, then the
/// fixture's PDU through that carrier's router, and the decision must be what the fixture says.
@Suite struct CarrierQuirkTests {
    struct Quirk: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var carrier: [String: String]
        var routing: [String: JSONValue]
        var testDescription: String { name }
    }

    enum JSONValue: Sendable, Equatable {
        case string(String), bool(Bool)
        init?(_ any: Any) {
            if let b = any as? Bool { self = .bool(b) } else if let s = any as? String { self = .string(s) } else { return nil }
        }
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("protocol-fixtures/carrier-quirks")

    static let quirks: [Quirk] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()) ?? []
        return files.compactMap { f in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(f).path),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let hex = json["hex"] as? String, let options = json["options"] as? [String: Any],
                  let carrier = options["carrier"] as? [String: String], let routing = options["routing"] as? [String: Any]
            else { return nil }
            let bytes = stride(from: 0, to: hex.count, by: 2).map { i in
                UInt8(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)], radix: 16)!
            }
            return Quirk(name: json["name"] as? String ?? f, bytes: bytes, carrier: carrier, routing: routing.compactMapValues(JSONValue.init))
        }
    }()

    @Test func everyQuirkFixtureLoads() {
        #expect(Self.quirks.count >= 7, "fixtures went missing from \(Self.folder.path)")
    }

    @Test(arguments: quirks)
    func theCarriersSettingsDecideWhatItsPDUMeans(q: Quirk) throws {
        var toml = "[[carrier]]\nname = \"quirky\"\nhost = \"127.0.0.1\"\nport = 2775\nsystem_id = \"trueotp\"\npassword_env = \"X\"\n"
        for (k, v) in q.carrier.sorted(by: { $0.key < $1.key }) { toml += "\(k) = \"\(v)\"\n" }
        let config = try ConfigLoader.parse(toml, file: "quirk.toml")
        let router = SessionRouter(carrier: try #require(config.carriers.first).profile, table: LeaseTable(), reassembler: Reassembler(),
                                   extractor: OTPExtractor())
        let d = try q.bytes.withUnsafeBytes { b -> RoutingDecision in
            let v = try ShortMessageView(validating: b)
            var evicted: [InboundMessage] = []
            guard case .message(let m) = router.accept(v, receivedAt: 1_780_000_000_000, evicted: &evicted) else {
                throw ThrowawayPostgres.Failure(description: "not a whole message")
            }
            return router.decide(m)
        }
        for (key, want) in q.routing.sorted(by: { $0.key < $1.key }) {
            switch (key, want) {
            case ("text", .string(let s)): #expect(d.text == s, "text")
            case ("code", .string(let s)): #expect(d.code == s, "code")
            case ("text_invalid", .bool(let b)): #expect(d.textInvalid == b, "text_invalid")
            case ("destination", .string(let s)): #expect(d.destination == .msisdn(s), "destination")
            case ("destination_invalid", .string(let s)):
                guard case .invalid(let why) = d.destination else { Issue.record("destination \(d.destination) is valid"); continue }
                #expect(why.rawValue == s)
            default: Issue.record("\(q.name): unknown expectation \(key)")
            }
        }
    }

    @Test(arguments: ["+44,0044,0;+,00", "44,044", " +49 , 0049 , 0 "])
    func unifiedPrefixesParse(spec: String) {
        #expect(UnifiedPrefix(spec) != nil)
    }

    @Test(arguments: ["", "+44", "+44,", "+44,,0", "x,0", "+44,0;;+,00", "44,0a"])
    func badUnifiedPrefixesAreRefusedByName(spec: String) {
        let toml = "[[carrier]]\nname = \"q\"\nhost = \"h\"\nport = 1\nsystem_id = \"s\"\npassword_env = \"X\"\nunified_prefix = \"\(spec)\"\n"
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(toml, file: "q.toml") }
        do { _ = try ConfigLoader.parse(toml, file: "q.toml") } catch let e as ConfigError { #expect(e.field.hasSuffix(".unified_prefix")) } catch {}
    }

    @Test func anUnknownAlphabetIsRefusedByName() {
        let toml = "[[carrier]]\nname = \"q\"\nhost = \"h\"\nport = 1\nsystem_id = \"s\"\npassword_env = \"X\"\ndefault_alphabet = \"ebcdic\"\n"
        do { _ = try ConfigLoader.parse(toml, file: "q.toml"); Issue.record("accepted") } catch let e as ConfigError {
            #expect(e.field.hasSuffix(".default_alphabet") && e.problem.contains("latin1"))
        } catch { Issue.record("\(error)") }
    }

    /// As Kannel's normalize_number: the first match, group by group, prefix by prefix.
    @Test func kannelsOrderFirstMatchWins() {
        let kannelsExample = UnifiedPrefix("+358,00358,0;+,00")!
        #expect(kannelsExample.apply("00358401234567") == "+358401234567")
        #expect(kannelsExample.apply("0401234567") == "+358401234567")
        #expect(kannelsExample.apply("0044123") == "+358044123", "its 0 matches first: order matters")
        #expect(kannelsExample.apply("358401234567") == "358401234567")
        let ordered = UnifiedPrefix("+,00;+358,0")!
        #expect(ordered.apply("0044123") == "+44123")
        #expect(ordered.apply("0401234567") == "+358401234567")
        #expect(UnifiedPrefix("-,9")!.apply("9447700900123") == "447700900123", "- removes the prefix")
    }
}
