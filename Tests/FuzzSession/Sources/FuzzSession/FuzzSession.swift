// libFuzzer over the framing and the ESME session state machine (not only the
// decoder), two ways, by bit 3 of the second byte:
//  - over loopback: a real ESMESession connects to this process's fake SMSC, binds
//    (our bind_resp is good), and then receives the input as the SMSC's byte stream,
//    cut into reads by the first byte, while the handler acks every deliver_sm/data_sm
//    with a status the second byte picks (its bit 2: inline, or from another thread as
//    the writer does). Then the SMSC closes, and the session is shut down;
//  - directly: the input's frames go into an `ESMEStateMachine`, interleaved with the
//    other events (acks, ticks with the clock moved, a stop, a close and a reconnect)
//    as the first byte picks, and the machine's invariants are checked after each.
// No crash, no hang, no leak under ASan.
import Dispatch
import SMPPSession
@_spi(CommitProof) import SMPPWire
#if canImport(Glibc)
    import Glibc
#endif

final class Acker: InboundHandler, @unchecked Sendable {
    var status: CommandStatus = .ok
    /// Ack from another thread, as the bridge's writer does (the session's ack inbox path),
    /// instead of inline from the handler.
    var fromElsewhere = false
    /// Those acks in flight: the input ends only when they are done, so no session
    /// outlives its input (LeakSanitizer cannot see a live object's weak side table
    /// through its mangled pointer and reports it as leaked).
    let inFlight = DispatchGroup()
    func session(_ session: ESMESession, received message: Inbound, token: AckToken) {
        if fromElsewhere {
            let s = status
            inFlight.enter()
            DispatchQueue.global().async { [inFlight] in
                session.answer(token, s)
                inFlight.leave()
            }
        } else {
            session.answer(token, status)
        }
    }
}

nonisolated(unsafe) var listeners: [(fd: Int32, port: Int)] = []
nonisolated(unsafe) var inputs = 0
nonisolated(unsafe) var skipped = 0

/// Sixteen listening ports, used in turn: each input is one connection, and a
/// connection the ESME closed first leaves its 4-tuple in TIME_WAIT for a minute;
/// spread over 16 destination ports, 700 inputs/s stay far from exhausting the
/// ephemeral ports.
func setup() {
    for _ in 0..<16 { listeners.append(makeListener()) }
    signal(SIGPIPE, SIG_IGN)
}

func makeListener() -> (fd: Int32, port: Int) {
    let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, 4)
    var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &len) } }
    listen(listenFD, 64)
    return (listenFD, Int(UInt16(bigEndian: addr.sin_port)))
}

func waitReadable(_ fd: Int32, ms: Int32) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, ms) > 0
}

/// Reads one PDU (the bind) from the ESME; returns its command id and sequence number.
func readPDU(_ fd: Int32) -> (UInt32, UInt32)? {
    var head = [UInt8](repeating: 0, count: 16)
    var got = 0
    while got < 16 {
        guard waitReadable(fd, ms: 2000) else { return nil }
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, 16 - got) }
        if n <= 0 { return nil }
        got += n
    }
    func u32(_ i: Int) -> UInt32 { UInt32(head[i]) << 24 | UInt32(head[i + 1]) << 16 | UInt32(head[i + 2]) << 8 | UInt32(head[i + 3]) }
    var rest = Int(u32(0)) - 16
    var buf = [UInt8](repeating: 0, count: 1024)
    while rest > 0 {
        guard waitReadable(fd, ms: 2000) else { return nil }
        let n = read(fd, &buf, min(rest, buf.count))
        if n <= 0 { return nil }
        rest -= n
    }
    return (u32(4), u32(12))
}

func drain(_ fd: Int32) {
    var buf = [UInt8](repeating: 0, count: 65536)
    while waitReadable(fd, ms: 0) {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { return }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    if listeners.isEmpty { setup() }
    inputs += 1
    let (listenFD, listenPort) = listeners[inputs % listeners.count]
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard input.count >= 2 else { return 0 }
    let chunk = Int(input[0]) + 1
    let acker = Acker()
    acker.status = [CommandStatus.ok, .temporaryAppError, .messageQueueFull, .systemError][Int(input[1]) % 4]
    acker.fromElsewhere = input[1] & 0x04 != 0
    let data = UnsafeRawBufferPointer(rebasing: input[2...])
    if input[1] & 0x08 != 0 {
        driveMachine(data, schedule: input[0], status: acker.status)
        return 0
    }

    var cfg = SessionConfig(name: "fuzz", host: "127.0.0.1", port: listenPort, systemID: "fuzz", password: "pw")
    cfg.responseTimeout = 0.3
    cfg.enquireLinkInterval = 0.05
    cfg.window = 4
    cfg.maxUnackedInbound = 8
    cfg.backoff = Backoff(initial: 0.01, maximum: 0.05)
    cfg.limits = FrameLimits(maximumCommandLength: 4096)
    let session = ESMESession(config: cfg, handler: acker)
    session.start()
    // Loopback connect can fail for a moment when tens of thousands of short
    // connections sit in TIME_WAIT; the session retries (backoff above) and must get through.
    guard waitReadable(listenFD, ms: 15_000) else {
        // Seen about once per 200k inputs on this VM: the loopback connect did not come
        // through in time. Counted and skipped (the shutdown below still must not hang).
        skipped += 1
        let note = Array("fuzz-session harness: no connection within 15 s (\(skipped) skipped so far)\n".utf8)
        _ = note.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        let done = DispatchSemaphore(value: 0)
        session.shutdown(deadline: 0.05) { done.signal() }
        if done.wait(timeout: .now() + 5) == .timedOut { fatalError("session shutdown hung") }
        return 0
    }
    let fd = accept(listenFD, nil, nil)
    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // RST on close: no TIME_WAIT pile-up over 100k inputs
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    if let (id, seq) = readPDU(fd) {
        let resp = PDU(CommandID(rawValue: id).response, status: .ok, sequenceNumber: seq, body: .bindResp(BindResp(systemID: "FUZZ")))
        let bytes = resp.encode()
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var off = 0
        while off < data.count {
            let n = min(chunk, data.count - off)
            let w = send(fd, data.baseAddress! + off, n, Int32(MSG_NOSIGNAL))
            if w <= 0 { break }
            off += w
            drain(fd)
        }
        // Let the session answer what it got, then the SMSC goes away.
        if waitReadable(fd, ms: 5) { drain(fd) }
    }
    close(fd)
    let done = DispatchSemaphore(value: 0)
    session.shutdown(deadline: 0.05) { done.signal() }
    if done.wait(timeout: .now() + 5) == .timedOut { fatalError("session shutdown hung") }
    if acker.inFlight.wait(timeout: .now() + 5) == .timedOut { fatalError("acks from another thread hung") }
    _ = session.snapshot  // runs on the session's queue: whatever those acks queued there has run
    // A reconnect that raced the shutdown: refuse it.
    while waitReadable(listenFD, ms: 0) { close(accept(listenFD, nil, nil)) }
    return 0
}

/// The input's frames through the state machine, without sockets. `schedule` picks
/// which other events come between frames; every delivery is acked (or not) in turn.
func driveMachine(_ data: UnsafeRawBufferPointer, schedule: UInt8, status: CommandStatus) {
    var cfg = SessionConfig(name: "fuzz", host: "smsc", port: 1, systemID: "fuzz", password: "pw")
    cfg.maxUnackedInbound = 8
    cfg.window = 4
    cfg.tls = schedule & 0x80 != 0 ? TLSConfig() : nil
    var m = ESMEStateMachine(config: cfg)
    var now: UInt64 = 1_000_000_000_000
    var tokens: [AckToken] = []
    var step = 0
    func collect(_ actions: ESMEStateMachine.Actions) {
        for a in actions {
            switch a {
            case .deliver(_, let t), .deliverInvalid(_, _, let t): tokens.append(t)
            default: break
            }
        }
    }
    func check() {
        let s = m.snapshot
        precondition(s.unackedInbound >= 0 && s.windowInUse <= max(cfg.window, 1) + 2, "window or unacked out of bounds")
        if m.state == .stopped || m.state == .backoff || m.state == .idle { precondition(s.unackedInbound == 0, "unacked kept past a close") }
    }
    collect(m.connectRequested())
    collect(m.connected(now: now))
    if cfg.tls != nil { collect(m.tlsEstablished(version: "TLSv1.3", now: now)) }
    collect(PDU(.bindTransceiverResp, sequenceNumber: 1, body: .bindResp(BindResp(systemID: "S"))).encode().withUnsafeBytes {
        m.frameReceived(PDUFrame(unchecked: $0), now: now)
    })
    var offset = 0
    while offset < data.count {
        let rest = UnsafeRawBufferPointer(rebasing: data[offset...])
        switch PDUFrame.scan(rest, limits: FrameLimits(maximumCommandLength: 4096)) {
        case .frame(let length):
            collect(m.frameReceived(PDUFrame(unchecked: UnsafeRawBufferPointer(rebasing: rest[..<length])), now: now))
            offset += length
        case .incomplete, .invalid:
            offset = data.count
        }
        step += 1
        let pick = (Int(schedule) >> (step % 7)) & 0x3
        switch (pick, step % 5) {
        case (1, _):
            while let t = tokens.popLast() { collect(m.ackReady(t, status: status, now: now)) }
        case (2, 0):
            now += 31_000_000_000
            collect(m.timerFired(now: now, outputStalledNanos: 0, pendingOutput: 0))
        case (2, 1):
            collect(m.stop(deadline: 1, now: now))
        case (3, 2):
            collect(m.closed(.peerClosed))
            collect(m.connectRequested())
            collect(m.connected(now: now))
        default:
            now += 1_000_000
        }
        check()
    }
    for t in tokens { collect(m.ackReady(t, status: status, now: now)) }
    collect(m.stop(deadline: 0, now: now))
    collect(m.closed(.local("end")))
    check()
}

extension ESMESession {
    /// The fuzzer's handler stores nothing: it answers OK with a proof it makes itself.
    func answer(_ token: AckToken, _ status: CommandStatus) {
        if status == .ok { ack(token, committed: CommitProof()) } else { refuse(token, status: status) }
    }
}
