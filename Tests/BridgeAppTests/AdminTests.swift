import Foundation
import Logging
import Testing
import TestSupport
import XCTest

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// Admin actions (issue 24) against a running bridge: `ctl` stops and starts one carrier
/// without losing a message, the stop holds across SIGHUP, the log level changes, and
/// every refusal (no token, a wrong one, not loopback) is answered, logged and counted.
final class AdminTests: BridgeProcessCase {
    let token = "s3cret-admin-token-0123456789"

    func ctl(_ bridge: BridgeProcess, _ args: [String], token: String? = nil) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = bridgeBinary()
        p.arguments = ["ctl"] + args + ["--url", bridge.base]
        var env = ProcessInfo.processInfo.environment
        env["SMPP_BRIDGE_ADMIN_TOKEN"] = token ?? self.token
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    func status(_ bridge: BridgeProcess) throws -> BridgeStatus {
        try BridgeStatus.decoder.decode(BridgeStatus.self, from: BridgeHTTP.request(bridge.base, path: "/status").body)
    }

    func testCtlStopsAndStartsACarrierWithoutLosingAMessageAndTheStopHoldsAcrossSIGHUP() throws {
        let url = try TestDatabase.fresh()
        try (token + "\n").write(toFile: dir + "/admin.token", atomically: true, encoding: .utf8)
        let sim = try makeSim(count: 3000, rate: 400, seed: 53)
        let other = try makeSim(count: 100_000, rate: 50, seed: 54)
        defer { other.stop() }
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 2), ("other", other.port, 1)],
                                       extra: "[admin]\ntoken_file = \"\(dir)/admin.token\"\n")
        try bridge.start()
        XCTAssertTrue(waitUntil(30) { sim.currentSummary.messagesDone > 500 })

        // Refusals: no token, a wrong one. Counted and logged with the peer.
        XCTAssertEqual(try BridgeHTTP.request(bridge.base, method: "POST", path: "/admin/carriers/sim/stop").status, 401)
        let wrong = try ctl(bridge, ["carrier", "stop", "sim"], token: "not-the-token-at-all")
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.out.contains("401"), wrong.out)
        XCTAssertEqual(bridge.metric("smpp_bridge_admin_requests_total", ["action": "carrier_stop", "result": "unauthorized"]), 2)
        XCTAssertEqual(try ctl(bridge, ["carrier", "stop", "nosuch"]).status, 1, "an unknown carrier is refused")
        XCTAssertEqual(try BridgeHTTP.request(bridge.base, method: "GET", path: "/admin/carriers/sim/stop",
                                           headers: ["Authorization": "Bearer \(token)"]).status, 405)

        // Stop: the binds drain (what they read is stored and acked), the carrier shows stopped, the bridge stays ready.
        let stop = try ctl(bridge, ["carrier", "stop", "sim"])
        XCTAssertEqual(stop.status, 0, stop.out)
        XCTAssertEqual(stop.out.trimmingCharacters(in: .whitespacesAndNewlines), "carrier_stop sim stopped")
        XCTAssertEqual(try status(bridge).carriers.first { $0.name == "sim" }?.state, "stopped")
        XCTAssertEqual(bridge.metric("smpp_bridge_bind_up", ["carrier": "sim"]), 0)
        let ready = try BridgeHTTP.request(bridge.base, path: "/readyz")
        let readyText = String(decoding: ready.body, as: UTF8.self)
        XCTAssertEqual(ready.status, 200, readyText)
        XCTAssertTrue(readyText.contains("stopped by admin: sim"), readyText)
        XCTAssertEqual(bridge.metric("smpp_bridge_bind_up", ["carrier": "other"]), 1, "the other carrier is untouched")
        let done = sim.currentSummary.messagesDone
        usleep(1_500_000)
        XCTAssertLessThanOrEqual(sim.currentSummary.messagesDone, done + 64, "nothing more is taken from a stopped carrier")

        // SIGHUP keeps it stopped.
        kill(bridge.process!.processIdentifier, SIGHUP)
        XCTAssertTrue(waitUntil(10) { bridge.metric("smpp_bridge_config_reload_timestamp_seconds") > 0 })
        XCTAssertEqual(try status(bridge).carriers.first { $0.name == "sim" }?.state, "stopped", "a SIGHUP does not undo an operator's stop")

        // Start: the SMSC redelivers what was left unacked, and every message is stored once.
        let start = try ctl(bridge, ["carrier", "start", "sim"])
        XCTAssertEqual(start.status, 0, start.out)
        XCTAssertEqual(try status(bridge).carriers.first { $0.name == "sim" }?.state, "running")
        try assertDelivered(sim, url: url, timeout: 120)
        XCTAssertEqual(try ctl(bridge, ["carrier", "restart", "other"]).out.trimmingCharacters(in: .whitespacesAndNewlines), "carrier_restart other restarted")

        // The log level changes at run time; ctl status reads /status.
        XCTAssertEqual(try ctl(bridge, ["log-level", "debug"]).out.trimmingCharacters(in: .whitespacesAndNewlines), "log_level info -> debug")
        XCTAssertEqual(try status(bridge).logLevel, "debug")
        XCTAssertEqual(try ctl(bridge, ["log-level", "loud"]).status, 1, "a bad level is refused")
        let st = try ctl(bridge, ["status"])
        XCTAssertTrue(st.out.contains("carrier sim: running") && st.out.contains("carrier other: running"), st.out)

        XCTAssertEqual(bridge.metric("smpp_bridge_admin_requests_total", ["action": "carrier_stop", "result": "ok"]), 1)
        XCTAssertEqual(bridge.metric("smpp_bridge_admin_requests_total", ["action": "carrier_start", "result": "ok"]), 1)
        let log = bridge.log
        XCTAssertTrue(log.contains("\"msg\":\"admin action\"") && log.contains("\"peer\":\"127.0.0.1:"), "actions logged with the peer")
        XCTAssertTrue(log.contains("\"msg\":\"admin request refused\""))
        XCTAssertFalse(log.contains(token), "the token is never logged")
        XCTAssertEqual(bridge.stop(), 0)
    }

    /// Admin actions are answered on loopback only, even when the listener is not.
    func testAdminIsRefusedFromANonLoopbackAddress() throws {
        guard let ip = Self.nonLoopbackIPv4() else { throw XCTSkip("this host has no non-loopback IPv4 address") }
        let url = try TestDatabase.fresh()
        try (token + "\n").write(toFile: dir + "/admin.token", atomically: true, encoding: .utf8)
        let sim = try makeSim(count: 10, seed: 55)
        defer { sim.stop() }
        let bridge = try BridgeProcess(url: url, dir: dir, carriers: [("sim", sim.port, 1)], extra: "[admin]\ntoken_file = \"\(dir)/admin.token\"\n")
        let text = try String(contentsOfFile: bridge.configPath, encoding: .utf8)
            .replacingOccurrences(of: "listen = \"127.0.0.1:", with: "allow_non_loopback = true\nlisten = \"0.0.0.0:")
        try text.write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
        try bridge.start()
        let remote = "http://\(ip):\(bridge.metricsPort)"
        XCTAssertEqual(try BridgeHTTP.request(remote, method: "POST", path: "/admin/log-level?level=debug",
                                           headers: ["Authorization": "Bearer \(token)"]).status, 403)
        XCTAssertEqual(try BridgeHTTP.request(remote, path: "/metrics").status, 200, "metrics are served where configured")
        XCTAssertEqual(bridge.metric("smpp_bridge_admin_requests_total", ["action": "log_level", "result": "forbidden"]), 1)
        XCTAssertEqual(try status(bridge).logLevel, "info")
        XCTAssertEqual(bridge.stop(), 0)
    }

    static func nonLoopbackIPv4() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var p = list
        while let i = p {
            defer { p = i.pointee.ifa_next }
            guard let a = i.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(a, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let s = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !s.hasPrefix("127.") { return s }
        }
        return nil
    }
}

@Suite struct AdminParsingTests {
    @Test(arguments: [
        ("/admin/carriers/alpha-1/stop", "", AdminAction.stopCarrier("alpha-1")),
        ("/admin/carriers/alpha-1/start", "", AdminAction.startCarrier("alpha-1")),
        ("/admin/carriers/b/restart", "", AdminAction.restartCarrier("b")),
        ("/admin/log-level", "debug", AdminAction.setLogLevel(.debug)),
    ])
    func actionsParse(path: String, level: String, want: AdminAction) throws {
        let got = try #require(AdminAction.parse(path: path, query: level.isEmpty ? [] : [("level", level)]))
        #expect(try got.get() == want)
    }

    @Test(arguments: ["/admin", "/admin/carriers/x", "/admin/carriers/x/explode", "/admin/carriers/x/stop/now", "/admin/other"])
    func unknownPathsAreNoAction(path: String) {
        #expect(AdminAction.parse(path: path, query: []) == nil)
    }

    @Test(arguments: ["", "loud", "DEBUG", "-1"])
    func badLevelsAre400(level: String) {
        guard case .failure(let e)? = AdminAction.parse(path: "/admin/log-level", query: [("level", level)]) else {
            Issue.record("\(level) accepted")
            return
        }
        #expect(e.status == 400)
    }

    @Test(arguments: [
        ("Bearer 0123456789abcdef", true), ("Bearer 0123456789abcdeF", false), ("Bearer 0123456789abcde", false),
        ("Bearer 0123456789abcdef0", false), ("bearer 0123456789abcdef", false), ("0123456789abcdef", false), ("", false),
    ])
    func tokens(header: String, ok: Bool) {
        #expect(AdminHooks.tokenMatches(header, "0123456789abcdef") == ok)
        #expect(AdminHooks.tokenMatches(nil, "0123456789abcdef") == false)
    }

    @Test func peersOnLoopbackAreKnown() {
        func v4(_ s: String) -> sockaddr_storage {
            var st = sockaddr_storage()
            withUnsafeMutablePointer(to: &st) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    p.pointee.sin_family = sa_family_t(AF_INET)
                    p.pointee.sin_port = UInt16(4242).bigEndian
                    inet_pton(AF_INET, s, &p.pointee.sin_addr)
                }
            }
            return st
        }
        #expect(BoundedHTTPServer.describe(v4("127.0.0.1")) == ("127.0.0.1:4242", true))
        #expect(BoundedHTTPServer.describe(v4("127.8.9.10")).loopback)
        #expect(BoundedHTTPServer.describe(v4("10.0.0.5")) == ("10.0.0.5:4242", false))
    }
}
