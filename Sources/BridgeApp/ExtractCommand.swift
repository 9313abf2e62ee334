import BridgeRuntime
import ArgumentParser
import Foundation
import Routing
import SMPPWire

/// `smpp-bridge extract`: operators test OTP rules with it.
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract OTP codes from JSON lines on stdin: {\"sender\": ..., \"text\": ..., \"service\": ...}.",
        discussion: """
            Prints one JSON line per input line: {"code": ... or null, "confidence": ..., "rule": ...}.
            --rules takes the same rules file as the bridge (JSON: {"rules": [{"service", "senders", "codes", \
            "keywords"}], "minimumConfidence": 0.5}); without it the built-in defaults apply.
            """
    )

    @Option(help: "OTP rules file (JSON). Default: the built-in rules.")
    var rules: String?

    @Flag(help: "Print the built-in rules as JSON and exit.")
    var printDefaults = false

    func run() throws {
        if printDefaults {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(OTPRules.defaults), as: UTF8.self))
            return
        }
        let extractor = OTPExtractor(rules: try ExtractCommand.loadRules(rules))
        var out = OutputBuffer()
        while let line = readLine(strippingNewline: true) {
            out.write(ExtractCommand.process(line: line, extractor: extractor) + "\n")
        }
        out.flush()
    }

    static func loadRules(_ path: String?) throws -> OTPRules {
        guard let path else { return .defaults }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ValidationError("\(path): cannot read the rules file")
        }
        do { return try JSONDecoder().decode(OTPRules.self, from: data) } catch let DecodingError.keyNotFound(k, ctx) {
            throw ValidationError("\(path): missing field '\((ctx.codingPath + [k]).map(\.stringValue).joined(separator: "."))'")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ValidationError("\(path): field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw ValidationError("\(path): not a valid rules file (\(error))")
        }
    }

    /// One input line to one output line. Bad input gets an `error`, never a crash.
    static func process(line: String, extractor: OTPExtractor) -> String {
        guard !line.trimmingCharacters(in: .whitespaces).isEmpty else {
            return FieldValue.object([.init("error", .string("empty line"))]).json
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            return FieldValue.object([.init("error", .string("not a JSON object"))]).json
        }
        guard let text = obj["text"] as? String else {
            return FieldValue.object([.init("error", .string("missing string field 'text'"))]).json
        }
        let r = extractor.extract(text: text, sender: obj["sender"] as? String, service: obj["service"] as? String)
        return FieldValue.object([
            .init("code", r.map { .string($0.code) } ?? .null),
            .init("confidence", r.map { .string(String(format: "%.2f", $0.confidence)) } ?? .int(0)),
            .init("rule", r.map { .string($0.rule) } ?? .null),
        ]).json.replacingOccurrences(of: #""confidence":"([0-9.]+)""#, with: #""confidence":$1"#, options: .regularExpression)
    }
}
