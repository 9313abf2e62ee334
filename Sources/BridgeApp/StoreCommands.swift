import ArgumentParser
import Foundation
import Store

/// Where the database URL comes from: an environment variable or a file (it holds
/// a password, so never a command-line flag, which `ps` would show).
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Environment variable holding the database URL or conninfo.") var databaseURLEnv = "BRIDGE_DATABASE_URL"
    @Option(help: "File holding the database URL (overrides --database-url-env).") var databaseURLFile: String?

    func url() throws -> String {
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

    func run() throws {
        let conn = try PostgresConnection(try db.url())
        if check {
            let pending = try Migrator.pending(conn)
            print(pending.isEmpty ? "schema up to date" : "pending migrations: \(pending.map(String.init).joined(separator: ", "))")
            if !pending.isEmpty { throw ExitCode(1) }
            return
        }
        let applied = try Migrator.migrate(conn)
        print(applied.isEmpty ? "schema up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
    }
}

/// `smpp-bridge retention --older-than 180d`: drops whole monthly partitions.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Drop message partitions entirely older than a cutoff (e.g. --older-than 180d).")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Age cutoff: days (180d) or weeks (26w).") var olderThan: String

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
        let dropped = try Migrator.retention(conn, olderThanDays: Self.days(olderThan)!)
        print(dropped.isEmpty ? "nothing to drop" : "dropped: \(dropped.joined(separator: ", "))")
    }
}
