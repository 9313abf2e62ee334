@testable import SMPPSession
import SMPPWire
import Testing

/// The session's state machine without sockets, clocks or queues: events in, actions out.
@Suite struct ESMEStateMachineTests {
    static let second: UInt64 = 1_000_000_000

    static func config(_ edit: (inout SessionConfig) -> Void = { _ in }) -> SessionConfig {
        var c = SessionConfig(name: "m", host: "smsc", port: 2775, systemID: "trueotp", password: "secret")
        c.bindType = .transceiver
        c.enquireLinkInterval = 30
        c.responseTimeout = 10
        c.maxUnackedInbound = 4
        c.backoff = Backoff(initial: 2, maximum: 60)
        c.authFailureBackoff = Backoff(initial: 60, maximum: 900)
        edit(&c)
        return c
    }

    /// The actions as text, so that a test compares what the driver would do (views
    /// into a frame are only valid during the event, hence text, not the actions).
    static func describe(_ actions: ESMEStateMachine.Actions) -> [String] {
        actions.map { a in
            switch a {
            case .connect: "connect"
            case .startTLS: "startTLS"
            case .startTimer: "startTimer"
            case .cancelTimer: "cancelTimer"
            case .wake(let s): "wake \(s)"
            case .send(let p): "send \(p.commandID) seq=\(p.sequenceNumber)"
            case .respond(let id, let status, let seq): "respond \(id) \(status) seq=\(seq)"
            case .deliver(let m, let t): "deliver \(m.commandID) seq=\(t.sequenceNumber)"
            case .deliverInvalid(_, let e, let t): "deliverInvalid \(e.code) seq=\(t.sequenceNumber)"
            case .rejected(_, let e): "rejected \(e.code)"
            case .pauseReading: "pauseReading"
            case .resumeReading: "resumeReading"
            case .close(let r): "close \(r)"
            case .reconnect: "reconnect"
            case .complete(_, let r): "complete \(r)"
            case .event(let n, _): "event \(n)"
            case .stopped: "stopped"
            }
        }
    }

    /// A machine and the clock it is fed.
    struct Harness {
        var m: ESMEStateMachine
        var now: UInt64 = 1_000 * ESMEStateMachineTests.second
        var tokens: [AckToken] = []

        init(_ config: SessionConfig = ESMEStateMachineTests.config(), viaOutbind: Bool = false) {
            m = ESMEStateMachine(config: config, viaOutbind: viaOutbind)
            m.random = { 1 }
        }

        /// Feeds one PDU as the SMSC's; tokens of deliveries are kept.
        mutating func receive(_ pdu: PDU) -> [String] { receive(bytes: pdu.encode()) }

        mutating func receive(bytes: [UInt8]) -> [String] {
            let t = now
            return bytes.withUnsafeBytes { b in
                let actions = m.frameReceived(PDUFrame(unchecked: b), now: t)
                for a in actions {
                    switch a {
                    case .deliver(_, let token), .deliverInvalid(_, _, let token): tokens.append(token)
                    default: break
                    }
                }
                return ESMEStateMachineTests.describe(actions)
            }
        }

        mutating func tick(after seconds: Double, stalled: UInt64 = 0) -> [String] {
            now += UInt64(seconds * 1e9)
            return ESMEStateMachineTests.describe(m.timerFired(now: now, outputStalledNanos: stalled, pendingOutput: 0))
        }

        mutating func ack(_ token: AckToken, _ status: CommandStatus = .ok) -> [String] {
            ESMEStateMachineTests.describe(m.ackReady(token, status: status, now: now))
        }

        /// Connects and binds; returns the bind's sequence number.
        @discardableResult
        mutating func bind() -> UInt32 {
            _ = m.connectRequested()
            let a = m.connected(now: now)
            var seq: UInt32 = 0
            for case .send(let p) in a { seq = p.sequenceNumber }
            _ = receive(PDU(.bindTransceiverResp, sequenceNumber: seq, body: .bindResp(BindResp(systemID: "SMSC"))))
            return seq
        }
    }

    static func deliverSM(seq: UInt32, text: String = "Your code is 123456") -> PDU {
        var sm = ShortMessage()
        sm.sourceAddr = "Bank"
        sm.destinationAddr = "447700900123"
        sm.shortMessage = Array(text.utf8)
        return PDU(.deliverSM, sequenceNumber: seq, body: .shortMessage(sm))
    }

    @Test func connectsBindsAndIsBound() {
        var h = Harness()
        #expect(Self.describe(h.m.connectRequested()) == ["connect"])
        #expect(h.m.state == .connecting)
        #expect(Self.describe(h.m.connected(now: h.now)) == ["startTimer", "send bind_transceiver seq=1"])
        #expect(h.m.state == .binding)
        let a = h.receive(PDU(.bindTransceiverResp, sequenceNumber: 1, body: .bindResp(BindResp(systemID: "SMSC"))))
        #expect(a == ["event bound"])
        #expect(h.m.state == .bound)
        #expect(h.m.snapshot.boundSince == h.now)
    }

    @Test func aDeliveryIsHandedOnAndAckedWhenTheHandlerSays() {
        var h = Harness()
        h.bind()
        #expect(h.receive(Self.deliverSM(seq: 7)) == ["deliver deliver_sm seq=7"])
        #expect(h.m.snapshot.unackedInbound == 1)
        #expect(h.ack(h.tokens[0]) == ["respond deliver_sm_resp ESME_ROK seq=7"])
        #expect(h.m.snapshot.unackedInbound == 0)
        // A second answer for the same token sends nothing.
        #expect(h.ack(h.tokens[0]).isEmpty)
    }

    @Test func aDeliveryBeforeTheBindIsAnsweredWithTheBindStatus() {
        var h = Harness()
        _ = h.m.connectRequested()
        _ = h.m.connected(now: h.now)
        #expect(h.receive(Self.deliverSM(seq: 3)) == ["respond deliver_sm_resp ESME_RINVBNDSTS seq=3"])
        #expect(h.tokens.isEmpty)
    }

    @Test func readingPausesAtTheUnackedLimitAndResumesAtHalf() {
        var h = Harness()
        h.bind()
        for s in 1...3 { #expect(h.receive(Self.deliverSM(seq: UInt32(10 + s))).count == 1) }
        #expect(h.receive(Self.deliverSM(seq: 14)) == ["pauseReading", "event backpressure", "deliver deliver_sm seq=14"])
        #expect(h.ack(h.tokens[0]) == ["respond deliver_sm_resp ESME_ROK seq=11"])
        #expect(h.ack(h.tokens[1]) == ["respond deliver_sm_resp ESME_ROK seq=12", "resumeReading", "event backpressure"])
        #expect(h.m.snapshot.backpressurePauses == 1)
    }

    @Test func anAckForAnEarlierConnectionIsDropped() {
        var h = Harness()
        h.bind()
        _ = h.receive(Self.deliverSM(seq: 5))
        let old = h.tokens[0]
        let closed = Self.describe(h.m.closed(.peerClosed))
        #expect(closed.contains("reconnect"))
        #expect(h.m.state == .backoff)
        h.bind()
        #expect(h.ack(old).isEmpty, "the SMSC redelivers what it never saw acked")
    }

    @Test func anInvalidDeliveryIsOfferedAsEvidenceAndAnsweredWhenDeclined() throws {
        var h = Harness()
        h.bind()
        // sm_length says 200 bytes; the body has far fewer.
        var bytes = Self.deliverSM(seq: 9, text: "abc").encode()
        let smLengthAt = bytes.count - 4
        bytes[smLengthAt] = 200
        let a = h.receive(bytes: bytes)
        #expect(a.count == 1 && a[0].hasPrefix("deliverInvalid"))
        let token = try #require(h.tokens.first)
        let declined = bytes.withUnsafeBytes { b in
            Self.describe(h.m.invalidDeclined(PDUFrame(unchecked: b), error: .truncated(.shortMessage, offset: 0), token: token, now: h.now))
        }
        #expect(declined.count == 2)
        #expect(declined[0].hasPrefix("respond deliver_sm_resp") && !declined[0].contains("ESME_ROK"))
        #expect(declined[1].hasPrefix("rejected"))
    }

    @Test func peerRequestsAreAnswered() {
        var h = Harness()
        h.bind()
        #expect(h.receive(PDU(.enquireLink, sequenceNumber: 40)) == ["respond enquire_link_resp ESME_ROK seq=40"])
        #expect(h.receive(PDU(.submitSM, sequenceNumber: 41, body: .shortMessage(ShortMessage()))) == ["respond generic_nack ESME_RINVBNDSTS seq=41"])
        #expect(h.receive(PDU(CommandID(rawValue: 0x0000_0777), sequenceNumber: 42)) == ["respond generic_nack ESME_RINVCMDID seq=42"])
        #expect(h.receive(PDU(.unbind, sequenceNumber: 43)) == ["respond unbind_resp ESME_ROK seq=43", "event peer_unbind", "close peer unbind"])
    }

    @Test func anIdleLinkIsProbedAndADeadOneClosed() {
        var h = Harness()
        h.bind()
        #expect(h.tick(after: 5).isEmpty)
        let probe = h.tick(after: 30)
        #expect(probe.count == 1 && probe[0].hasPrefix("send enquire_link"))
        #expect(h.tick(after: 5).isEmpty, "one probe at a time")
        #expect(h.tick(after: 6) == ["event link_dead", "close enquire_link timeout"])
    }

    @Test func aPeerThatStopsReadingIsClosed() {
        var h = Harness()
        h.bind()
        #expect(h.tick(after: 1, stalled: 11 * Self.second) == ["event write_stalled", "close write_stalled"])
    }

    @Test func aStopDrainsTheAcksThenUnbinds() {
        var h = Harness()
        h.bind()
        _ = h.receive(Self.deliverSM(seq: 20))
        #expect(Self.describe(h.m.stop(deadline: 5, now: h.now)) == ["event shutdown", "pauseReading", "wake 5.0"])
        #expect(h.m.state == .draining(deadline: h.now + 5 * Self.second))
        // A delivery still in the socket buffer is taken and acked while draining.
        let ack = h.ack(h.tokens[0])
        #expect(ack.count == 2 && ack[1].hasPrefix("send unbind"))
        #expect(h.m.state == .unbinding)
        let resp = h.receive(PDU(.unbindResp, sequenceNumber: 2))
        #expect(resp == ["close unbound"])
        #expect(Self.describe(h.m.closed(.local("unbound"))).suffix(2) == ["event closed", "stopped"])
        #expect(h.m.state == .stopped)
        #expect(Self.describe(h.m.connectRequested()).isEmpty, "a stopped session never reconnects")
    }

    @Test func aStopPastItsDeadlineUnbindsWithAcksOutstanding() {
        var h = Harness()
        h.bind()
        _ = h.receive(Self.deliverSM(seq: 20))
        _ = h.m.stop(deadline: 2, now: h.now)
        let a = h.tick(after: 2.5)
        #expect(a.contains { $0.hasPrefix("send unbind") })
    }

    @Test func aStopBeforeTheBindClosesAtOnce() {
        var h = Harness()
        _ = h.m.connectRequested()
        #expect(Self.describe(h.m.stop(deadline: 5, now: h.now)) == ["cancelTimer", "close stopped", "stopped"])
        #expect(Self.describe(h.m.closed(.local("stopped"))) == ["cancelTimer"], "the close it asked for reports nothing new")
    }

    @Test func refusedCredentialsBackOffLong() {
        var h = Harness()
        _ = h.m.connectRequested()
        _ = h.m.connected(now: h.now)
        let a = h.receive(PDU(.bindTransceiverResp, status: .invalidPassword, sequenceNumber: 1))
        #expect(a == ["event bind_refused_credentials", "close bind refused ESME_RINVPASWD"])
        var delay: Double?
        for case .reconnect(let s) in h.m.closed(.local("bind refused")) { delay = s }
        #expect(delay == 60)
        // Any other failure backs off from the short schedule.
        var other = Harness()
        _ = other.m.connectRequested()
        for case .reconnect(let s) in other.m.connectFailed("refused") { delay = s }
        #expect(delay == 2)
    }

    @Test func sequenceNumbersWrapAndSkipOutstandingOnes() {
        var h = Harness(Self.config { $0.firstSequenceNumber = 0x7FFF_FFFF; $0.window = 4 })
        let bindSeq = h.bind()
        #expect(bindSeq == 0x7FFF_FFFF)
        var seqs: [UInt32] = []
        for _ in 0..<2 {
            for case .send(let p) in h.m.request(PDU(.querySM, sequenceNumber: 0, body: .querySM(QuerySM())), completion: nil, now: h.now) {
                seqs.append(p.sequenceNumber)
            }
        }
        #expect(seqs == [1, 2])
    }

    @Test func theWindowHoldsRequestsUntilResponsesFreeIt() {
        var h = Harness(Self.config { $0.window = 1 })
        h.bind()
        let q = PDU(.querySM, sequenceNumber: 0, body: .querySM(QuerySM()))
        #expect(Self.describe(h.m.request(q, completion: { _ in }, now: h.now)) == ["send query_sm seq=2"])
        #expect(Self.describe(h.m.request(q, completion: { _ in }, now: h.now)).isEmpty)
        let a = h.receive(PDU(.querySMResp, sequenceNumber: 2, body: .querySMResp(QuerySMResp())))
        #expect(a.count == 2 && a[0].hasPrefix("complete success") && a[1] == "send query_sm seq=3")
        #expect(h.receive(PDU(.querySMResp, sequenceNumber: 99)) == ["event unmatched_response"])
    }

    @Test func anOutbindWithTheRightCredentialsIsAnsweredWithABind() {
        var h = Harness(viaOutbind: true)
        #expect(Self.describe(h.m.adopted(now: h.now)) == ["startTimer"])
        let a = h.receive(PDU(.outbind, sequenceNumber: 1, body: .outbind(Outbind(systemID: "trueotp", password: "secret"))))
        #expect(a == ["event outbind", "send bind_receiver seq=1"])
        var wrong = Harness(viaOutbind: true)
        _ = wrong.m.adopted(now: wrong.now)
        #expect(wrong.receive(PDU(.outbind, sequenceNumber: 1, body: .outbind(Outbind(systemID: "trueotp", password: "guess")))) ==
                ["event outbind_refused", "close outbind refused"])
        // Closed, an outbind session waits for the SMSC's next outbind instead of reconnecting.
        #expect(!Self.describe(wrong.m.closed(.local("outbind refused"))).contains("reconnect"))
        #expect(wrong.m.state == .idle)
        var silent = Harness(viaOutbind: true)
        _ = silent.m.adopted(now: silent.now)
        #expect(silent.tick(after: 11) == ["close no outbind received"])
    }

    @Test func aTLSHandshakeThatNeverEndsIsClosed() {
        var h = Harness(Self.config { $0.tls = TLSConfig(); $0.connectTimeout = 10 })
        _ = h.m.connectRequested()
        #expect(Self.describe(h.m.connected(now: h.now)) == ["startTimer", "startTLS"])
        #expect(h.tick(after: 5).isEmpty)
        #expect(h.tick(after: 6) == ["event tls_handshake_timeout", "close TLS handshake timeout"])
        var ok = Harness(Self.config { $0.tls = TLSConfig() })
        _ = ok.m.connectRequested()
        _ = ok.m.connected(now: ok.now)
        #expect(Self.describe(ok.m.tlsEstablished(version: "TLSv1.3", now: ok.now)) == ["event tls_established", "send bind_transceiver seq=1"])
    }
}
