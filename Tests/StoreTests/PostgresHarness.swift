import Foundation
import Store
import XCTest

/// A throwaway PostgreSQL server for the tests: initdb in a temp folder, a free
/// port, a private socket directory; run as the `postgres` user when the tests run
/// as root (postgres refuses root). Started once per test process, stopped at exit.
final class PostgresHarness: @unchecked Sendable {
    static let shared: Result<PostgresHarness, HarnessError> = {
        do { return .success(try PostgresHarness()) } catch let e as HarnessError { return .failure(e) } catch {
            return .failure(HarnessError(message: "\(error)"))
        }
    }()

    struct HarnessError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    let dir: String
    let port: Int
    let bin: String
    let asRoot: Bool
    private var databases = 0
    private let lock = NSLock()
    nonisolated(unsafe) static var stopCommand: [String] = []
    nonisolated(unsafe) static var dataDir = ""

    init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let v = versions.compactMap(Int.init).max() else {
            throw HarnessError(message: "PostgreSQL server not installed (make test installs the postgresql package)")
        }
        bin = "/usr/lib/postgresql/\(v)/bin"
        asRoot = getuid() == 0
        var template = Array("/tmp/smpp-pg-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw HarnessError(message: "mkdtemp failed") }
        dir = String(cString: p)
        if asRoot { try Self.run(["chown", "postgres", dir], asPostgres: false) }
        try Self.run([bin + "/initdb", "-D", dir + "/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], asPostgres: asRoot)
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        close(s)
        try Self.run([bin + "/pg_ctl", "-D", dir + "/data", "-l", dir + "/pg.log", "-w", "-t", "60", "-o",
                      "-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", "start"], asPostgres: asRoot)
        Self.dataDir = dir
        Self.stopCommand = (asRoot ? ["runuser", "-u", "postgres", "--"] : []) + [bin + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop"]
        atexit {
            _ = system(PostgresHarness.stopCommand.map { "'" + $0 + "'" }.joined(separator: " ") + " > /dev/null 2>&1 < /dev/null; rm -rf '\(PostgresHarness.dataDir)'")
        }
    }

    /// Runs a command through /bin/sh, output to a file (a forked postmaster must not
    /// hold a pipe of ours open), and fails with that output.
    static func run(_ args: [String], asPostgres: Bool) throws {
        let quoted = ((asPostgres ? ["runuser", "-u", "postgres", "--"] : []) + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let out = "/tmp/smpp-pg-cmd-\(getpid()).log"
        let rc = system(quoted.joined(separator: " ") + " > \(out) 2>&1 < /dev/null")
        let msg = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        unlink(out)
        guard rc == 0 else { throw HarnessError(message: "\(args.joined(separator: " ")) failed (\(rc)): \(msg)") }
    }

    /// Stops PostgreSQL abruptly (immediate mode: like a crash) and starts it again after `downFor` seconds.
    func restart(downFor: Double) throws {
        try Self.run([bin + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop"], asPostgres: asRoot)
        usleep(UInt32(downFor * 1_000_000))
        try Self.run([bin + "/pg_ctl", "-D", dir + "/data", "-l", dir + "/pg.log", "-w", "-t", "60", "-o",
                      "-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", "start"], asPostgres: asRoot)
    }

    var adminURL: String { "host=127.0.0.1 port=\(port) user=postgres dbname=postgres" }

    /// A fresh, empty database for one test.
    func freshDatabase() throws -> String {
        let n: Int = lock.withLock { databases += 1; return databases }
        let name = "t\(getpid())_\(n)"
        let admin = try PostgresConnection(adminURL)
        try admin.execute("CREATE DATABASE \(name)")
        return "host=127.0.0.1 port=\(port) user=postgres dbname=\(name)"
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
