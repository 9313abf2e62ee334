package import BridgeDevTools
package import BridgeRuntime
import Foundation
package import Store

/// The tests' PostgreSQL: one throwaway server per test process (the demo's
/// `ThrowawayPostgres`, fsync off: tests, not benchmarks), a new database per test,
/// stopped at exit.
package enum TestDatabase {
    package static let server: Result<ThrowawayPostgres, any Error> = Result {
        let pg = try ThrowawayPostgres(fsync: false)
        nonisolated(unsafe) let stop = pg
        Cleanup.stop = { stop.destroy() }
        atexit { Cleanup.stop?() }
        return pg
    }
    private enum Cleanup { nonisolated(unsafe) static var stop: (() -> Void)? }
    nonisolated(unsafe) private static var counter = 0
    private static let lock = NSLock()

    package static var port: Int { get throws { try server.get().port } }
    package static var adminURL: String { get throws { try server.get().url } }

    /// A new, empty database.
    package static func empty() throws -> String {
        let pg = try server.get()
        let name: String = lock.withLock { counter += 1; return "t\(getpid())_\(counter)" }
        try PostgresConnection(pg.url).execute("CREATE DATABASE \(name)")
        return pg.url(database: name)
    }

    /// A new, migrated database with leases for 447700900000 + 0..<leases (every tenth expired).
    package static func fresh(leases: Int = 8000) throws -> String {
        let url = try empty()
        let db = try PostgresConnection(url)
        try Migrator.migrate(db)
        try seedLeases(db, count: leases)
        return url
    }

    /// Leases for 447700900000 + 0..<count to orders 500000 + i, every tenth expired 5 minutes ago.
    package static func seedLeases(_ db: PostgresConnection, count: Int) throws {
        try db.execute("""
            INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at)
            SELECT 500000 + g, (447700900000 + g)::text, 'whatsapp', now() - interval '1 hour',
                   CASE WHEN g % 10 = 0 THEN now() - interval '5 minutes' ELSE now() + interval '2 hours' END
            FROM generate_series(0, $1::int - 1) g
            """, [.text(String(count))])
    }

    /// Stops the server abruptly (immediate mode: like a crash) and starts it again after `downFor` seconds.
    package static func restart(downFor: Double) throws {
        let pg = try server.get()
        try pg.stop(immediate: true)
        usleep(UInt32(downFor * 1_000_000))
        try pg.start()
    }
}
