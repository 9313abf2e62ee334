import Foundation
import Testing

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// Environment overrides get the file's parsing, range checks and unknown-key errors.
@Suite struct ConfigOverrideTests {
    static let minimal = """
        [[carrier]]
        name = "agg-a"
        host = "127.0.0.1"
        port = 2775
        system_id = "trueotp"
        password_env = "AGG_A_PASSWORD"
        """

    /// Every key docs/configuration.md documents for the four sections, set through the
    /// environment to its documented default, is accepted.
    static var documented: [(String, String, String)] {
        let doc = (try? String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md"), encoding: .utf8)) ?? ""
        var out: [(String, String, String)] = []
        var section = ""
        for line in doc.split(separator: "\n") {
            if line.hasPrefix("## `[") { section = String(line.dropFirst(5).prefix { $0 != "]" }) }
            guard ["bridge", "database", "metrics", "routing"].contains(section), line.hasPrefix("| `") else { continue }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let key = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            var value = cells[1].components(separatedBy: " ")[0].trimmingCharacters(in: CharacterSet(charactersIn: "`\""))
            if value == "–" || value == "built-in" { value = key.hasSuffix("_file") ? "/dev/null" : "x" }
            out.append((section, key, value))
        }
        return out
    }

    @Test func theDocumentListsKeys() { #expect(Self.documented.count >= 20) }

    @Test(arguments: documented.map { "\($0.0)|\($0.1)|\($0.2)" })
    func everyDocumentedKeyWorksFromTheEnvironment(_ row: String) throws {
        let p = row.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        var env = ["BRIDGE_\(p[0].uppercased())_\(p[1].uppercased())": p[2]]
        if p[1] == "url_file" { env["BRIDGE_DATABASE_URL_FILE"] = "/dev/null" }
        if p[1] == "allow_non_loopback" { env["BRIDGE_METRICS_ALLOW_NON_LOOPBACK"] = "false" }
        _ = try ConfigLoader.parse(Self.minimal, file: "t.toml", environment: env)
    }

    @Test(arguments: [
        ("BRIDGE_DATABASE_BATCH_MAX_WAIT_MS", "-1", "database.batch_max_wait_ms (from BRIDGE_DATABASE_BATCH_MAX_WAIT_MS)"),
        ("BRIDGE_DATABASE_BATCH_MAX_ROWS", "0", "database.batch_max_rows (from BRIDGE_DATABASE_BATCH_MAX_ROWS)"),
        ("BRIDGE_DATABASE_CONNECTIONS", "many", "database.connections (from BRIDGE_DATABASE_CONNECTIONS)"),
        ("BRIDGE_ROUTING_DEDUP_WINDOW_S", "0", "routing.dedup_window_s (from BRIDGE_ROUTING_DEDUP_WINDOW_S)"),
        ("BRIDGE_BRIDGE_LOG_LEVEL", "loud", "bridge.log_level (from BRIDGE_BRIDGE_LOG_LEVEL)"),
        ("BRIDGE_METRICS_ALLOW_NON_LOOPBACK", "maybe", "metrics.allow_non_loopback (from BRIDGE_METRICS_ALLOW_NON_LOOPBACK)"),
        ("BRIDGE_DATABSE_URL", "postgres://x", "BRIDGE_DATABSE_URL"),
        ("BRIDGE_ROUTING_NO_SUCH_KEY", "1", "routing.no_such_key"),
        ("BRIDGE_CARRIER_AGG_B_PORT", "2775", "BRIDGE_CARRIER_AGG_B_PORT"),
        ("BRIDGE_CARRIER_AGG_A_PORT", "70000", "carrier[0] (agg-a).port"),
    ])
    func badOverridesAreErrorsNamingTheVariable(name: String, value: String, field: String) {
        #expect {
            try ConfigLoader.parse(Self.minimal, file: "t.toml", environment: [name: value])
        } throws: { e in
            guard let e = e as? ConfigError else { return false }
            return e.field.hasPrefix(field)
        }
    }

    @Test func overridesWinOverTheFile() throws {
        let c = try ConfigLoader.parse(Self.minimal + "\n[database]\nbatch_max_rows = 10\n", file: "t.toml",
                                       environment: ["BRIDGE_DATABASE_BATCH_MAX_ROWS": "500", "BRIDGE_BRIDGE_INSTANCE": "1234",
                                                     "BRIDGE_DATABASE_APPLY_MIGRATIONS": "yes"])
        #expect(c.batchMaxRows == 500)
        #expect(c.instance == "1234")
        #expect(c.applyMigrations)
    }
}
