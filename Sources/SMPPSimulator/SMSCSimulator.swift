#if canImport(Glibc)
    import Glibc
#endif
public import Dispatch
public import SMPPSession
import Primitives
import SMPPWire

/// Faults the simulator injects on demand.
public struct SimulatorFaults: Sendable, Hashable {
    /// Close the connection after this many deliver_sm were sent on it (mid-window). Once per run.
    public var dropAfter: Int?
    /// Send a malformed deliver_sm (sm_length past the body) before every Nth message.
    public var malformedEvery: Int?
    /// Redeliver every Nth acknowledged message once more.
    public var duplicateEvery: Int?
    /// Stop reading and answering after this many deliver_sm (a stalled socket). Once per run.
    public var stallAfter: Int?
    /// The bad PDUs `malformedEvery` interleaves, in turn (default: one sm_length overrun).
    /// Those that break framing make the ESME close the connection; the SMSC reconnects
    /// and redelivers what was in flight, as a real one would.
    public var injectedPDUs: [[UInt8]] = []
    /// Never send the last part of every Nth multi-part message (the ESME must store
    /// it as incomplete after its reassembly timeout). The message counts as done.
    public var omitPartEvery: Int?
    public init(dropAfter: Int? = nil, malformedEvery: Int? = nil, duplicateEvery: Int? = nil, stallAfter: Int? = nil,
                injectedPDUs: [[UInt8]] = [], omitPartEvery: Int? = nil) {
        self.dropAfter = dropAfter
        self.malformedEvery = malformedEvery
        self.duplicateEvery = duplicateEvery
        self.stallAfter = stallAfter
        self.injectedPDUs = injectedPDUs
        self.omitPartEvery = omitPartEvery
    }

    /// Whether message `id` (with `parts` parts) has its last part withheld.
    public func omitsLastPart(of id: Int, parts: Int) -> Bool {
        guard let n = omitPartEvery, n > 0 else { return false }
        return parts > 1 && id % n == 0
    }
}

public struct SimulatorConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 0
    public var systemID = "trueotp"
    public var password = "secret"
    /// Messages to deliver in all (multi-part ones count once).
    public var count = 100
    /// Messages per second; 0: as fast as the window allows.
    public var rate: Double = 0
    /// deliver_sm outstanding per connection.
    public var window = 10
    public var mix = TrafficMix()
    /// A deliver_sm without a response after this long is retried.
    public var responseTimeout: Double = 5
    public var retryDelay: Double = 0.5
    public var maxRetries = 5
    public var faults = SimulatorFaults()
    /// JSON-lines log of every PDU sent and how it ended.
    public var logPath: String?
    /// A "sent" line per deliver_sm as well. Off, the log keeps how each PDU ended
    /// (an "acked" line carries its `sent_ms`, so latencies still come from the log)
    /// in half the lines, formatted and written on the simulator's one queue, whose
    /// CPU the benchmark takes from the two cores the bridge and PostgreSQL share.
    public var logSent = true
    /// TLS mode: the listener's certificate and key.
    public var tls: TLSConfig?
    public init() {}
}

/// What happened, for the summary and the no-loss checks.
public struct SimulatorSummary: Sendable, Hashable {
    public var messages = 0
    public var pdusSent = 0
    public var ackedByStatus: [String: Int] = [:]
    public var retried = 0
    public var failed = 0
    public var unacked = 0
    public var messagesDone = 0
    public var binds = 0
    public var bindsRefused = 0
    public var elapsed: Double = 0
    public var rate: Double { elapsed > 0 ? Double(messagesDone) / elapsed : 0 }
    public var ackLatencyMicros: [Int] = []

    public var json: String {
        let acked = ackedByStatus.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        let lat = ackLatencyMicros.sorted()
        func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : Double(lat[min(lat.count - 1, Int(Double(lat.count) * p))]) / 1000 }
        var s = "{\"messages\":\(messages),\"sent\":\(pdusSent),\"acked\":{\(acked)},\"retried\":\(retried),\"failed\":\(failed),"
        s += "\"unacked\":\(unacked),\"done\":\(messagesDone),\"binds\":\(binds),\"binds_refused\":\(bindsRefused),"
        s += "\"elapsed_s\":\(fixed(elapsed, 3)),\"rate\":\(fixed(rate, 1)),"
        s += "\"ack_p50_ms\":\(fixed(pct(0.5), 3)),\"ack_p99_ms\":\(fixed(pct(0.99), 3)),\"ack_p999_ms\":\(fixed(pct(0.999), 3))}"
        return s
    }
}

/// A real SMSC on loopback for the demo, the tests and the benchmarks: accepts
/// binds (credentials checked), pushes deliver_sm with a window and a rate,
/// retries what is not acknowledged in time or is answered with an error, as
/// real SMSCs do, and logs every PDU.
public final class SMSCSimulator: @unchecked Sendable {
    public let config: SimulatorConfig
    public let queue = DispatchQueue(label: "smpp.simulator")
    private var listenFD: Int32 = -1
    private var acceptSource: (any DispatchSourceRead)?
    public private(set) var port = 0
    private var peers: [ObjectIdentifier: Peer] = [:]
    /// The same peers in accept order: what `fill` walks once per PDU, with no
    /// dictionary iteration or array built per call.
    private var peerList: [Peer] = []
    /// Peers given a PDU in the current `fill` (their writes coalesced until it ends),
    /// reused; `fillDepth` > 0 while a fill runs (a fault can close a peer inside one,
    /// and its close handler fills again).
    private var batched: [Peer] = []
    private var fillDepth = 0
    /// Last scan of the in-flight PDUs for response timeouts (seconds apart, not per tick).
    private var lastTimeoutScan: UInt64 = 0
    private var messages: [TrafficMix.Message] = []
    /// PDUs waiting to be sent: (message, part, retries so far).
    private var pending: [(Int, Int, Int)] = []
    private var pendingHead = 0
    /// PDUs to send again (retried, or in flight on a closed connection): sent before
    /// new ones, as an SMSC retries after its retry delay, not after its whole backlog.
    /// Behind a 3M-message backlog a retried first part went out 150 s later, past the
    /// bridge's reassembly timeout, and its message was stored as two incomplete ones.
    private var retryQueue: [(Int, Int, Int)] = []
    private var hasQueued: Bool { !retryQueue.isEmpty || pendingHead < pending.count }
    private var partsLeft: [Int] = []
    private var summary = SimulatorSummary()
    private var started: UInt64 = 0
    private var log: UnsafeMutablePointer<FILE>?
    private var logLine: [UInt8] = []
    private var scratch: [UInt8] = []
    private var timer: (any DispatchSourceTimer)?
    private var tokens: Double = 0
    /// PDUs per second that make `config.rate` messages per second.
    private var pduRate: Double = 0
    private var lastRefill: UInt64 = 0
    private var doneWaiters: [DispatchSemaphore] = []
    private var sentCount = 0
    /// Drop and stall faults fire once per run (on the first connection that reaches them).
    private var tlsContext: TLSContext?
    /// ESME_ROK acks, counted apart from the others (no string key per ack).
    private var okAcks = 0
    private var dropFired = false
    private var stallFired = false

    final class Peer {
        let connection: Connection
        var bound = false
        var inflight: [UInt32: (msg: Int, part: Int, retries: Int, sentAt: UInt64)] = [:]
        var nextSeq: UInt32 = 1
        var sentOnThis = 0
        var stalled = false
        /// In `SMSCSimulator.batched`: its connection is between beginBatch and endBatch.
        var inBatch = false
        var closed = false
        init(_ c: Connection) { connection = c }
    }

    public init(config: SimulatorConfig) {
        self.config = config
    }

    /// Listens and starts pushing to whoever binds. Returns the port.
    @discardableResult
    public func start() throws -> Int {
        if let t = config.tls { tlsContext = try TLSContext(t, server: true) }
        let (fd, p) = try Socket.listen(host: config.host, port: config.port)
        listenFD = fd
        port = p
        try queue.sync {
            if let path = config.logPath {
                log = fopen(path, "w")
                if log == nil { throw Socket.Failure(operation: "open log \(path)", errno: errno) }
                // Two log lines per PDU, read only after the run: a large buffer, not a write(2) every few events.
                setvbuf(log, nil, _IOFBF, 1 << 20)
            }
            messages = (0..<config.count).map { config.mix.message($0) }
            summary.messages = messages.count
            partsLeft = messages.map { $0.parts.count - (config.faults.omitsLastPart(of: $0.id, parts: $0.parts.count) ? 1 : 0) }
            for m in messages {
                let n = m.parts.count - (config.faults.omitsLastPart(of: m.id, parts: m.parts.count) ? 1 : 0)
                for k in 0..<n { pending.append((m.id, k, 0)) }
            }
            // `rate` is in messages; the bucket paces PDUs, at the mix's PDUs per message,
            // so that a multi-part message costs its parts.
            pduRate = messages.isEmpty ? config.rate : config.rate * Double(pending.count) / Double(messages.count)
            started = Clock.monotonicNanos()
            lastRefill = started
            let a = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            a.setEventHandler { [unowned self] in self.accept() }
            a.setCancelHandler { close(fd) }
            acceptSource = a
            a.resume()
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now() + 0.002, repeating: 0.002)
            t.setEventHandler { [unowned self] in self.tick() }
            timer = t
            t.resume()
        }
        return p
    }

    public func stop() {
        queue.sync {
            acceptSource?.cancel()
            acceptSource = nil
            timer?.cancel()
            timer = nil
            for p in peers.values { p.connection.close(.local("simulator stopped")) }
            peers.removeAll()
            peerList.removeAll()
            finishSummary()
            if let log { fclose(log) }
            log = nil
        }
    }

    public var currentSummary: SimulatorSummary {
        queue.sync {
            var s = summary
            s.unacked = unackedCount()
            if s.ackedByStatus["ESME_ROK"] == nil || okAcks > 0 { s.ackedByStatus["ESME_ROK"] = okAcks > 0 ? okAcks : nil }
            if summary.elapsed == 0 || !isDone { s.elapsed = Double(Clock.monotonicNanos() - started) / 1e9 }
            return s
        }
    }

    /// Waits until every message was acknowledged with ESME_ROK (or failed for good).
    public func waitUntilDone(timeout: Double) -> Bool {
        let sem = DispatchSemaphore(value: 0)
        let already: Bool = queue.sync {
            if isDone { return true }
            doneWaiters.append(sem)
            return false
        }
        if already { return true }
        return sem.wait(timeout: .now() + timeout) == .success
    }

    private var isDone: Bool { summary.messagesDone + summary.failed >= messages.count && !hasQueued && unackedCount() == 0 }

    private func unackedCount() -> Int { peers.values.reduce(0) { $0 + $1.inflight.count } + (pending.count - pendingHead) + retryQueue.count }

    private func accept() {
        while true {
            let fd = Glibc.accept(listenFD, nil, nil)
            if fd < 0 { return }
            Socket.tune(fd)
            let c = Connection(fd: fd, queue: queue)
            let peer = Peer(c)
            let key = ObjectIdentifier(c)
            peers[key] = peer
            peerList.append(peer)
            c.onFrame = { [unowned self] f in self.received(f, peer) }
            c.onClose = { [unowned self] _ in self.peerClosed(key) }
            if let ctx = tlsContext { c.startTLS(ctx, host: "") } else { c.start() }
        }
    }

    private func received(_ f: PDUFrame, _ peer: Peer) {
        if peer.stalled { return }
        switch f.commandID {
        case .bindReceiver, .bindTransceiver, .bindTransmitter:
            let pdu = try? PDU.decode(f)
            var status = CommandStatus.ok
            if case .bind(let b)? = pdu?.body {
                if b.systemID.string != config.systemID { status = .invalidSystemID } else if b.password.string != config.password { status = .invalidPassword }
            } else {
                status = .invalidCommandLength
            }
            if peer.bound { status = .alreadyBound }
            let resp = PDU(f.commandID.response, status: status, sequenceNumber: f.sequenceNumber,
                           body: status.isOK ? .bindResp(BindResp(systemID: "SIMSMSC")) : .empty,
                           tlvs: status.isOK ? [TLV(.scInterfaceVersion, uint8: 0x34)] : [])
            peer.connection.send(resp)
            if status.isOK {
                peer.bound = f.commandID != .bindTransmitter
                if summary.binds == 0 { started = Clock.monotonicNanos() }  // rates count from the first bind, not from listening
                summary.binds += 1
                fill(peer)
            } else {
                summary.bindsRefused += 1
            }
        case .deliverSMResp, .dataSMResp:
            guard let entry = peer.inflight.removeValue(forKey: f.sequenceNumber) else { return }
            let status = f.commandStatus
            if status.isOK { okAcks += 1 } else { summary.ackedByStatus[status.description, default: 0] += 1 }
            let t = Clock.monotonicNanos()
            summary.ackLatencyMicros.append(Int((t - entry.sentAt) / 1000))
            logEvent(status.isOK ? "acked" : "nacked", entry.msg, entry.part, f.sequenceNumber, status.rawValue, at: t, sentAt: entry.sentAt)
            if status.isOK {
                partsLeft[entry.msg] -= 1
                if partsLeft[entry.msg] == 0 {
                    summary.messagesDone += 1
                    if let d = config.faults.duplicateEvery, d > 0, entry.msg % d == 0, entry.retries == 0 {
                        pending.append((entry.msg, entry.part, 1_000))  // a redelivery of an acked PDU
                    }
                }
            } else {
                retry(entry.msg, entry.part, entry.retries)
            }
            fill(peer)
            checkDone()
        case .enquireLink:
            peer.connection.send(PDU(.enquireLinkResp, sequenceNumber: f.sequenceNumber))
        case .unbind:
            peer.connection.send(PDU(.unbindResp, sequenceNumber: f.sequenceNumber))
            peer.connection.close(.local("unbound"))
        case .genericNack:
            if let entry = peer.inflight.removeValue(forKey: f.sequenceNumber) { retry(entry.msg, entry.part, entry.retries) }
        default:
            if !f.commandID.isResponse {
                peer.connection.send(PDU.genericNack(sequenceNumber: f.sequenceNumber, status: .invalidCommandID))
            }
        }
    }

    private func retry(_ msg: Int, _ part: Int, _ retries: Int) {
        if retries >= 1_000 { return }  // an injected duplicate is not retried
        if retries + 1 > config.maxRetries {
            summary.failed += 1
            logEvent("failed", msg, part, 0, 0)
            return
        }
        summary.retried += 1
        logEvent("retry", msg, part, 0, 0)
        queue.asyncAfter(deadline: .now() + config.retryDelay) { [weak self] in
            guard let self else { return }
            self.retryQueue.append((msg, part, retries + 1))
            self.fill()
        }
    }

    private func peerClosed(_ key: ObjectIdentifier) {
        guard let peer = peers.removeValue(forKey: key) else { return }
        peer.closed = true
        peerList.removeAll { $0 === peer }
        // Whatever was in flight on a dead connection was never acked: send it again.
        for (_, e) in peer.inflight.sorted(by: { $0.key < $1.key }) {
            summary.retried += 1
            logEvent("retry", e.msg, e.part, 0, 0)
            retryQueue.append((e.msg, e.part, e.retries))
        }
        peer.inflight.removeAll()
        fill()
    }

    private func tick() {
        let t = Clock.monotonicNanos()
        // Timeouts are seconds long: scanning every PDU in flight at each 2 ms tick would be waste.
        let scanEvery = UInt64(min(0.1, config.responseTimeout / 10) * 1e9)
        if t - lastTimeoutScan >= scanEvery {
            lastTimeoutScan = t
            scanTimeouts(t)
        }
        fill()
        checkDone()
    }

    private func scanTimeouts(_ t: UInt64) {
        for peer in peers.values {
            for (seq, e) in peer.inflight where t - e.sentAt > UInt64(config.responseTimeout * 1e9) {
                peer.inflight.removeValue(forKey: seq)
                logEvent("timeout", e.msg, e.part, seq, 0)
                retry(e.msg, e.part, e.retries)
            }
        }
    }

    /// Fills every bound peer's window, one PDU per peer in turn, as an SMSC
    /// spreads a carrier's traffic over all its binds.
    private func fill(_: Peer? = nil) {
        // One write per peer per burst: a peer's writes are coalesced from its first PDU
        // of the burst to the end of the outermost fill. Only the peers that get a PDU
        // are batched (it was every peer, twice, on every ack: a third of the
        // simulator's CPU, which the benchmark takes from the bridge's cores).
        fillDepth += 1
        defer {
            fillDepth -= 1
            if fillDepth == 0 {
                for p in batched {
                    p.inBatch = false
                    if !p.connection.isClosed { p.connection.endBatch() }
                }
                batched.removeAll(keepingCapacity: true)
            }
        }
        // Each PDU goes to the least-loaded bound peer (fewest in flight, then fewest
        // sent), as an SMSC spreads a carrier's traffic over its binds.
        if peerList.count == 1 {
            let only = peerList[0]
            while hasQueued, fillOne(only) {}
            return
        }
        while hasQueued {
            // A loop, not filter + min: this runs once per PDU sent, and the
            // simulator's CPU is taken from the bridge's on the benchmark machine.
            var best: Peer?
            for p in peerList where p.bound && !p.stalled && !p.closed && p.inflight.count < config.window {
                if let b = best, (b.inflight.count, b.sentOnThis) <= (p.inflight.count, p.sentOnThis) { continue }
                best = p
            }
            guard let peer = best else { break }
            if !fillOne(peer) {
                // Closed, its close handler not run yet: skip it, the others may take more.
                if peer.connection.isClosed { peer.closed = true; continue }
                break
            }
        }
        if pendingHead > 4096, pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
    }

    /// Sends one pending PDU on `peer` if its window and the rate allow. True if sent.
    private func fillOne(_ peer: Peer) -> Bool {
        guard peer.bound, !peer.stalled, !peer.connection.isClosed else { return false }
        if config.rate > 0 {
            let t = Clock.monotonicNanos()
            tokens = min(Double(config.window) * 2, tokens + Double(t - lastRefill) / 1e9 * pduRate)
            lastRefill = t
        }
        if peer.inflight.count < config.window, hasQueued {
            if config.rate > 0 {
                if tokens < 1 { return false }
                tokens -= 1
            }
            if !peer.inBatch {
                peer.inBatch = true
                peer.connection.beginBatch()
                batched.append(peer)
            }
            let msg: Int, part: Int, retries: Int
            if !retryQueue.isEmpty {
                (msg, part, retries) = retryQueue.removeFirst()
            } else {
                (msg, part, retries) = pending[pendingHead]
                pendingHead += 1
            }
            if let every = config.faults.malformedEvery, every > 0, part == 0, retries == 0, msg % every == every - 1 {
                sendMalformed(peer)
            }
            let seq = peer.nextSeq
            peer.nextSeq = seq >= 0x7FFF_FFFF ? 1 : seq + 1
            // The stored PDU with this connection's sequence number, built in a reused
            // buffer rather than a fresh copy of the array per PDU.
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: messages[msg].parts[part])
            scratch[12] = UInt8(seq >> 24); scratch[13] = UInt8((seq >> 16) & 0xFF); scratch[14] = UInt8((seq >> 8) & 0xFF); scratch[15] = UInt8(seq & 0xFF)
            let t = Clock.monotonicNanos()
            peer.inflight[seq] = (msg, part, retries, t)
            scratch.withUnsafeBytes { peer.connection.send($0) }
            summary.pdusSent += 1
            peer.sentOnThis += 1
            sentCount += 1
            if config.logSent { logEvent("sent", msg, part, seq, 0, at: t) }
            if let d = config.faults.dropAfter, peer.sentOnThis == d, !dropFired {
                dropFired = true
                peer.connection.close(.local("injected drop"))
                return true
            }
            if let s = config.faults.stallAfter, peer.sentOnThis == s, !stallFired {
                stallFired = true
                peer.stalled = true
                peer.connection.pauseReading()
            }
            return true
        }
        return false
    }

    private var injectedNext = 0

    private func sendMalformed(_ peer: Peer) {
        var b: [UInt8]
        if !config.faults.injectedPDUs.isEmpty {
            b = config.faults.injectedPDUs[injectedNext % config.faults.injectedPDUs.count]
            injectedNext += 1
        } else {
            b = TrafficMix.pdu(sender: "Malformed", ton: .alphanumeric, dest: "447700900000", dc: .smscDefault, esm: 0, message: Array("ABCD".utf8), tlvs: [])
            b[b.count - 5] = 0xFF
        }
        let seq = peer.nextSeq
        peer.nextSeq += 1
        if b.count >= 16 { b[12] = UInt8(seq >> 24); b[13] = UInt8((seq >> 16) & 0xFF); b[14] = UInt8((seq >> 8) & 0xFF); b[15] = UInt8(seq & 0xFF) }
        peer.connection.send(b)
        logEvent("sent_malformed", -1, injectedNext, seq, 0)
    }

    private func checkDone() {
        guard isDone, !doneWaiters.isEmpty else { return }
        finishSummary()
        for s in doneWaiters { s.signal() }
        doneWaiters.removeAll()
    }

    private func finishSummary() {
        if summary.elapsed == 0 { summary.elapsed = Double(Clock.monotonicNanos() - started) / 1e9 }
        summary.unacked = unackedCount()
    }

    /// One JSON line per event, formatted into a reused buffer: the log has a line for
    /// every PDU sent and answered, and string interpolation allocates for each.
    /// `at`: the event's time if the caller has read the clock already; `sentAt`: when
    /// the PDU an answer is for was sent (written as `sent_ms`, same clock as `t_ms`).
    private func logEvent(_ event: StaticString, _ msg: Int, _ part: Int, _ seq: UInt32, _ status: UInt32,
                          at t: UInt64? = nil, sentAt: UInt64? = nil) {
        guard let log else { return }
        logLine.removeAll(keepingCapacity: true)
        put("{\"t_ms\":"); put(millis(since: started, t ?? Clock.monotonicNanos()))
        if let sentAt { put(",\"sent_ms\":"); put(millis(since: started, sentAt)) }
        put(",\"event\":\""); put(event)
        put("\",\"msg\":"); put(msg)
        put(",\"part\":"); put(part)
        put(",\"seq\":"); put(Int(seq))
        put(",\"status\":"); put(Int(status))
        put(",\"destination\":\"")
        if msg >= 0 { logLine.append(contentsOf: messages[msg].destination.utf8) }
        put("\"}\n")
        logLine.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, log) }
    }

    private func millis(since start: UInt64, _ t: UInt64) -> Int { t > start ? Int((t - start) / 1_000_000) : 0 }

    private func put(_ s: StaticString) {
        s.withUTF8Buffer { logLine.append(contentsOf: $0) }
    }

    private func put(_ v: Int) {
        if v < 0 { logLine.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
            } while m > 0
            logLine.append(contentsOf: d[i...])
        }
    }
}

/// Fixed-point formatting without Foundation.
func fixed(_ v: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = Int((abs(v) * scale).rounded())
    let whole = n / Int(scale), frac = n % Int(scale)
    var f = String(frac)
    while f.count < decimals { f = "0" + f }
    return (v < 0 ? "-" : "") + String(whole) + (decimals > 0 ? "." + f : "")
}
