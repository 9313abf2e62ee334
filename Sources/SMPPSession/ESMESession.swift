#if canImport(Glibc)
    import Glibc
#endif
public import Dispatch
public import SMPPWire
import Primitives

/// An ESME (client) session: the Dispatch driver around `ESMEStateMachine`. It owns
/// the connection, the timer and the handler, feeds the machine its events and
/// performs the actions it returns.
///
/// All state is confined to `queue` (one serial queue per connection); public
/// methods hop onto it.
public final class ESMESession: @unchecked Sendable {
    public typealias RequestError = ESMEStateMachine.RequestError
    public let config: SessionConfig
    public let queue: DispatchQueue
    private weak var handler: (any InboundHandler)?
    private var machine: ESMEStateMachine
    private var connection: Connection?
    private var timer: (any DispatchSourceTimer)?
    private var shutdownDone: [@Sendable () -> Void] = []
    /// Hooks for logs and tests: (event, detail). Never given passwords.
    public var onEvent: (@Sendable (String, String) -> Void)?
    private var tlsContext: TLSContext?
    private var tlsSetupError: String?
    public var viaOutbind: Bool { machine.viaOutbind }

    public init(config: SessionConfig, handler: (any InboundHandler)?, viaOutbind: Bool = false) {
        self.config = config
        self.handler = handler
        machine = ESMEStateMachine(config: config, viaOutbind: viaOutbind)
        queue = DispatchQueue(label: "smpp.session.\(config.name)", target: SessionQueues.next())
        queue.setSpecific(key: Self.queueKey, value: ObjectIdentifier(self))
        if let t = config.tls {
            do { tlsContext = try TLSContext(t) } catch { tlsSetupError = "\(error)" }
        }
    }

    // MARK: Public API (any thread)

    public func start() { queue.async { self.perform(self.machine.connectRequested()) } }

    /// A copy of the counters and state.
    public var snapshot: SessionStats { queue.sync { machine.snapshot } }
    public var currentState: SessionState { queue.sync { machine.state.phase } }

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
            perform(machine.ackReady(token, status: status, now: Clock.monotonicNanos()))
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
        let t = Clock.monotonicNanos()
        let ackAll = { for (token, status) in acks { self.perform(self.machine.ackReady(token, status: status, now: t)) } }
        if let c = connection, !c.isClosed { c.batch(ackAll) } else { ackAll() }
    }

    private static let queueKey = DispatchSpecificKey<ObjectIdentifier>()

    /// Sends a request through the window; `completion` gets its response.
    public func request(_ pdu: PDU, completion: ESMEStateMachine.Completion? = nil) {
        queue.async { self.perform(self.machine.request(pdu, completion: completion, now: Clock.monotonicNanos())) }
    }

    /// Graceful shutdown: stop reading; wait (until `deadline` seconds) for in-flight
    /// acks; unbind; wait for unbind_resp; close. `done` runs when finished.
    public func shutdown(deadline: Double = 5, done: (@Sendable () -> Void)? = nil) {
        queue.async {
            if let done { self.shutdownDone.append(done) }
            self.perform(self.machine.stop(deadline: deadline, now: Clock.monotonicNanos()))
        }
    }

    /// Takes over a connection an SMSC opened (outbind listener): waits for its
    /// outbind, checks its credentials, then binds as receiver on it.
    public func adopt(fd: Int32) {
        queue.async { [self] in
            let actions = machine.adopted(now: Clock.monotonicNanos())
            install(Connection(fd: fd, queue: queue, limits: config.limits)).start()
            perform(actions)
        }
    }

    // MARK: Performing the machine's actions

    private func perform(_ actions: ESMEStateMachine.Actions) {
        for action in actions {
            switch action {
            case .connect: connect()
            case .startTLS:
                guard let c = connection, let ctx = tlsContext else { break }
                c.startTLS(ctx, host: config.tls?.serverName ?? config.host)
            case .startTimer(let interval):
                timer?.cancel()
                let t = DispatchSource.makeTimerSource(queue: queue)
                t.schedule(deadline: .now() + interval, repeating: interval)
                t.setEventHandler { [weak self] in self?.tick() }
                timer = t
                t.resume()
            case .cancelTimer:
                timer?.cancel()
                timer = nil
            case .wake(let seconds):
                queue.asyncAfter(deadline: .now() + seconds) { [weak self] in self?.tick() }
            case .send(let pdu):
                if let c = connection, !c.isClosed { c.send(pdu) }
            case .respond(let id, let status, let seq):
                guard let c = connection, !c.isClosed else { break }
                var buf = (UInt64(0), UInt64(0), UInt64(0))
                withUnsafeMutableBytes(of: &buf) { out in
                    let n = id == .deliverSMResp || id == .dataSMResp
                        ? ResponseEncoder.writeMessageIDResp(into: out, commandID: id, status: status, sequenceNumber: seq)
                        : ResponseEncoder.writeHeaderOnly(into: out, commandID: id, status: status, sequenceNumber: seq)
                    c.send(UnsafeRawBufferPointer(rebasing: out[0..<n]))
                }
            case .deliver(let message, let token):
                if let handler {
                    handler.session(self, received: message, token: token)
                } else {
                    // No handler (its carrier was removed or changed by a reload): nothing can
                    // store this, so it is never acked OK; the SMSC delivers it again later.
                    perform(machine.ackReady(token, status: .temporaryAppError, now: Clock.monotonicNanos()))
                }
            case .deliverInvalid(let frame, let error, let token):
                if handler?.session(self, invalid: frame, error: error, token: token) != true {
                    perform(machine.invalidDeclined(frame, error: error, token: token, now: Clock.monotonicNanos()))
                }
            case .rejected(let frame, let error):
                handler?.session(self, rejected: frame, error: error)
            case .pauseReading: connection?.pauseReading()
            case .resumeReading: connection?.resumeReading()
            case .close(let reason): connection?.close(reason)
            case .reconnect(let seconds):
                queue.asyncAfter(deadline: .now() + seconds) { [weak self] in
                    guard let self else { return }
                    perform(machine.connectRequested())
                }
            case .complete(let completion, let result): completion(result)
            case .event(let name, let detail): onEvent?(name, "[\(config.name)] \(detail)")
            case .stopped:
                timer?.cancel()
                timer = nil
                connection?.close(.local("stopped"))
                connection = nil
                let done = shutdownDone
                shutdownDone = []
                for d in done { d() }
            }
        }
    }

    private func connect() {
        let id = machine.connectionID
        Socket.connect(host: config.host, port: config.port, timeout: config.connectTimeout, queue: queue) { [self] r in
            guard id == machine.connectionID, machine.state == .connecting else {
                if case .success(let fd) = r { Glibc.close(fd) }
                return
            }
            switch r {
            case .failure(let e):
                perform(machine.connectFailed(e.description))
            case .success(let fd):
                let c = install(Connection(fd: fd, queue: queue, limits: config.limits))
                if config.tls != nil {
                    guard tlsContext != nil else {
                        c.start()
                        c.close(.tls(tlsSetupError ?? "TLS setup failed"))
                        return
                    }
                    if tlsContext?.config.insecure == true {
                        onEvent?("tls_insecure", "[\(config.name)] WARNING: TLS certificate verification is OFF for \(config.host):\(config.port) (insecure = true)")
                    }
                    c.onEstablished = { [unowned self] version in perform(machine.tlsEstablished(version: version, now: Clock.monotonicNanos())) }
                } else {
                    c.start()
                }
                perform(machine.connected(now: Clock.monotonicNanos()))
            }
        }
    }

    /// Makes `c` the current connection; its frames and its close go to the machine.
    @discardableResult
    private func install(_ c: Connection) -> Connection {
        let id = machine.connectionID
        connection = c
        c.onFrame = { [unowned self] frame in perform(machine.frameReceived(frame, now: Clock.monotonicNanos())) }
        c.onClose = { [unowned self] reason in
            guard id == machine.connectionID else { return }
            connection = nil
            perform(machine.closed(reason))
        }
        return c
    }

    private func tick() {
        let t = Clock.monotonicNanos()
        perform(machine.timerFired(now: t, outputStalledNanos: connection?.outputStalledNanos(now: t) ?? 0,
                                   pendingOutput: connection?.pendingOutput ?? 0))
    }
}


/// The binds of one carrier: several sessions, each its own connection and queue,
/// so one bind's trouble (or one carrier's) never touches another's.
public final class CarrierBinds: @unchecked Sendable {
    public let sessions: [ESMESession]

    /// `count` sessions from one config, named "<name>-1", "<name>-2", …, each with
    /// the handler `handler` gives for its name (held weakly, as by every session).
    public init(config: SessionConfig, count: Int, handler: (String) -> any InboundHandler) {
        sessions = (1...max(1, count)).map { i in
            var c = config
            c.name = "\(config.name)-\(i)"
            return ESMESession(config: c, handler: handler(c.name))
        }
    }

    public convenience init(config: SessionConfig, count: Int, handler: any InboundHandler) {
        self.init(config: config, count: count) { _ in handler }
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
