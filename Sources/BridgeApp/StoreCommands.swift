import BridgeRuntime
import ArgumentParser
import Foundation
import Routing
import SMPPWire
import Store

/// Where the database URL comes from: an environment variable or a file (it holds
/// a password, so never a command-line flag, which `ps` would show).
package struct DatabaseOptions: ParsableArguments {
    @Option(help: "Environment variable holding the database URL or conninfo.") var databaseURLEnv = "BRIDGE_DATABASE_URL"
    @Option(help: "File holding the database URL (overrides --database-url-env).") var databaseURLFile: String?

    package init() {}

    package func url() throws -> String {
        if let f = databaseURLFile {
            guard let s = try? String(contentsOfFile: f, encoding: .utf8) else { throw ValidationError("--database-url-file: cannot read \(f)") }
            return s.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let s = ProcessInfo.processInfo.environment[databaseURLEnv], !s.isEmpty else {
            throw ValidationError("--database-url-env: environment variable \(databaseURLEnv) is not set")
        }
        return s
    }
}

/// `smpp-bridge migrate`: applies the schema migrations shipped in the binary.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the database migrations (idempotent; safe with several instances).")
    @OptionGroup var db: DatabaseOptions
    @Flag(help: "Only report pending migrations; exit 1 if any.") var check = false
    @Option(name: .customLong("dedup-window-s"),
            help: "The bridge's routing.dedup_window_s: keys stored this recently are carried over by the dedup-key upgrade (migration 7).")
    var dedupWindowSeconds = BatchWriter.Config.defaultDedupWindowSeconds

    func run() throws {
        let conn = try PostgresConnection(try db.url())
        if check {
            let pending = try Migrator.pending(conn)
            print(pending.isEmpty ? "schema up to date" : "pending migrations: \(pending.map(String.init).joined(separator: ", "))")
            if !pending.isEmpty { throw ExitCode(1) }
            return
        }
        let applied = try Migrator.migrate(conn, context: .init(dedupWindowSeconds: dedupWindowSeconds))
        print(applied.isEmpty ? "schema up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
    }
}

/// `smpp-bridge retention --older-than 180d [--dry-run] [--archive-command CMD]`:
/// detaches whole monthly partitions concurrently, archives each if asked, drops it.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Drop message partitions entirely older than a cutoff (e.g. --older-than 180d).",
        discussion: """
            Each partition is detached with DETACH PARTITION … CONCURRENTLY (the running bridges keep inserting), \
            then --archive-command runs for it (its name in $SMPP_PARTITION; e.g. \
            'pg_dump -t "$SMPP_PARTITION" -Fc -f /archive/"$SMPP_PARTITION".dump "$PGDATABASE"'), and only once that \
            exits 0 is the partition dropped. A failing archive leaves it detached and stops with exit 1.
            """)
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Age cutoff: days (180d) or weeks (26w).") var olderThan: String
    @Flag(help: "Say what would go; change nothing.") var dryRun = false
    @Option(help: "A shell command run for each detached partition before it is dropped ($SMPP_PARTITION is its name).")
    var archiveCommand: String?

    static func days(_ s: String) -> Int? {
        guard let unit = s.last, let n = Int(s.dropLast()), n > 0 else { return nil }
        switch unit {
        case "d": return n
        case "w": return n * 7
        default: return nil
        }
    }

    func validate() throws {
        guard let d = Self.days(olderThan) else { throw ValidationError("--older-than: expected a number of days or weeks, like 180d or 26w") }
        if d < 7 { throw ValidationError("--older-than: refusing to drop data younger than 7 days") }
    }

    func run() throws {
        let conn = try PostgresConnection(try db.url())
        let command = archiveCommand
        let r = try Migrator.retention(conn, olderThanDays: Self.days(olderThan)!, dryRun: dryRun) { partition in
            guard let command else { return }
            try Self.archive(partition, with: command)
        }
        let verb = dryRun ? "would drop" : "dropped"
        print(r.partitions.isEmpty ? "no partition to drop" : "\(verb): \(r.partitions.joined(separator: ", "))")
        print("\(dryRun ? "would delete" : "deleted"): \(r.dedupRows) dedup keys, \(r.partRows) part rows")
    }

    struct ArchiveFailed: Error, CustomStringConvertible { var description: String }

    static func archive(_ partition: String, with command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.environment = ProcessInfo.processInfo.environment.merging(["SMPP_PARTITION": partition]) { $1 }
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ArchiveFailed(description: "archive command exited \(p.terminationStatus) for \(partition): it stays detached, not dropped")
        }
    }
}

/// `smpp-bridge reroute --since 15m [--dry-run]`: late matching by hand. Routes the
/// unmatched messages of the last `--since` that a lease now covers, exactly as the
/// running bridge does when a lease arrives (`LateMatcher`), and prints one JSON
/// line per message (numbers and codes masked unless `--reveal`).
struct RerouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reroute",
        abstract: "Route unmatched messages whose lease arrived after them (late matches), as the bridge does on a lease change.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "How far back: seconds, minutes, hours or days (90s, 15m, 2h, 1d).") var since: String
    @Flag(help: "Only list what would be routed.") var dryRun = false
    @Option(help: "OTP rules file (routing.otp_rules_file); the built-in rules otherwise.") var otpRulesFile: String?
    @Flag(help: "Show numbers and codes in full.") var reveal = false

    static func seconds(_ s: String) -> Int? {
        guard let unit = s.last, let n = Int(s.dropLast()), n > 0 else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86_400
        default: return nil
        }
    }

    func validate() throws {
        guard let s = Self.seconds(since) else { throw ValidationError("--since: expected a duration like 90s, 15m, 2h or 1d") }
        if s > 31 * 86_400 { throw ValidationError("--since: at most 31d (a lease reaches back no further than its own start)") }
    }

    func run() throws {
        let conn = try PostgresConnection(try db.url(), applicationName: "smpp-bridge-reroute")
        let extractor = OTPExtractor(rules: try BridgeService.loadRules(otpRulesFile))
        let routed = try LateMatcher.run(conn, lookbackSeconds: Self.seconds(since)!, dryRun: dryRun, extractor: extractor)
        let mask = Mask(reveal: reveal)
        struct Line: Encodable {
            var message_id: Int64, received_at: String, msisdn: String, order_id: Int64, code: String?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for m in routed {
            let line = Line(message_id: m.messageID, received_at: m.receivedAt, msisdn: mask.number(m.msisdn), order_id: m.orderID,
                            code: mask.code(m.code))
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
        }
        FileHandle.standardError.write(Data("\(dryRun ? "would route" : "routed") \(routed.count) message(s)\n".utf8))
    }
}
