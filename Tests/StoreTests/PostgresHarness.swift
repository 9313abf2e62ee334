import Foundation
import Store
import XCTest

@testable import BridgeApp

/// The store tests' PostgreSQL: one throwaway server per test process (the same
/// `ThrowawayPostgres` the demo uses, fsync off), a fresh database per test, stopped
/// at exit.
final class PostgresHarness: @unchecked Sendable {
    static let shared: Result<PostgresHarness, HarnessError> = {
        do {
            let h = PostgresHarness(try ThrowawayPostgres(fsync: false))
            nonisolated(unsafe) let server = h.server
            PostgresHarness.cleanup = { server.destroy() }
            atexit { PostgresHarness.cleanup?() }
            return .success(h)
        } catch { return .failure(HarnessError(message: "\(error)")) }
    }()

    struct HarnessError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    nonisolated(unsafe) static var cleanup: (() -> Void)?
    let server: ThrowawayPostgres
    private var databases = 0
    private let lock = NSLock()

    init(_ server: ThrowawayPostgres) { self.server = server }

    var port: Int { server.port }
    var adminURL: String { server.url }

    /// Stops PostgreSQL abruptly (immediate mode: like a crash) and starts it again after `downFor` seconds.
    func restart(downFor: Double) throws {
        try server.stop(immediate: true)
        usleep(UInt32(downFor * 1_000_000))
        try server.start()
    }

    /// A fresh, empty database for one test.
    func freshDatabase() throws -> String {
        let n: Int = lock.withLock { databases += 1; return databases }
        let name = "t\(getpid())_\(n)"
        try PostgresConnection(adminURL).execute("CREATE DATABASE \(name)")
        return server.url(database: name)
    }

    static func database(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        switch shared {
        case .success(let h): return try h.freshDatabase()
        case .failure(let e):
            XCTFail("no PostgreSQL for the tests: \(e)", file: file, line: line)
            throw e
        }
    }
}
