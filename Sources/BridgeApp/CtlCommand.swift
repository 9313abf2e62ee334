import BridgeRuntime
import ArgumentParser
import Foundation

/// `smpp-bridge ctl`: admin actions on a running bridge, through its admin endpoint
/// (loopback only, a token; off unless `[admin]` is configured: docs/configuration.md).
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl", abstract: "Act on a running bridge: its status, stop/start/restart one carrier, the log level.",
        discussion: """
            The token is read from --token-file or the SMPP_BRIDGE_ADMIN_TOKEN environment variable (the same
            token as the bridge's admin.token_file). Every action is logged by the bridge with the caller's address.
            Exit codes: 0 done; 1 the bridge refused or could not be reached (the reason is printed).
            """,
        subcommands: [Status.self, Carrier.self, LogLevel.self])

    struct Connection: ParsableArguments {
        @Option(help: "The bridge's metrics and admin address.") var url = "http://127.0.0.1:9464"
        @Option(help: "A file holding the admin token.") var tokenFile: String?

        func token() throws -> String {
            if let f = tokenFile {
                guard let t = try? String(contentsOfFile: f, encoding: .utf8) else { throw ValidationError("--token-file: cannot read \(f)") }
                return t.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if let t = ProcessInfo.processInfo.environment["SMPP_BRIDGE_ADMIN_TOKEN"], !t.isEmpty { return t }
            throw ValidationError("no admin token: give --token-file or set SMPP_BRIDGE_ADMIN_TOKEN")
        }

        /// POSTs an action; prints the bridge's answer; fails unless it was done.
        func post(_ path: String) throws {
            let r: (status: Int, body: Data)
            do {
                // A carrier stop waits for its binds to drain (bridge.shutdown_grace_s).
                r = try BridgeHTTP.request(url, method: "POST", path: path, headers: ["Authorization": "Bearer \(try token())"], timeout: 60)
            } catch let e as ValidationError { throw e } catch {
                FileHandle.standardError.write(Data("smpp-bridge ctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
            guard r.status == 200, let result = try? BridgeStatus.decoder.decode(AdminResult.self, from: r.body) else {
                let text = String(decoding: r.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                FileHandle.standardError.write(Data("smpp-bridge ctl: \(r.status): \(text)\n".utf8))
                throw ExitCode(1)
            }
            print([result.action, result.carrier, result.result].compactMap { $0 }.joined(separator: " "))
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The bridge's state: carriers and binds, writer, leases, readiness (GET /status; no token needed).")
        @OptionGroup var connection: Connection
        @Flag(help: "Print the JSON as the bridge sent it.") var json = false

        func run() throws {
            let s: BridgeStatus
            let body: String
            do {
                let r = try BridgeHTTP.request(connection.url, path: "/status")
                guard r.status == 200 else { throw BridgeHTTP.Failure(description: "/status answered \(r.status)") }
                body = String(decoding: r.body, as: UTF8.self)
                s = try BridgeStatus.decoder.decode(BridgeStatus.self, from: r.body)
            } catch {
                FileHandle.standardError.write(Data("smpp-bridge ctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if json { print(body, terminator: ""); return }
            print("\(s.instance): \(s.ready ? "ready" : "NOT READY") (\(s.readiness)); version \(s.version); up \(Int(s.uptimeSeconds)) s; log \(s.logLevel)")
            for c in s.carriers {
                print("  carrier \(c.name): \(c.state)" + (c.state == "running" ? ", last message \(Int(c.silentSeconds)) s ago" : ""))
                for b in c.binds {
                    print("    \(b.name): \(b.state), window \(b.windowInUse), unacked \(b.unackedInbound), reconnects \(b.reconnects)")
                }
            }
            if let w = s.writer {
                print("  writer: \(w.server ?? "not connected") \(w.role ?? ""), queue \(w.queueDepth), last commit "
                    + (w.lastCommitSecondsAgo.map { String(format: "%.1f s ago", $0) } ?? "none") + (w.failing ? ", FAILING" : ""))
            }
            if let l = s.leases { print("  leases: \(l.entries), \(l.listening ? "listening" : "NOT listening")") }
        }
    }

    struct Carrier: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop, start or restart one carrier. A stopped carrier stays stopped across SIGHUP until started (or the bridge restarts).")
        enum Verb: String, ExpressibleByArgument, CaseIterable { case stop, start, restart }
        @Argument(help: "stop (drains its binds: in-flight messages are stored and acked first), start, or restart (re-reads its secret).")
        var verb: Verb
        @Argument(help: "The carrier's name, as in the config.") var name: String
        @OptionGroup var connection: Connection

        func run() throws {
            guard let escaped = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) else {
                throw ValidationError("bad carrier name")
            }
            try connection.post("/admin/carriers/\(escaped)/\(verb.rawValue)")
        }
    }

    struct LogLevel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "log-level", abstract: "Change the log level until the bridge restarts (bridge.log_level is the level at start).")
        @Argument(help: "trace, debug, info, notice, warning, error or critical.") var level: String
        @OptionGroup var connection: Connection

        func run() throws {
            try connection.post("/admin/log-level?level=\(level)")
        }
    }
}
