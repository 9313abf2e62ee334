import Foundation
import Routing
import XCTest

final class OTPExtractorTests: XCTestCase {
    struct Case: Decodable {
        var lang: String
        var sender: String
        var text: String
        var code: String
        var service: String?
    }

    static func corpus() throws -> [Case] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("otp-corpus.jsonl")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(Case.self, from: Data($0.utf8))
        }
    }

    /// Normalizes "482-913" / "482 913" / "482913" for comparison: the storefront
    /// shows the code as sent, but a separator difference is not a wrong code.
    static func same(_ a: String, _ b: String) -> Bool {
        a.filter { $0 != "-" && $0 != " " } == b.filter { $0 != "-" && $0 != " " } || a == b
    }

    func testCorpusPrecisionAndRecall() throws {
        let cases = try Self.corpus()
        XCTAssertGreaterThanOrEqual(cases.count, 100)
        XCTAssertGreaterThanOrEqual(Set(cases.map(\.lang)).count, 8)
        let x = OTPExtractor()
        var tp = 0, fp = 0, fn = 0, tn = 0, wrong = 0
        var failures: [String] = []
        for c in cases {
            let got = x.extract(text: c.text, sender: c.sender, service: c.service)
            switch (c.code.isEmpty, got) {
            case (true, nil): tn += 1
            case (true, let g?):
                fp += 1
                failures.append("FP [\(c.lang)] \(c.text) -> \(g.code) (\(g.rule) \(g.confidence))")
            case (false, nil):
                fn += 1
                failures.append("FN [\(c.lang)] \(c.text)")
            case (false, let g?):
                if Self.same(g.code, c.code) { tp += 1 } else {
                    wrong += 1
                    failures.append("WRONG [\(c.lang)] \(c.text) -> \(g.code) want \(c.code) (\(g.rule))")
                }
            }
        }
        let precision = Double(tp) / Double(max(1, tp + fp + wrong))
        let recall = Double(tp) / Double(max(1, tp + fn + wrong))
        print("OTP corpus: \(cases.count) messages, \(Set(cases.map(\.lang)).count) languages; tp \(tp) fp \(fp) fn \(fn) wrong \(wrong) tn \(tn); precision \(String(format: "%.3f", precision)) recall \(String(format: "%.3f", recall))")
        for f in failures { print("  " + f) }
        XCTAssertGreaterThanOrEqual(precision, 0.95)
        XCTAssertGreaterThanOrEqual(recall, 0.95)
    }

    func testRulesAndTemplates() {
        let x = OTPExtractor()
        XCTAssertEqual(x.extract(text: "G-123456 is your Google verification code.", sender: "Google")?.rule, "google:G-######")
        XCTAssertEqual(x.extract(text: "code 123-456", sender: "WhatsApp")?.code, "123-456")
        // The template must not match inside a longer number.
        XCTAssertNil(OTPExtractor(rules: OTPRules(rules: [OTPRule(service: "s", senders: ["S"], codes: ["####"])], minimumConfidence: 0.99))
            .extract(text: "ref 123456789", sender: "S"))
        XCTAssertTrue(OTPRule(service: "b", senders: ["Bank*"]).matches(sender: "BankXYZ"))
        XCTAssertEqual(x.extract(text: "Your code is 5521", sender: "Unknown")?.rule, "generic")
        let result = x.extract(text: "Your code is 5521", sender: "Unknown")!
        XCTAssertGreaterThan(result.confidence, 0.5)
        XCTAssertLessThanOrEqual(result.confidence, 1)
    }

    /// `*` (every sender) is a prefix pattern with nothing to compare.
    func testACatchAllSenderPatternMatchesEverySender() {
        let x = OTPExtractor(rules: OTPRules(rules: [OTPRule(service: "any", senders: ["*"], codes: ["####"])]))
        for sender in ["Uber", "x", "Café", ""] { XCTAssertEqual(x.match(sender: sender).service, "any", sender) }
    }

    /// Exact, prefix (`Bank*`) and contains (`*pay*`) sender patterns, case-folded:
    /// printable ASCII is compared as bytes, anything else as Characters.
    func testSenderPatterns() {
        let x = OTPExtractor(rules: OTPRules(rules: [
            OTPRule(service: "exact", senders: ["Uber"], codes: ["####"]),
            OTPRule(service: "prefix", senders: ["Bank*"], codes: ["####"]),
            OTPRule(service: "contains", senders: ["*pay*"], codes: ["####"]),
            OTPRule(service: "unicode", senders: ["*café*", "Сбер*"], codes: ["####"]),
        ]))
        let cases: [(String, String?)] = [
            ("Uber", "exact"), ("UBER", "exact"), ("Uber2", nil), ("Ube", nil), ("", nil),
            ("BankXYZ", "prefix"), ("bank", "prefix"), ("Ban", nil), ("MyBank", nil),
            ("PayPal", "contains"), ("GPAY", "contains"), ("ApplePay", "contains"), ("pa", nil), ("p a y", nil),
            ("Le Café Bleu", "unicode"), ("LE CAFÉ", "unicode"), ("Le Cafe\u{301}", "unicode"), ("cafe", nil),
            ("СберБанк", "unicode"), ("Сбе", nil),
        ]
        for (sender, service) in cases {
            XCTAssertEqual(x.match(sender: sender).service, service, sender)
        }
    }
}
