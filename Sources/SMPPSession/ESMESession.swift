#if canImport(Glibc)
    import Glibc
#endif
public import Dispatch
public import SMPPWire
import Locking

/// How to bind.
public enum BindType: String, Sendable, Hashable, CaseIterable {
    case receiver, transceiver, transmitter
    var commandID: CommandID {
        switch self {
        case .receiver: .bindReceiver
        case .transceiver: .bindTransceiver
        case .transmitter: .bindTransmitter
        }
    }
}

/// Exponential backoff with full jitter and a cap.
public struct Backoff: Hashable, Sendable {
    public var initial: Double
    public var maximum: Double
    public var multiplier: Double
    public init(initial: Double = 1, maximum: Double = 60, multiplier: Double = 2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
    }
    /// Delay before attempt `n` (0-based): uniform in [base/2, base], base = min(max, initial·mᶰ).
    public func delay(attempt n: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let base = min(maximum, initial * pow(multiplier, Double(min(n, 30))))
        return base / 2 + base / 2 * random
    }
}

/// One bind to one SMSC.
public struct SessionConfig: Sendable {
    public var name: String
    public var host: String
    public var port: Int
    public var systemID: String
    public var password: String
    public var systemType: String = ""
    public var bindType: BindType = .receiver
    public var addrTON: TON = .unknown
    public var addrNPI: NPI = .unknown
    public var addressRange: String = ""
    public var connectTimeout: Double = 10
    /// Send enquire_link after this many idle seconds.
    public var enquireLinkInterval: Double = 30
    /// A request without a response after this long has failed (enquire_link: the link is dead).
    public var responseTimeout: Double = 10
    /// Outstanding requests we send.
    public var window: Int = 10
    /// Unacknowledged inbound messages before the session stops reading (backpressure).
    public var maxUnackedInbound: Int = 256
    public var backoff = Backoff()
    /// Bad credentials (ESME_RINVPASWD, ESME_RINVSYSID) back off long: hammering
    /// an SMSC with a wrong password gets an account locked.
    public var authFailureBackoff = Backoff(initial: 60, maximum: 900, multiplier: 2)
    public var limits: FrameLimits = .default
    /// TLS to the SMSC; nil: plain TCP.
    public var tls: TLSConfig?
    /// First sequence_number used (tests start near 0x7FFFFFFF to exercise the wrap).
    public var firstSequenceNumber: UInt32 = 1

    public init(name: String, host: String, port: Int, systemID: String, password: String) {
        self.name = name
        self.host = host
        self.port = port
        self.systemID = systemID
        self.password = password
    }
}

public enum SessionState: String, Sendable, Hashable {
    case idle, connecting, binding, bound, unbinding, backoff, stopped
}

/// Identifies an inbound message to acknowledge later. An ack for a connection
/// that has since gone away is dropped: the SMSC redelivers what it never saw acked.
public struct AckToken: Hashable, Sendable {
    public let connection: UInt64
    public let sequenceNumber: UInt32
    public let commandID: CommandID
    /// When the PDU arrived (monotonic nanoseconds), for ack latency.
    public let receivedAt: UInt64
}

/// Receives deliver_sm and data_sm on the session's queue. The frame is a view
/// into the receive buffer, valid only during the call; the handler routes it
/// and later answers `token` from any thread: `session.ack(token, committed:)` once it
/// is stored, `session.refuse(token, status:)` otherwise.
public protocol InboundHandler: AnyObject, Sendable {
    func session(_ session: ESMESession, received frame: PDUFrame, token: AckToken)
    /// A PDU that failed to decode; the session has already answered it.
    func session(_ session: ESMESession, rejected frame: PDUFrame, error: DecodeError)
    /// A deliver_sm or data_sm that frames correctly but fails body validation, on a
    /// bound session. Returning true keeps it: the handler stores it as evidence and
    /// acks `token` itself, as for a valid one. False: the session answers it with
    /// the error's status (and then calls `rejected`).
    func session(_ session: ESMESession, invalid frame: PDUFrame, error: DecodeError, token: AckToken) -> Bool
}

extension InboundHandler {
    public func session(_ session: ESMESession, rejected frame: PDUFrame, error: DecodeError) {}
    public func session(_ session: ESMESession, invalid frame: PDUFrame, error: DecodeError, token: AckToken) -> Bool { false }
}

/// Counters and timestamps for the metrics layer. Read with `session.snapshot`.
public struct SessionStats: Sendable, Hashable {
    public var state: SessionState = .idle
    public var pdusIn = 0
    public var pdusOut = 0
    public var deliverSM = 0
    public var acksSent = 0
    public var unackedInbound = 0
    public var windowInUse = 0
    public var backpressurePauses = 0
    public var reconnects = 0
    public var reconnectReasons: [String: Int] = [:]
    public var genericNacksSent = 0
    public var malformed = 0
    public var unknownCommands = 0
    public var unmatchedResponses = 0
    public var alertNotifications = 0
    public var enquireLinksSent = 0
    public var lastBindError: CommandStatus?
    /// The last connection failure or close reason, for operators.
    public var lastError: String?
    public var boundSince: UInt64?
    public var lastReceivedAt: UInt64?
    /// When the last deliver_sm or data_sm arrived (monotonic ns), nil before the first.
    public var lastDeliverSMAt: UInt64?
}

/// An ESME (client) session: connects, binds, keeps the bind alive, answers the
/// SMSC, hands deliveries to a handler, acks when told, and reconnects by itself.
///
/// All state is confined to `queue` (one serial queue per connection); public
/// methods hop onto it.
public final class ESMESession: @unchecked Sendable {
    public let config: SessionConfig
    public let queue: DispatchQueue
    private weak var handler: (any InboundHandler)?
    private var connection: Connection?
    private var generation: UInt64 = 0
    private var state: SessionState = .idle
    private var stats = SessionStats()
    private var nextSequence: UInt32 = 1
    private var outstanding: [UInt32: Outstanding] = [:]
    private var waiting: [(PDU, (@Sendable (Result<PDU, RequestError>) -> Void)?)] = []
    private var unacked: Set<UInt32> = []
    private var lastActivity: UInt64 = 0
    private var attempt = 0
    private var authFailures = 0
    private var timer: (any DispatchSourceTimer)?
    private var reconnectWork: DispatchWorkItem?
    private var stopping = false
    private var shutdownDone: [@Sendable () -> Void] = []
    private var shutdownDeadline: UInt64 = 0
    /// Hooks for logs and tests: (event, detail). Never given passwords.
    public var onEvent: (@Sendable (String, String) -> Void)?
    private var tlsContext: TLSContext?
    private var tlsSetupError: String?
    /// Set for a session the SMSC opened with outbind: it binds on that connection
    /// and does not reconnect by itself (the SMSC will outbind again).
    public let viaOutbind: Bool
    private var awaitingOutbind = false

    struct Outstanding {
        var commandID: CommandID
        var deadline: UInt64
        var completion: (@Sendable (Result<PDU, RequestError>) -> Void)?
    }

    public enum RequestError: Error, Hashable, Sendable {
        case timeout
        case disconnected
        case notBound
    }

    public init(config: SessionConfig, handler: (any InboundHandler)?, viaOutbind: Bool = false) {
        self.config = config
        self.handler = handler
        self.viaOutbind = viaOutbind
        nextSequence = max(1, min(config.firstSequenceNumber, 0x7FFF_FFFF))
        queue = DispatchQueue(label: "smpp.session.\(config.name)", target: SessionQueues.next())
        queue.setSpecific(key: Self.queueKey, value: ObjectIdentifier(self))
        if let t = config.tls {
            do { tlsContext = try TLSContext(t) } catch { tlsSetupError = "\(error)" }
        }
    }

    // MARK: Public API (any thread)

    public func start() { queue.async { self.connect() } }

    /// A copy of the counters and state.
    public var snapshot: SessionStats { queue.sync { var s = stats; s.state = state; s.unackedInbound = unacked.count; s.windowInUse = outstanding.count; return s } }
    public var currentState: SessionState { queue.sync { state } }

    /// Acknowledges an inbound message (deliver_sm_resp / data_sm_resp) with ESME_ROK.
    /// Only a stored message has a `CommitProof` (see there).
    public func ack(_ token: AckToken, committed: CommitProof) { answer(token, .ok) }

    /// Answers an inbound message with an error status, so that the SMSC retries it
    /// (ESME_RX_T_APPN) or gives it up. ESME_ROK is not an error: it is answered as
    /// ESME_RSYSERR instead (and traps in debug builds), since only `ack(_:committed:)` may say OK.
    public func refuse(_ token: AckToken, status: CommandStatus) {
        assert(status != .ok, "ESME_ROK needs a CommitProof: use ack(_:committed:)")
        answer(token, status == .ok ? .systemError : status)
    }

    /// From the handler (on the session queue) the answer is written at once and goes
    /// out with the rest of the read batch; from elsewhere it hops onto the queue.
    private func answer(_ token: AckToken, _ status: CommandStatus) {
        if DispatchQueue.getSpecific(key: Self.queueKey) == ObjectIdentifier(self) {
            sendAck(token, status)
        } else if ackInbox.withLock({ $0.append((token, status)); return $0.count == 1 }) {
            // The first since the last drain schedules the next one.
            queue.async { self.drainAcks() }
        }
    }

    /// Acks from other threads (the writer's completions, a batch at a time) wait
    /// here and go out together: one hop onto the queue and one write for all that
    /// arrived meanwhile, not a hop and a send() per ack.
    private let ackInbox = Locked<[(AckToken, CommandStatus)]>([])

    private func drainAcks() {
        let acks = ackInbox.withLock { a in
            var out: [(AckToken, CommandStatus)] = []
            swap(&out, &a)
            return out
        }
        guard let c = connection, !c.isClosed else {
            for (t, s) in acks { sendAck(t, s) }  // each one only drops its entry: the SMSC redelivers
            return
        }
        c.batch { for (t, s) in acks { sendAck(t, s) } }
    }

    private static let queueKey = DispatchSpecificKey<ObjectIdentifier>()

    /// Sends a request through the window; `completion` gets its response.
    public func request(_ pdu: PDU, completion: (@Sendable (Result<PDU, RequestError>) -> Void)? = nil) {
        queue.async {
            guard self.state == .bound else { completion?(.failure(.notBound)); return }
            self.waiting.append((pdu, completion))
            self.pump()
        }
    }

    /// Graceful shutdown: stop reading; wait (until `deadline` seconds) for in-flight
    /// acks; unbind; wait for unbind_resp; close. `done` runs when finished.
    public func shutdown(deadline: Double = 5, done: (@Sendable () -> Void)? = nil) {
        queue.async {
            self.stopping = true
            self.reconnectWork?.cancel()
            if let done { self.shutdownDone.append(done) }
            self.shutdownDeadline = now() + UInt64(deadline * 1e9)
            guard let c = self.connection, self.state == .bound || self.state == .binding else {
                self.finishStop()
                return
            }
            c.pauseReading()
            self.event("shutdown", "waiting for \(self.unacked.count) acks")
            self.drainThenUnbind()
        }
    }

    /// Takes over a connection an SMSC opened (outbind listener): waits for its
    /// outbind, checks its credentials, then binds as receiver on it.
    public func adopt(fd: Int32) {
        queue.async { [self] in
            generation &+= 1
            let gen = generation
            let c = Connection(fd: fd, queue: queue, limits: config.limits)
            connection = c
            c.onFrame = { [unowned self] f in self.received(f) }
            c.onClose = { [unowned self] reason in self.closed(reason, gen: gen) }
            awaitingOutbind = true
            set(.connecting)
            c.start()
            // An SMSC that connects but never sends outbind is dropped.
            queue.asyncAfter(deadline: .now() + config.responseTimeout) { [weak self] in
                guard let self, gen == self.generation, self.awaitingOutbind else { return }
                self.connection?.close(.local("no outbind received"))
            }
        }
    }

    private func outbind(_ frame: PDUFrame) {
        guard awaitingOutbind else { return }
        awaitingOutbind = false
        guard case .outbind(let o)? = try? PDU.decode(frame).body,
            o.systemID.string == config.systemID, o.password.string == config.password
        else {
            event("outbind_refused", "credentials do not match")
            connection?.close(.local("outbind refused"))
            return
        }
        event("outbind", "binding as receiver")
        bind()
    }

    // MARK: Connecting and binding

    private func connect() {
        guard !stopping else { return }
        set(.connecting)
        generation &+= 1
        let gen = generation
        Socket.connect(host: config.host, port: config.port, timeout: config.connectTimeout, queue: queue) { [self] r in
            guard gen == generation, !stopping else {
                if case .success(let fd) = r { Glibc.close(fd) }
                return
            }
            switch r {
            case .failure(let e):
                event("connect_failed", e.description)
                stats.lastError = e.description
                scheduleReconnect(reason: "connect_failed", auth: false)
            case .success(let fd):
                let c = Connection(fd: fd, queue: queue, limits: config.limits)
                connection = c
                c.onFrame = { [unowned self] f in self.received(f) }
                c.onClose = { [unowned self] reason in self.closed(reason, gen: gen) }
                if config.tls != nil {
                    guard let ctx = tlsContext else {
                        c.start()
                        c.close(.tls(tlsSetupError ?? "TLS setup failed"))
                        return
                    }
                    if ctx.config.insecure {
                        event("tls_insecure", "WARNING: TLS certificate verification is OFF for \(config.host):\(config.port) (insecure = true)")
                    }
                    set(.connecting)
                    c.onEstablished = { [unowned self] version in
                        event("tls_established", version)
                        bind()
                    }
                    c.startTLS(ctx, host: config.tls?.serverName ?? config.host)
                    // A peer that accepts TCP and then says nothing must not hold the bind in `connecting`.
                    queue.asyncAfter(deadline: .now() + config.connectTimeout) { [weak self, weak c] in
                        guard let self, let c, gen == self.generation, self.state == .connecting, !c.isClosed else { return }
                        self.event("tls_handshake_timeout", "no TLS handshake in \(self.config.connectTimeout) s")
                        c.close(.tls("TLS handshake timeout"))
                    }
                } else {
                    c.start()
                    bind()
                }
            }
        }
    }

    private func bind() {
        set(.binding)
        let bindID = viaOutbind ? CommandID.bindReceiver : config.bindType.commandID
        let b = Bind(systemID: COctetString(config.systemID), password: COctetString(config.password),
                     systemType: COctetString(config.systemType), interfaceVersion: 0x34,
                     addrTON: config.addrTON, addrNPI: config.addrNPI, addressRange: COctetString(config.addressRange))
        let seq = sequence()
        outstanding[seq] = Outstanding(commandID: bindID, deadline: now() + nanos(config.responseTimeout), completion: nil)
        write(PDU(bindID, sequenceNumber: seq, body: .bind(b)))
        startTimer()
    }

    private func bindResponse(_ frame: PDUFrame) {
        let status = frame.commandStatus
        if status.isOK {
            attempt = 0
            authFailures = 0
            stats.boundSince = now()
            stats.lastBindError = nil
            set(.bound)
            event("bound", "system_id \(config.systemID)")
            pump()
            return
        }
        stats.lastBindError = status
        let auth = status == .invalidPassword || status == .invalidSystemID
        event(auth ? "bind_refused_credentials" : "bind_refused", status.description)
        connection?.close(.local("bind refused \(status)"))
    }

    // MARK: Receiving

    private func received(_ frame: PDUFrame) {
        stats.pdusIn += 1
        lastActivity = now()
        stats.lastReceivedAt = lastActivity
        let id = frame.commandID
        if id.isResponse {
            response(frame)
            return
        }
        // Every other request is decoded (they are rare) so a malformed one is
        // answered with the codec's status before anything else.
        if id != .deliverSM, id != .dataSM, id.isKnown {
            do {
                _ = try PDU.decode(frame)
            } catch {
                stats.malformed += 1
                if id.expectsResponse {
                    write(PDU(id.response, status: error.commandStatus, sequenceNumber: frame.sequenceNumber))
                } else {
                    write(PDU.genericNack(sequenceNumber: frame.sequenceNumber, status: error.commandStatus))
                    stats.genericNacksSent += 1
                }
                handler?.session(self, rejected: frame, error: error)
                return
            }
        }
        switch id {
        case .deliverSM, .dataSM:
            stats.deliverSM += 1
            stats.lastDeliverSMAt = lastActivity
            // Validate before handing over. A malformed one is kept as evidence when the
            // handler takes it (acked after it is stored), otherwise answered here.
            var invalid: DecodeError?
            do {
                if id == .deliverSM { _ = try ShortMessageView(frame) } else { _ = try DataSMView(frame) }
            } catch {
                stats.malformed += 1
                invalid = error
            }
            let bound = state == .bound || state == .unbinding
            if let error = invalid, !bound || handler == nil {
                write(PDU.response(to: frame.header, status: error.commandStatus))
                handler?.session(self, rejected: frame, error: error)
                return
            }
            guard bound else {
                write(PDU.response(to: frame.header, status: .invalidBindStatus))
                return
            }
            let token = AckToken(connection: generation, sequenceNumber: frame.sequenceNumber, commandID: id, receivedAt: lastActivity)
            unacked.insert(frame.sequenceNumber)
            if unacked.count >= config.maxUnackedInbound, let c = connection, !c.isReadingPaused {
                stats.backpressurePauses += 1
                c.pauseReading()
                event("backpressure", "paused at \(unacked.count) unacked")
            }
            if let error = invalid {
                if handler?.session(self, invalid: frame, error: error, token: token) != true {
                    sendAck(token, error.commandStatus)
                    handler?.session(self, rejected: frame, error: error)
                }
                return
            }
            if let handler {
                handler.session(self, received: frame, token: token)
            } else {
                // No handler (its carrier was removed or changed by a reload): nothing can
                // store this, so it is never acked OK; the SMSC delivers it again later.
                sendAck(token, .temporaryAppError)
            }
        case .enquireLink:
            write(PDU(.enquireLinkResp, sequenceNumber: frame.sequenceNumber))
        case .unbind:
            write(PDU(.unbindResp, sequenceNumber: frame.sequenceNumber))
            event("peer_unbind", "")
            connection?.close(.local("peer unbind"))
        case .alertNotification:
            stats.alertNotifications += 1
            event("alert_notification", "")
        case .outbind:
            if viaOutbind { outbind(frame) } else { stats.unknownCommands += 1 }  // meaningless on our own connection
        default:
            if id.isKnown {
                // A request an ESME never receives (submit_sm, bind…): answer with the status for the wrong bind state.
                write(PDU.genericNack(sequenceNumber: frame.sequenceNumber, status: .invalidBindStatus))
            } else {
                stats.unknownCommands += 1
                write(PDU.genericNack(sequenceNumber: frame.sequenceNumber, status: .invalidCommandID))
            }
            stats.genericNacksSent += 1
        }
    }

    private func response(_ frame: PDUFrame) {
        let seq = frame.sequenceNumber
        guard let o = outstanding.removeValue(forKey: seq) else {
            stats.unmatchedResponses += 1
            event("unmatched_response", "\(frame.commandID) seq \(seq)")
            return
        }
        if frame.commandID == .genericNack || frame.commandID == o.commandID.response {
            switch o.commandID {
            case .bindReceiver, .bindTransceiver, .bindTransmitter:
                if frame.commandID == .genericNack { stats.lastBindError = frame.commandStatus; connection?.close(.local("bind nacked")) } else { bindResponse(frame) }
                return
            case .unbind:
                connection?.close(.local("unbound"))
                return
            default:
                break
            }
            if let c = o.completion {
                let pdu = try? PDU.decode(frame)
                c(pdu.map { .success($0) } ?? .success(PDU(frame.commandID, status: frame.commandStatus, sequenceNumber: seq)))
            }
            pump()
        } else {
            stats.unmatchedResponses += 1
        }
    }

    // MARK: Acks and backpressure

    private func sendAck(_ token: AckToken, _ status: CommandStatus) {
        guard token.connection == generation, let c = connection, !c.isClosed, unacked.remove(token.sequenceNumber) != nil else {
            return  // the connection it belonged to is gone: the SMSC will redeliver
        }
        var buf = (UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &buf) { out in
            let n = ResponseEncoder.writeMessageIDResp(into: out, commandID: token.commandID.response, status: status, sequenceNumber: token.sequenceNumber)
            c.send(UnsafeRawBufferPointer(rebasing: out[0..<n]))
        }
        stats.pdusOut += 1
        stats.acksSent += 1
        if c.isReadingPaused, !stopping, unacked.count <= config.maxUnackedInbound / 2 {
            c.resumeReading()
            event("backpressure", "resumed at \(unacked.count) unacked")
        }
        if stopping, unacked.isEmpty, state == .bound { sendUnbind() }
    }

    // MARK: Requests and the window

    private func pump() {
        while state == .bound, outstanding.count < config.window, !waiting.isEmpty {
            var (pdu, completion) = waiting.removeFirst()
            let seq = sequence()
            pdu.sequenceNumber = seq
            outstanding[seq] = Outstanding(commandID: pdu.commandID, deadline: now() + nanos(config.responseTimeout), completion: completion)
            write(pdu)
        }
    }

    /// sequence_number from 1 to 0x7FFFFFFF, wrapping, skipping ones still outstanding.
    private func sequence() -> UInt32 {
        repeat {
            let s = nextSequence
            nextSequence = s >= 0x7FFF_FFFF ? 1 : s + 1
            if outstanding[s] == nil { return s }
        } while true
    }

    private func write(_ pdu: PDU) {
        guard let c = connection, !c.isClosed else { return }
        stats.pdusOut += 1
        c.send(pdu)
    }

    // MARK: Timers

    private func startTimer() {
        timer?.cancel()
        let t = DispatchSource.makeTimerSource(queue: queue)
        let tick = max(0.02, min(config.enquireLinkInterval, config.responseTimeout) / 4)
        t.schedule(deadline: .now() + tick, repeating: tick)
        t.setEventHandler { [weak self] in self?.tick() }
        timer = t
        t.resume()
    }

    private func tick() {
        let t = now()
        // A peer that stopped reading our responses: its output has not moved for a response timeout.
        if let c = connection, c.outputStalledNanos(now: t) > nanos(config.responseTimeout) {
            event("write_stalled", "the peer has read nothing for \(config.responseTimeout) s (\(c.pendingOutput) bytes queued)")
            c.close(.local("write_stalled"))
            return
        }
        for (seq, o) in outstanding where t >= o.deadline {
            outstanding.removeValue(forKey: seq)
            switch o.commandID {
            case .enquireLink:
                event("link_dead", "no enquire_link_resp in \(config.responseTimeout) s")
                connection?.close(.local("enquire_link timeout"))
                return
            case .bindReceiver, .bindTransceiver, .bindTransmitter:
                connection?.close(.local("bind timeout"))
                return
            case .unbind:
                connection?.close(.local("unbind timeout"))
                return
            default:
                o.completion?(.failure(.timeout))
            }
        }
        if state == .bound, t - lastActivity >= nanos(config.enquireLinkInterval),
            !outstanding.values.contains(where: { $0.commandID == .enquireLink })
        {
            let seq = sequence()
            outstanding[seq] = Outstanding(commandID: .enquireLink, deadline: t + nanos(config.responseTimeout), completion: nil)
            stats.enquireLinksSent += 1
            write(PDU(.enquireLink, sequenceNumber: seq))
            lastActivity = t
        }
        if stopping, state == .bound, t >= shutdownDeadline { sendUnbind() }
        pump()
    }

    // MARK: Closing, reconnecting, stopping

    private func closed(_ reason: CloseReason, gen: UInt64) {
        guard gen == generation else { return }
        connection = nil
        timer?.cancel()
        timer = nil
        unacked.removeAll()
        for (_, o) in outstanding { o.completion?(.failure(.disconnected)) }
        outstanding.removeAll()
        for (_, c) in waiting { c?(.failure(.disconnected)) }
        waiting.removeAll()
        event("closed", reason.description)
        stats.lastError = reason.description
        if stopping {
            finishStop()
            return
        }
        if viaOutbind {
            set(.idle)  // the SMSC outbinds again when it has traffic
            return
        }
        let auth = stats.lastBindError == .invalidPassword || stats.lastBindError == .invalidSystemID
        scheduleReconnect(reason: reason.label, auth: auth && state == .binding)
    }

    private func scheduleReconnect(reason: String, auth: Bool) {
        guard !stopping else { finishStop(); return }
        stats.reconnects += 1
        stats.reconnectReasons[reason, default: 0] += 1
        let delay: Double
        if auth {
            delay = config.authFailureBackoff.delay(attempt: authFailures)
            authFailures += 1
            event("auth_backoff", "bad credentials: next bind in \(Int(delay)) s")
        } else {
            delay = config.backoff.delay(attempt: attempt)
            attempt += 1
        }
        set(.backoff)
        let w = DispatchWorkItem { [weak self] in self?.connect() }
        reconnectWork = w
        queue.asyncAfter(deadline: .now() + delay, execute: w)
    }

    private func drainThenUnbind() {
        if unacked.isEmpty || now() >= shutdownDeadline {
            sendUnbind()
        } else {
            queue.asyncAfter(deadline: .now() + 0.01) { [weak self] in
                guard let self, self.state == .bound else { return }
                self.drainThenUnbind()
            }
        }
    }

    private func sendUnbind() {
        guard state == .bound else { return }
        set(.unbinding)
        let seq = sequence()
        outstanding[seq] = Outstanding(commandID: .unbind, deadline: now() + nanos(min(config.responseTimeout, 5)), completion: nil)
        write(PDU(.unbind, sequenceNumber: seq))
    }

    private func finishStop() {
        timer?.cancel()
        timer = nil
        connection?.close(.local("stopped"))
        connection = nil
        set(.stopped)
        let done = shutdownDone
        shutdownDone = []
        for d in done { d() }
    }

    private func set(_ s: SessionState) {
        state = s
        stats.state = s
    }

    private func event(_ name: String, _ detail: String) { onEvent?(name, "[\(config.name)] \(detail)") }
}

@inline(__always) func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
@inline(__always) func nanos(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }

/// The binds of one carrier: several sessions, each its own connection and queue,
/// so one bind's trouble (or one carrier's) never touches another's.
public final class CarrierBinds: @unchecked Sendable {
    public let sessions: [ESMESession]

    /// `count` sessions from one config, named "<name>-1", "<name>-2", …
    public init(config: SessionConfig, count: Int, handler: any InboundHandler) {
        sessions = (1...max(1, count)).map { i in
            var c = config
            c.name = "\(config.name)-\(i)"
            return ESMESession(config: c, handler: handler)
        }
    }

    public func start() { sessions.forEach { $0.start() } }

    /// Shuts every bind down in parallel; `done` runs when all have stopped.
    public func shutdown(deadline: Double = 5, done: (@Sendable () -> Void)? = nil) {
        let group = DispatchGroup()
        for s in sessions {
            group.enter()
            s.shutdown(deadline: deadline) { group.leave() }
        }
        if let done { group.notify(queue: .global(), execute: done) }
    }
}
