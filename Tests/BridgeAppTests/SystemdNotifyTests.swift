import Foundation
import Testing

@testable import BridgeApp
@testable import BridgeDevTools
@testable import BridgeRuntime

/// sd_notify as systemd receives it: one datagram on `$NOTIFY_SOCKET`, path or abstract.
@Suite struct SystemdNotifyTests {
    func receive(bindTo name: String, abstract: Bool, send: (String) -> Bool) -> String? {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes.insert(0, at: 0) }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0 else { return nil }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard send(abstract ? "@" + name : name) else { return nil }
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    @Test(arguments: [false, true])
    func readyReachesTheSocket(abstract: Bool) {
        let name = abstract ? "smpp-notify-\(getpid())-\(UInt32.random(in: 0...999_999))" : NSTemporaryDirectory() + "notify-\(getpid())-\(UInt32.random(in: 0...999_999))"
        defer { if !abstract { unlink(name) } }
        let got = receive(bindTo: name, abstract: abstract) { SystemdNotify.send("READY=1\nSTATUS=binds started", environment: ["NOTIFY_SOCKET": $0]) }
        #expect(got == "READY=1\nSTATUS=binds started")
    }

    @Test func nothingIsSentOutsideSystemd() {
        #expect(!SystemdNotify.send("READY=1", environment: [:]))
    }
}
