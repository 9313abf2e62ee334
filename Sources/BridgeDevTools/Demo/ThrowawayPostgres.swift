import BridgeRuntime
import Foundation
import Store
#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL server for the demo and the tests: initdb in a temp
/// folder, a free port on 127.0.0.1, a private socket directory; as the `postgres`
/// user when run as root (postgres refuses root). Durable by default (fsync on).
package final class ThrowawayPostgres: @unchecked Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
        package init(description: String) { self.description = description }
    }

    package let dir: String
    package let port: Int
    package let bin: String
    package let asRoot: Bool
    package let options: String

    package init(fsync: Bool = true) throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let v = versions.compactMap(Int.init).max() else {
            throw Failure(description: "PostgreSQL server not installed (apt-get install postgresql; make demo and make test do it)")
        }
        bin = "/usr/lib/postgresql/\(v)/bin"
        asRoot = getuid() == 0
        var template = Array("/tmp/smpp-pg-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed") }
        dir = String(cString: p)
        if asRoot { try Self.run(["chown", "postgres", dir], asPostgres: false) }
        try Self.run([bin + "/initdb", "-D", dir + "/data", "-A", "trust", "-U", "postgres", "-E", "UTF8"] + (fsync ? [] : ["--no-sync"]), asPostgres: asRoot)
        port = try Self.freePort()
        options = "-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=128MB" + (fsync ? "" : " -c fsync=off")
        try start()
    }

    package var url: String { "host=127.0.0.1 port=\(port) user=postgres dbname=postgres" }

    package func url(database: String) -> String { "host=127.0.0.1 port=\(port) user=postgres dbname=\(database)" }

    package func start() throws {
        try Self.run([bin + "/pg_ctl", "-D", dir + "/data", "-l", dir + "/pg.log", "-w", "-t", "60", "-o", options, "start"], asPostgres: asRoot)
    }

    /// Stops abruptly (like a crash) when `immediate`, else cleanly.
    package func stop(immediate: Bool = false) throws {
        try Self.run([bin + "/pg_ctl", "-D", dir + "/data", "-m", immediate ? "immediate" : "fast", "-w", "stop"], asPostgres: asRoot)
    }

    /// Stops the server and removes its folder.
    package func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    package static func freePort() throws -> Int {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
        guard rc == 0 else { throw Failure(description: "no free port") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Runs a command through /bin/sh with output to a file (a forked postmaster must
    /// not hold a pipe of ours open); fails with that output.
    package static func run(_ args: [String], asPostgres: Bool) throws {
        let quoted = ((asPostgres ? ["runuser", "-u", "postgres", "--"] : []) + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let out = "/tmp/smpp-pg-cmd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        let rc = system(quoted.joined(separator: " ") + " > \(out) 2>&1 < /dev/null")
        let msg = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        unlink(out)
        guard rc == 0 else { throw Failure(description: "\(args.joined(separator: " ")) failed (\(rc)): \(msg)") }
    }
}
