import Primitives
public import SMPPWire

/// A deliver_sm or data_sm the session validated, handed on as the view it built:
/// nobody parses it again. Valid only during the handler's call (see `PDUFrame`).
public enum Inbound {
    case deliverSM(ShortMessageView)
    case dataSM(DataSMView)

    @inlinable public var bytes: UnsafeRawBufferPointer {
        switch self {
        case .deliverSM(let v): v.bytes
        case .dataSM(let v): v.bytes
        }
    }
    @inlinable public var commandID: CommandID {
        switch self {
        case .deliverSM: .deliverSM
        case .dataSM: .dataSM
        }
    }
}

/// The ESME side of an SMPP 3.4 session as a value, in the manner of postgres-nio's
/// `ConnectionStateMachine`: events go in (a frame arrived, the timer fired, an ack is
/// ready, the connection closed), actions come out (send, deliver, pause, close,
/// reconnect). It owns no socket, clock or queue, so it is tested without any
/// (`ESMEStateMachineTests`); `ESMESession` is the Dispatch driver that performs the actions.
public struct ESMEStateMachine {
    public typealias Completion = @Sendable (Result<PDU, RequestError>) -> Void

    public enum RequestError: Error, Hashable, Sendable {
        case timeout
        case disconnected
        case notBound
    }

    public enum State: Hashable, Sendable {
        case idle
        /// TCP connect in progress.
        case connecting
        case tlsHandshake(deadline: UInt64)
        /// A connection the SMSC opened: waiting for its outbind.
        case awaitingOutbind(deadline: UInt64)
        case binding
        case bound
        /// Stopping: reading paused, waiting for the handler's acks until `deadline`, then unbind.
        case draining(deadline: UInt64)
        case unbinding
        case backoff
        case stopped

        /// The coarse state operators and metrics see.
        public var phase: SessionState {
            switch self {
            case .idle: .idle
            case .connecting, .tlsHandshake, .awaitingOutbind: .connecting
            case .binding: .binding
            case .bound, .draining: .bound
            case .unbinding: .unbinding
            case .backoff: .backoff
            case .stopped: .stopped
            }
        }
    }

    /// What the driver must do. Views in `.deliver`, `.deliverInvalid` and `.rejected`
    /// point into the receive buffer: act on them before returning to the event loop.
    public enum Action {
        /// Open a TCP connection, then report `connected` or `connectFailed`.
        case connect
        /// Start the TLS handshake on the connection, then report `tlsEstablished`.
        case startTLS
        /// Call `timerFired` every `interval` seconds while connected.
        case startTimer(interval: Double)
        case cancelTimer
        /// Call `timerFired` once after `seconds` (a deadline earlier than the next tick).
        case wake(after: Double)
        case send(PDU)
        /// A response without a body, or deliver_sm_resp / data_sm_resp with an empty message_id.
        case respond(CommandID, CommandStatus, sequenceNumber: UInt32)
        case deliver(Inbound, AckToken)
        /// Body validation failed on a bound session: the handler may keep it as evidence
        /// (and ack it later); if it declines, report `invalidDeclined`.
        case deliverInvalid(PDUFrame, DecodeError, AckToken)
        /// Answered here with an error status; the handler only counts it.
        case rejected(PDUFrame, DecodeError)
        case pauseReading
        case resumeReading
        case close(CloseReason)
        /// Call `connectRequested` after `seconds`.
        case reconnect(after: Double)
        case complete(Completion, Result<PDU, RequestError>)
        case event(String, String)
        /// The session has stopped: release the connection and run the shutdown callbacks.
        case stopped
    }

    /// One event's actions. Most events have one: it is kept inline, so the per-message
    /// events (a deliver_sm, its ack) allocate nothing.
    public struct Actions: Sequence {
        @usableFromInline var first: Action?
        @usableFromInline var rest: [Action] = []

        public init() {}
        init(_ a: Action) { first = a }

        mutating func append(_ a: Action) {
            if first == nil { first = a } else { rest.append(a) }
        }

        public var isEmpty: Bool { first == nil }
        public var count: Int { first == nil ? 0 : 1 + rest.count }

        public struct Iterator: IteratorProtocol {
            var actions: Actions
            var index = 0
            public mutating func next() -> Action? {
                defer { index += 1 }
                if index == 0 { return actions.first }
                return index - 1 < actions.rest.count ? actions.rest[index - 1] : nil
            }
        }
        public func makeIterator() -> Iterator { Iterator(actions: self) }
    }

    struct Outstanding {
        var commandID: CommandID
        var deadline: UInt64
        var completion: Completion?
    }

    public let config: SessionConfig
    /// A session the SMSC opened with outbind binds as receiver on that connection and
    /// does not reconnect by itself (the SMSC outbinds again).
    public let viaOutbind: Bool
    public private(set) var state: State = .idle
    /// Identifies the current connection; an ack token from an earlier one is dropped.
    public private(set) var connectionID: UInt64 = 0
    private var stats = SessionStats()
    private var nextSequence: UInt32
    private var outstanding: [UInt32: Outstanding] = [:]
    private var waiting: [(PDU, Completion?)] = []
    private var unacked: Set<UInt32> = []
    private var readingPaused = false
    private var lastActivity: UInt64 = 0
    private var attempt = 0
    private var authFailures = 0
    /// The jitter source for backoff; tests make it fixed.
    var random: () -> Double = { Double.random(in: 0...1) }

    public init(config: SessionConfig, viaOutbind: Bool = false) {
        self.config = config
        self.viaOutbind = viaOutbind
        nextSequence = max(1, min(config.firstSequenceNumber, 0x7FFF_FFFF))
    }

    public var snapshot: SessionStats {
        var s = stats
        s.state = state.phase
        s.unackedInbound = unacked.count
        s.windowInUse = outstanding.count
        return s
    }

    private var isStopping: Bool {
        switch state {
        case .draining, .unbinding, .stopped: true
        default: false
        }
    }

    /// Bound, or bound and stopping: deliveries are taken and acked.
    private var acceptsDeliveries: Bool {
        switch state {
        case .bound, .draining, .unbinding: true
        default: false
        }
    }

    private var tickInterval: Double { max(0.02, min(config.enquireLinkInterval, config.responseTimeout) / 4) }

    // MARK: Connecting and binding

    /// The session starts, or a reconnect's delay has passed.
    public mutating func connectRequested() -> Actions {
        guard state == .idle || state == .backoff else { return Actions() }
        connectionID &+= 1
        state = .connecting
        return Actions(.connect)
    }

    public mutating func connectFailed(_ reason: String) -> Actions {
        guard state == .connecting else { return Actions() }
        stats.lastError = reason
        var out = Actions(.event("connect_failed", reason))
        scheduleReconnect(reason: "connect_failed", auth: false, into: &out)
        return out
    }

    /// The TCP connection is up: TLS first when configured, then bind.
    public mutating func connected(now: UInt64) -> Actions {
        guard state == .connecting else { return Actions() }
        lastActivity = now
        var out = Actions(.startTimer(interval: tickInterval))
        if config.tls != nil {
            // A peer that accepts TCP and then says nothing must not hold the bind here.
            state = .tlsHandshake(deadline: now + Clock.nanos(config.connectTimeout))
            out.append(.startTLS)
        } else {
            bind(now: now, into: &out)
        }
        return out
    }

    public mutating func tlsEstablished(version: String, now: UInt64) -> Actions {
        guard case .tlsHandshake = state else { return Actions() }
        var out = Actions(.event("tls_established", version))
        bind(now: now, into: &out)
        return out
    }

    /// A connection the SMSC opened (outbind listener): wait for its outbind.
    public mutating func adopted(now: UInt64) -> Actions {
        connectionID &+= 1
        lastActivity = now
        // An SMSC that connects but never sends outbind is dropped after a response timeout.
        state = .awaitingOutbind(deadline: now + Clock.nanos(config.responseTimeout))
        return Actions(.startTimer(interval: tickInterval))
    }

    private mutating func bind(now: UInt64, into out: inout Actions) {
        state = .binding
        let bindID = viaOutbind ? CommandID.bindReceiver : config.bindType.commandID
        let b = Bind(systemID: COctetString(config.systemID), password: COctetString(config.password),
                     systemType: COctetString(config.systemType), interfaceVersion: 0x34,
                     addrTON: config.addrTON, addrNPI: config.addrNPI, addressRange: COctetString(config.addressRange))
        let seq = sequence()
        outstanding[seq] = Outstanding(commandID: bindID, deadline: now + Clock.nanos(config.responseTimeout), completion: nil)
        send(PDU(bindID, sequenceNumber: seq, body: .bind(b)), into: &out)
    }

    private mutating func bindResponse(_ frame: PDUFrame, now: UInt64, into out: inout Actions) {
        let status = frame.commandStatus
        guard status.isOK else {
            stats.lastBindError = status
            let auth = status == .invalidPassword || status == .invalidSystemID
            out.append(.event(auth ? "bind_refused_credentials" : "bind_refused", status.description))
            out.append(.close(.local("bind refused \(status)")))
            return
        }
        attempt = 0
        authFailures = 0
        stats.boundSince = now
        stats.lastBindError = nil
        state = .bound
        out.append(.event("bound", "system_id \(config.systemID)"))
        pump(now: now, into: &out)
    }

    private mutating func outbind(_ frame: PDUFrame, now: UInt64, into out: inout Actions) {
        guard case .awaitingOutbind = state else { return }
        guard case .outbind(let o)? = try? PDU.decode(frame).body,
            o.systemID.string == config.systemID, o.password.string == config.password
        else {
            out.append(.event("outbind_refused", "credentials do not match"))
            out.append(.close(.local("outbind refused")))
            return
        }
        out.append(.event("outbind", "binding as receiver"))
        bind(now: now, into: &out)
    }

    // MARK: Receiving

    /// One complete frame from the connection.
    public mutating func frameReceived(_ frame: PDUFrame, now: UInt64) -> Actions {
        stats.pdusIn += 1
        lastActivity = now
        stats.lastReceivedAt = now
        var out = Actions()
        let id = frame.commandID
        if id.isResponse {
            response(frame, now: now, into: &out)
            return out
        }
        // Every other request is decoded (they are rare) so a malformed one is
        // answered with the codec's status before anything else.
        if id != .deliverSM, id != .dataSM, id.isKnown {
            do {
                _ = try PDU.decode(frame)
            } catch {
                stats.malformed += 1
                if id.expectsResponse {
                    respond(id.response, error.commandStatus, frame.sequenceNumber, into: &out)
                } else {
                    genericNack(frame.sequenceNumber, error.commandStatus, into: &out)
                }
                out.append(.rejected(frame, error))
                return out
            }
        }
        switch id {
        case .deliverSM, .dataSM:
            delivery(frame, now: now, into: &out)
        case .enquireLink:
            respond(.enquireLinkResp, .ok, frame.sequenceNumber, into: &out)
        case .unbind:
            respond(.unbindResp, .ok, frame.sequenceNumber, into: &out)
            out.append(.event("peer_unbind", ""))
            out.append(.close(.local("peer unbind")))
        case .alertNotification:
            stats.alertNotifications += 1
            out.append(.event("alert_notification", ""))
        case .outbind:
            // Meaningless on a connection we opened.
            if viaOutbind { outbind(frame, now: now, into: &out) } else { stats.unknownCommands += 1 }
        default:
            if id.isKnown {
                // A request an ESME never receives (submit_sm, bind…): the status for the wrong bind state.
                genericNack(frame.sequenceNumber, .invalidBindStatus, into: &out)
            } else {
                stats.unknownCommands += 1
                genericNack(frame.sequenceNumber, .invalidCommandID, into: &out)
            }
        }
        return out
    }

    private mutating func delivery(_ frame: PDUFrame, now: UInt64, into out: inout Actions) {
        stats.deliverSM += 1
        stats.lastDeliverSMAt = now
        let id = frame.commandID
        // Validated once, here; the view goes to the handler.
        var inbound: Inbound?
        var invalid: DecodeError?
        do {
            inbound = id == .deliverSM ? .deliverSM(try ShortMessageView(frame)) : .dataSM(try DataSMView(frame))
        } catch {
            stats.malformed += 1
            invalid = error
        }
        guard acceptsDeliveries else {
            respond(id.response, invalid?.commandStatus ?? .invalidBindStatus, frame.sequenceNumber, into: &out)
            if let invalid { out.append(.rejected(frame, invalid)) }
            return
        }
        let token = AckToken(connection: connectionID, sequenceNumber: frame.sequenceNumber, commandID: id, receivedAt: now)
        unacked.insert(frame.sequenceNumber)
        if unacked.count >= config.maxUnackedInbound, !readingPaused {
            stats.backpressurePauses += 1
            readingPaused = true
            out.append(.pauseReading)
            out.append(.event("backpressure", "paused at \(unacked.count) unacked"))
        }
        if let inbound {
            out.append(.deliver(inbound, token))
        } else if let invalid {
            out.append(.deliverInvalid(frame, invalid, token))
        }
    }

    /// The handler would not keep an invalid delivery: answer it with the error's status.
    public mutating func invalidDeclined(_ frame: PDUFrame, error: DecodeError, token: AckToken, now: UInt64) -> Actions {
        var out = ackReady(token, status: error.commandStatus, now: now)
        out.append(.rejected(frame, error))
        return out
    }

    private mutating func response(_ frame: PDUFrame, now: UInt64, into out: inout Actions) {
        let seq = frame.sequenceNumber
        guard let o = outstanding.removeValue(forKey: seq) else {
            stats.unmatchedResponses += 1
            out.append(.event("unmatched_response", "\(frame.commandID) seq \(seq)"))
            return
        }
        guard frame.commandID == .genericNack || frame.commandID == o.commandID.response else {
            stats.unmatchedResponses += 1
            return
        }
        switch o.commandID {
        case .bindReceiver, .bindTransceiver, .bindTransmitter:
            if frame.commandID == .genericNack {
                stats.lastBindError = frame.commandStatus
                out.append(.close(.local("bind nacked")))
            } else {
                bindResponse(frame, now: now, into: &out)
            }
        case .unbind:
            out.append(.close(.local("unbound")))
        default:
            if let c = o.completion {
                let pdu = (try? PDU.decode(frame)) ?? PDU(frame.commandID, status: frame.commandStatus, sequenceNumber: seq)
                out.append(.complete(c, .success(pdu)))
            }
            pump(now: now, into: &out)
        }
    }

    // MARK: Acks and backpressure

    /// The handler's answer to a delivery. One for a connection that has since gone
    /// is dropped: the SMSC redelivers what it never saw acked.
    public mutating func ackReady(_ token: AckToken, status: CommandStatus, now: UInt64) -> Actions {
        guard token.connection == connectionID, acceptsDeliveries, unacked.remove(token.sequenceNumber) != nil else {
            return Actions()
        }
        stats.acksSent += 1
        var out = Actions()
        respond(token.commandID.response, status, token.sequenceNumber, into: &out)
        switch state {
        case .draining:
            if unacked.isEmpty { unbind(now: now, into: &out) }
        default:
            if readingPaused, unacked.count <= config.maxUnackedInbound / 2 {
                readingPaused = false
                out.append(.resumeReading)
                out.append(.event("backpressure", "resumed at \(unacked.count) unacked"))
            }
        }
        return out
    }

    // MARK: Requests and the window

    /// A request to send through the window; `completion` gets its response.
    public mutating func request(_ pdu: PDU, completion: Completion?, now: UInt64) -> Actions {
        guard state == .bound else { return completion.map { Actions(.complete($0, .failure(.notBound))) } ?? Actions() }
        waiting.append((pdu, completion))
        var out = Actions()
        pump(now: now, into: &out)
        return out
    }

    private mutating func pump(now: UInt64, into out: inout Actions) {
        while state == .bound || isDraining, outstanding.count < config.window, !waiting.isEmpty {
            var (pdu, completion) = waiting.removeFirst()
            let seq = sequence()
            pdu.sequenceNumber = seq
            outstanding[seq] = Outstanding(commandID: pdu.commandID, deadline: now + Clock.nanos(config.responseTimeout), completion: completion)
            send(pdu, into: &out)
        }
    }

    private var isDraining: Bool {
        if case .draining = state { return true }
        return false
    }

    /// sequence_number from 1 to 0x7FFFFFFF, wrapping, skipping ones still outstanding.
    private mutating func sequence() -> UInt32 {
        repeat {
            let s = nextSequence
            nextSequence = s >= 0x7FFF_FFFF ? 1 : s + 1
            if outstanding[s] == nil { return s }
        } while true
    }

    private mutating func send(_ pdu: PDU, into out: inout Actions) {
        stats.pdusOut += 1
        out.append(.send(pdu))
    }

    private mutating func respond(_ id: CommandID, _ status: CommandStatus, _ seq: UInt32, into out: inout Actions) {
        stats.pdusOut += 1
        out.append(.respond(id, status, sequenceNumber: seq))
    }

    private mutating func genericNack(_ seq: UInt32, _ status: CommandStatus, into out: inout Actions) {
        stats.genericNacksSent += 1
        respond(.genericNack, status, seq, into: &out)
    }

    // MARK: Time

    /// The periodic tick (or a `wake`). `outputStalledNanos`: how long the peer has
    /// read none of our queued output (0 when nothing is queued).
    public mutating func timerFired(now t: UInt64, outputStalledNanos: UInt64, pendingOutput: Int) -> Actions {
        var out = Actions()
        switch state {
        case .idle, .connecting, .backoff, .stopped:
            return out
        case .tlsHandshake(let deadline) where t >= deadline:
            out.append(.event("tls_handshake_timeout", "no TLS handshake in \(config.connectTimeout) s"))
            out.append(.close(.tls("TLS handshake timeout")))
            return out
        case .awaitingOutbind(let deadline) where t >= deadline:
            out.append(.close(.local("no outbind received")))
            return out
        default:
            break
        }
        // A peer that stopped reading our responses: its output has not moved for a response timeout.
        if outputStalledNanos > Clock.nanos(config.responseTimeout) {
            out.append(.event("write_stalled", "the peer has read nothing for \(config.responseTimeout) s (\(pendingOutput) bytes queued)"))
            out.append(.close(.local("write_stalled")))
            return out
        }
        for (seq, o) in outstanding where t >= o.deadline {
            outstanding.removeValue(forKey: seq)
            switch o.commandID {
            case .enquireLink:
                out.append(.event("link_dead", "no enquire_link_resp in \(config.responseTimeout) s"))
                out.append(.close(.local("enquire_link timeout")))
                return out
            case .bindReceiver, .bindTransceiver, .bindTransmitter:
                out.append(.close(.local("bind timeout")))
                return out
            case .unbind:
                out.append(.close(.local("unbind timeout")))
                return out
            default:
                if let c = o.completion { out.append(.complete(c, .failure(.timeout))) }
            }
        }
        if state == .bound || isDraining, t - lastActivity >= Clock.nanos(config.enquireLinkInterval),
            !outstanding.values.contains(where: { $0.commandID == .enquireLink })
        {
            let seq = sequence()
            outstanding[seq] = Outstanding(commandID: .enquireLink, deadline: t + Clock.nanos(config.responseTimeout), completion: nil)
            stats.enquireLinksSent += 1
            send(PDU(.enquireLink, sequenceNumber: seq), into: &out)
            lastActivity = t
        }
        if case .draining(let deadline) = state, t >= deadline { unbind(now: t, into: &out) }
        pump(now: t, into: &out)
        return out
    }

    // MARK: Closing, reconnecting, stopping

    /// Graceful stop: stop reading, wait until `deadline` for the handler's acks, unbind,
    /// wait for unbind_resp, close. Not bound: close at once.
    public mutating func stop(deadline seconds: Double, now: UInt64) -> Actions {
        switch state {
        case .bound:
            let deadline = now + Clock.nanos(seconds)
            state = .draining(deadline: deadline)
            var out = Actions(.event("shutdown", "waiting for \(unacked.count) acks"))
            if !readingPaused {
                readingPaused = true
                out.append(.pauseReading)
            }
            if unacked.isEmpty { unbind(now: now, into: &out) } else { out.append(.wake(after: seconds)) }
            return out
        case .draining, .unbinding:
            return Actions()  // already on its way
        case .stopped:
            return Actions(.stopped)
        case .idle, .connecting, .tlsHandshake, .awaitingOutbind, .binding, .backoff:
            // Nothing was delivered on a session that is not bound: nothing to drain.
            state = .stopped
            var out = Actions(.cancelTimer)
            out.append(.close(.local("stopped")))
            out.append(.stopped)
            return out
        }
    }

    private mutating func unbind(now: UInt64, into out: inout Actions) {
        guard isDraining else { return }
        state = .unbinding
        let seq = sequence()
        outstanding[seq] = Outstanding(commandID: .unbind, deadline: now + Clock.nanos(min(config.responseTimeout, 5)), completion: nil)
        send(PDU(.unbind, sequenceNumber: seq), into: &out)
    }

    /// The connection is gone, whichever side closed it.
    public mutating func closed(_ reason: CloseReason) -> Actions {
        var out = Actions(.cancelTimer)
        unacked.removeAll()
        readingPaused = false
        for (_, o) in outstanding { if let c = o.completion { out.append(.complete(c, .failure(.disconnected))) } }
        outstanding.removeAll()
        for (_, c) in waiting { if let c { out.append(.complete(c, .failure(.disconnected))) } }
        waiting.removeAll()
        if state == .stopped { return out }
        out.append(.event("closed", reason.description))
        stats.lastError = reason.description
        switch state {
        case .draining, .unbinding:
            state = .stopped
            out.append(.stopped)
        case _ where viaOutbind:
            state = .idle  // the SMSC outbinds again when it has traffic
        default:
            let auth = stats.lastBindError == .invalidPassword || stats.lastBindError == .invalidSystemID
            scheduleReconnect(reason: reason.label, auth: auth && state == .binding, into: &out)
        }
        return out
    }

    private mutating func scheduleReconnect(reason: String, auth: Bool, into out: inout Actions) {
        stats.reconnects += 1
        stats.reconnectReasons[reason, default: 0] += 1
        let delay: Double
        if auth {
            // Bad credentials back off long: hammering an SMSC with a wrong password gets the account locked.
            delay = config.authFailureBackoff.delay(attempt: authFailures, random: random())
            authFailures += 1
            out.append(.event("auth_backoff", "bad credentials: next bind in \(Int(delay)) s"))
        } else {
            delay = config.backoff.delay(attempt: attempt, random: random())
            attempt += 1
        }
        state = .backoff
        out.append(.reconnect(after: delay))
    }
}

