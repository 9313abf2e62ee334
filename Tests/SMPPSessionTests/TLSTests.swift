import Dispatch
import Foundation
import SMPPSession
import SMPPSimulator
import SMPPWire
import TestSupport
import XCTest

final class TLSTests: XCTestCase {
    static let certs: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smpp-tls-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("make-certs.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, dir.path]
        try? p.run()
        p.waitUntilExit()
        return dir
    }()

    func path(_ name: String) -> String { Self.certs.appendingPathComponent(name).path }

    /// A TLS simulator presenting `cert`.
    func simulator(cert: String, count: Int = 20) throws -> (SMSCSimulator, Int) {
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("ca.pem")), "certificates were not generated (python3 + cryptography)")
        var c = SimulatorConfig()
        c.count = count
        c.tls = TLSConfig(certificateFile: path(cert + ".pem"), keyFile: path(cert + ".key"))
        let sim = SMSCSimulator(config: c)
        return (sim, try sim.start())
    }

    func session(port: Int, serverName: String = "localhost", insecure: Bool = false, events: EventLog? = nil) -> ESMESession {
        var c = sessionConfig(port: port)
        c.tls = TLSConfig(caFile: path("ca.pem"), serverName: serverName, insecure: insecure)
        let s = ESMESession(config: c, handler: Collector.retained())
        if let events { s.onEvent = { n, d in events.add(n, d) } }
        return s
    }

    func testGoodCertificateBindsAndDelivers() throws {
        let (sim, port) = try simulator(cert: "good", count: 50)
        defer { sim.stop() }
        let events = EventLog()
        let s = session(port: port, events: events)
        s.start()
        XCTAssertTrue(sim.waitUntilDone(timeout: 20), sim.currentSummary.json)
        XCTAssertEqual(sim.currentSummary.ackedByStatus["ESME_ROK"], sim.currentSummary.pdusSent)
        XCTAssertTrue(events.contains("tls_established", "TLSv1.3"))
        s.shutdown(deadline: 0)
    }

    func testIPAddressIsVerifiedAgainstTheCertificate() throws {
        let (sim, port) = try simulator(cert: "good", count: 5)
        defer { sim.stop() }
        let s = session(port: port, serverName: "127.0.0.1")
        s.start()
        XCTAssertTrue(sim.waitUntilDone(timeout: 20), sim.currentSummary.json)
        s.shutdown(deadline: 0)
    }

    func expectRefused(cert: String, serverName: String = "localhost", containing text: String) throws {
        let (sim, port) = try simulator(cert: cert)
        defer { sim.stop() }
        let s = session(port: port, serverName: serverName)
        s.start()
        XCTAssertTrue(waitUntil { (s.snapshot.lastError ?? "").contains(text) }, "\(s.snapshot.lastError ?? "nil")")
        XCTAssertNil(s.snapshot.boundSince)
        XCTAssertEqual(sim.currentSummary.binds, 0)
        XCTAssertGreaterThanOrEqual(s.snapshot.reconnectReasons["tls"] ?? 0, 1)
        s.shutdown(deadline: 0)
    }

    func testWrongHostnameIsRefused() throws {
        try expectRefused(cert: "wrong", containing: "certificate verification failed")
    }

    func testExpiredCertificateIsRefused() throws {
        try expectRefused(cert: "expired", containing: "expired")
    }

    func testUntrustedCertificateIsRefused() throws {
        try expectRefused(cert: "selfsigned", containing: "certificate verification failed")
    }

    func testInsecureSkipsVerificationAndSaysSoAtEveryConnect() throws {
        let (sim, port) = try simulator(cert: "wrong", count: 5)
        defer { sim.stop() }
        let events = EventLog()
        let s = session(port: port, insecure: true, events: events)
        s.start()
        XCTAssertTrue(sim.waitUntilDone(timeout: 20), sim.currentSummary.json)
        XCTAssertTrue(events.contains("tls_insecure", "verification is OFF"))
        s.shutdown(deadline: 0)
    }

    func testMutualTLS() throws {
        var c = SimulatorConfig()
        c.count = 10
        c.tls = TLSConfig(caFile: path("ca.pem"), certificateFile: path("good.pem"), keyFile: path("good.key"), requireClientCertificate: true)
        let sim = SMSCSimulator(config: c)
        let port = try sim.start()
        defer { sim.stop() }
        // Without a client certificate the SMSC refuses the handshake.
        let anonymous = session(port: port)
        anonymous.start()
        XCTAssertTrue(waitUntil { anonymous.snapshot.reconnectReasons["tls"] ?? 0 >= 1 || anonymous.snapshot.reconnectReasons["peer_closed"] ?? 0 >= 1 })
        XCTAssertNil(anonymous.snapshot.boundSince)
        anonymous.shutdown(deadline: 0)
        // With one signed by the CA it binds and receives.
        var cfg = sessionConfig(port: port)
        cfg.tls = TLSConfig(caFile: path("ca.pem"), serverName: "localhost", certificateFile: path("good.pem"), keyFile: path("good.key"))
        let s = ESMESession(config: cfg, handler: Collector.retained())
        s.start()
        XCTAssertTrue(sim.waitUntilDone(timeout: 20), sim.currentSummary.json)
        s.shutdown(deadline: 0)
    }

    func testPeerClosingMidHandshake() throws {
        // A listener that reads the ClientHello and hangs up.
        let (lfd, port) = try Socket.listen(host: "127.0.0.1", port: 0)
        let q = DispatchQueue(label: "closer")
        let src = DispatchSource.makeReadSource(fileDescriptor: lfd, queue: q)
        src.setEventHandler {
            let c = accept(lfd, nil, nil)
            guard c >= 0 else { return }
            q.asyncAfter(deadline: .now() + 0.05) {
                var buf = [UInt8](repeating: 0, count: 512)
                _ = read(c, &buf, buf.count)
                close(c)
            }
        }
        src.setCancelHandler { close(lfd) }
        src.resume()
        defer { src.cancel() }
        let s = session(port: port)
        s.start()
        XCTAssertTrue(waitUntil { (s.snapshot.lastError ?? "").contains("TLS") || (s.snapshot.lastError ?? "").contains("handshake") },
                      "\(s.snapshot.lastError ?? "nil")")
        XCTAssertNil(s.snapshot.boundSince)
        s.shutdown(deadline: 0)
    }
}

final class EventLog: @unchecked Sendable {
    let lock = NSLock()
    var events: [(String, String)] = []
    func add(_ n: String, _ d: String) { lock.withLock { events.append((n, d)) } }
    func contains(_ n: String, _ text: String) -> Bool { lock.withLock { events.contains { $0.0 == n && $0.1.contains(text) } } }
}
