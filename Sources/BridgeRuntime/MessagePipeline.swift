import Dispatch
import Foundation
import Primitives
package import Logging
package import Routing
package import SMPPSession
package import SMPPWire
package import Store
import Synchronization

/// What every carrier's pipeline shares and what a reload swaps.
package final class RoutingRules: @unchecked Sendable {
    package let extractor: OTPExtractor
    package let generation: Int
    package init(extractor: OTPExtractor, generation: Int) {
        self.extractor = extractor
        self.generation = generation
    }
}

/// The path of one inbound deliver_sm / data_sm, on its session's queue: the view the
/// session validated → reassembly → routing decision → the writer, and deliver_sm_resp
/// only from the writer's completion, after COMMIT.
package final class MessagePipeline: @unchecked Sendable {
    package let carrier: CarrierConfig
    package let table: LeaseTable
    package let multipart: MultipartCoordinator
    package let writer: BatchWriter
    package let metrics: MetricsRegistry
    package let events: EventHub
    package let logger: Logger
    package let mask: Mask
    package let logLimiter: LogLimiter
    private let rules: Locked<RoutingRules>
    /// Moves on each swap of the rules: a bind's handler compares it (one atomic load per
    /// message) and builds a new router when it moved.
    fileprivate let rulesGeneration = Atomic<Int>(0)
    /// The binds' handlers, by bind name. Sessions hold their handler weakly; these are the strong references.
    private let handlers = Locked<[String: BindHandler]>([:])

    /// A bind's series, resolved once: a message costs a few atomic adds, not label strings.
    package final class BindSeries: Sendable {
        package let deliverSM, pdusInDeliver, pdusInData, respDeliverOK, respDataOK: CounterSeries
        package let ackLatency: HistogramSeries
        package let bind: String
        package init(_ m: MetricsRegistry, carrier: String, bind: String) {
            self.bind = bind
            let l = [("carrier", carrier), ("bind", bind)]
            deliverSM = m.counter(M.deliverSM, l)
            pdusInDeliver = m.counter(M.pdusIn, l + [("command", "deliver_sm")])
            pdusInData = m.counter(M.pdusIn, l + [("command", "data_sm")])
            respDeliverOK = m.counter(M.pdusOut, l + [("command", "deliver_sm_resp"), ("status", CommandStatus.ok.description)])
            respDataOK = m.counter(M.pdusOut, l + [("command", "data_sm_resp"), ("status", CommandStatus.ok.description)])
            ackLatency = m.histogram(M.ackLatency, l)
            // At 0 from the bind's start, so that increase() sees the first one.
            for code in DecodeError.allCodes { _ = m.counter(M.malformed, l + [("error", code)]) }
        }
    }

    /// One bind's handler: what its messages need (series, router) resolved when the bind
    /// is made, not looked up per message. Used on that bind's session queue only.
    package final class BindHandler: InboundHandler, @unchecked Sendable {
        unowned package let pipeline: MessagePipeline
        package let bind: String
        package let series: BindSeries
        private var router: SessionRouter
        private var generation: Int

        package init(pipeline: MessagePipeline, bind: String) {
            self.pipeline = pipeline
            self.bind = bind
            series = BindSeries(pipeline.metrics, carrier: pipeline.carrier.name, bind: bind)
            generation = pipeline.rulesGeneration.load(ordering: .acquiring)
            router = pipeline.makeRouter()
        }

        /// The router for the current rules. It owns a lease-table reader, used only on this bind's queue.
        package var currentRouter: SessionRouter {
            let g = pipeline.rulesGeneration.load(ordering: .acquiring)
            if g != generation {
                generation = g
                router = pipeline.makeRouter()
            }
            return router
        }

        package func session(_ session: ESMESession, received message: Inbound, token: AckToken) {
            pipeline.received(message, token: token, session: session, bind: self)
        }
        package func session(_ session: ESMESession, invalid frame: PDUFrame, error: DecodeError, token: AckToken) -> Bool {
            pipeline.keepInvalid(frame, error: error, token: token, session: session, bind: self)
        }
        package func session(_ session: ESMESession, rejected frame: PDUFrame, error: DecodeError) {
            pipeline.rejected(error, bind: bind)
        }
    }

    private let outcomeSeries: [String: CounterSeries]
    private let otpYes: CounterSeries, otpNo: CounterSeries, timedOut: CounterSeries, redelivered: CounterSeries

    /// The handler of the bind named `bind`, made (with its series at 0) the first time.
    package func handler(forBind bind: String) -> BindHandler {
        handlers.withLock { h in
            if let x = h[bind] { return x }
            let x = BindHandler(pipeline: self, bind: bind)
            h[bind] = x
            return x
        }
    }

    private func outcome(_ o: String) -> CounterSeries {
        outcomeSeries[o] ?? metrics.counter(M.outcomes, [("carrier", carrier.name), ("outcome", o)])
    }

    package init(carrier: CarrierConfig, table: LeaseTable, multipart: MultipartCoordinator, writer: BatchWriter, rules: RoutingRules,
         metrics: MetricsRegistry, events: EventHub, logger: Logger, mask: Mask) {
        self.carrier = carrier
        self.table = table
        self.multipart = multipart
        self.writer = writer
        self.rules = Locked(rules)
        self.metrics = metrics
        self.events = events
        self.logger = logger
        self.mask = mask
        logLimiter = LogLimiter(metrics: metrics)
        var o: [String: CounterSeries] = [:]
        for name in Outcome.allCases.map(\.rawValue) + ["temp_failed"] {
            o[name] = metrics.counter(M.outcomes, [("carrier", carrier.name), ("outcome", name)])
        }
        outcomeSeries = o
        otpYes = metrics.counter(M.otp, [("carrier", carrier.name), ("extracted", "yes")])
        otpNo = metrics.counter(M.otp, [("carrier", carrier.name), ("extracted", "no")])
        timedOut = metrics.counter(M.reassemblyTimedOut, [("carrier", carrier.name)])
        redelivered = metrics.counter(M.redeliveries, [("carrier", carrier.name)])
        // Every labelled counter exists at 0 from the carrier's start (increase() misses a series' first appearance).
        for stat in Self.receiptStats.sorted() + ["other"] { _ = metrics.counter(M.receipts, [("carrier", carrier.name), ("stat", stat)]) }
        for code in DecodeError.allCodes { _ = metrics.counter(M.invalidKept, [("carrier", carrier.name), ("reason", code)]) }
        _ = metrics.counter(M.lateMatches, [("carrier", carrier.name)])
    }

    package var profile: CarrierProfile { carrier.profile }

    /// New OTP rules: each bind builds a new router on its next message.
    package func swap(rules r: RoutingRules) {
        rules.withLock { $0 = r }
        rulesGeneration.add(1, ordering: .releasing)
    }

    /// A router for the current rules: a bind's, or one for work outside any session (timed-out reassembly).
    package func makeRouter() -> SessionRouter {
        let extractor = rules.withLock { $0.extractor }
        return SessionRouter(carrier: profile, table: table, reassembler: multipart.reassembler, extractor: extractor)
    }

    fileprivate func received(_ message: Inbound, token: AckToken, session: ESMESession, bind: BindHandler) {
        let now = Clock.wallMillis()
        let router = bind.currentRouter
        var evicted: [InboundMessage] = []
        let accepted: Accepted
        switch message {
        case .deliverSM(let v):
            accepted = router.accept(v, receivedAt: now, evicted: &evicted)
            bind.series.pdusInDeliver.add()
        case .dataSM(let v):
            accepted = router.accept(v, receivedAt: now, evicted: &evicted)
            bind.series.pdusInData.add()
        }
        bind.series.deliverSM.add()
        for m in evicted { store(router.decide(m), message: m, bind: bind.bind, token: nil, session: nil) }
        switch accepted {
        case .message(let m):
            store(router.decide(m), message: m, bind: bind.bind, token: token, session: session, series: bind.series,
                  raw: [Array(message.bytes)])
        case .part(let part, let key, let completed):
            if let m = completed {
                // The last part completes the message: store the message (with every
                // part's PDU) and mark the stored parts consumed, in one transaction;
                // this part is acked when that commits.
                store(router.decide(m), message: m, bind: bind.bind, token: token, session: session, series: bind.series,
                      completing: part)
            } else {
                storePart(part, key, token: token, session: session, bind: bind)
            }
        case .duplicatePart(let part, let key):
            storePart(part, key, token: token, session: session, bind: bind)
        }
    }

    /// A deliver_sm or data_sm that frames but fails body validation: stored as
    /// evidence (outcome invalid, with the reason and the raw PDU) and acked after
    /// COMMIT like any other message, so that the SMSC does not retry it for ever
    /// and nothing the carrier sent is lost.
    fileprivate func keepInvalid(_ frame: PDUFrame, error: DecodeError, token: AckToken, session: ESMESession, bind: BindHandler) -> Bool {
        let d = bind.currentRouter.invalid(pdu: frame.bytes, reason: error.code, receivedAt: Clock.wallMillis())
        metrics.inc(M.malformed, [("carrier", carrier.name), ("bind", bind.bind), ("error", error.code)])
        metrics.inc(M.invalidKept, [("carrier", carrier.name), ("reason", error.code)])
        logLimiter.warning(logger, kind: "malformed_kept", "malformed PDU kept as evidence", metadata: ["bind": "\(bind.bind)", "error": "\(error.code)"])
        bind.series.deliverSM.add()
        (frame.commandID == .dataSM ? bind.series.pdusInData : bind.series.pdusInDeliver).add()
        let salvaged = SalvagedMessage(pdu: frame.bytes)
        store(d, sourceTON: salvaged.sourceTON, destTON: salvaged.destTON, parts: [], bind: bind.bind, token: token, session: session,
              series: bind.series, raw: [Array(frame.bytes)])
        return true
    }

    fileprivate func rejected(_ error: DecodeError, bind: String) {
        metrics.inc(M.malformed, [("carrier", carrier.name), ("bind", bind), ("error", error.code)])
        metrics.inc(M.outcomes, [("carrier", carrier.name), ("outcome", "invalid")])
        logLimiter.warning(logger, kind: "malformed_answered", "malformed PDU answered", metadata: ["bind": "\(bind)", "error": "\(error.code)",
                                                            "command_status": "\(error.commandStatus)"])
    }

    private func storePart(_ part: Part, _ key: DedupKey, token: AckToken, session: ESMESession, bind: BindHandler) {
        writer.submit(.part(part, dedupKey: key)) { r in
            session.answer(token, r)
            self.countAck(token, r.status, series: bind.series)
            if r.status != .ok { self.outcome("temp_failed").add() }
        }
    }

    /// Hands a whole message to the writer; acks `token` (if any) with the result.
    /// `series`: the acking bind's (nil without a token).
    package func store(_ d: RoutingDecision, message m: InboundMessage, bind: String, token: AckToken?, session: ESMESession?,
               series: BindSeries? = nil, raw: [[UInt8]] = [], completing: Part? = nil) {
        store(d, sourceTON: m.sourceTON, destTON: m.destTON, parts: m.parts, bind: bind, token: token, session: session, series: series,
              raw: raw, completing: completing)
    }

    private func store(_ d: RoutingDecision, sourceTON: TON, destTON: TON, parts: [Part], bind: String, token: AckToken?,
                       session: ESMESession?, series: BindSeries?, raw: [[UInt8]] = [], completing: Part? = nil) {
        // A multi-part message carries every part (the completing one included): its
        // PDUs are the evidence, and its part rows are marked consumed with it.
        let pdus = raw.isEmpty ? parts.map(\.rawPDU) : raw
        let stored = StoredMessage(decision: d, bind: bind, sourceTON: sourceTON, destTON: destTON, rawPDUs: pdus, parts: parts)
        let started = token?.receivedAt
        // What the completion needs, taken now: capturing the decision would retain every string and array in it.
        let event = routingEvent(d, bind: bind)
        let hasCode = d.code != nil, incomplete = !d.missingParts.isEmpty
        // Receipt stats are few words (DELIVRD, UNDELIV…); anything else is one label value.
        let receiptStat = d.receipt.map { r in r.stat.flatMap { Self.receiptStats.contains($0.uppercased()) ? $0.uppercased() : nil } ?? "other" }
        let earlierParts = completing == nil ? [] : parts
        writer.submit(.message(stored)) { [self] r in
            if let token, let session { session.answer(token, r) }
            let outcome = r.status != .ok ? "temp_failed" : (r.duplicate ? "duplicate" : event.outcome)
            self.outcome(outcome).add()
            if r.status == .ok && !r.duplicate { (hasCode ? otpYes : otpNo).add() }
            if r.status == .ok && r.duplicate { redelivered.add() }
            if r.status == .ok && !r.duplicate, let stat = receiptStat { metrics.inc(M.receipts, [("carrier", carrier.name), ("stat", stat)]) }
            if incomplete && r.status == .ok { timedOut.add() }
            var latencyMs: Double?
            if let token, let series { latencyMs = countAck(token, r.status, series: series) }
            // Not stored: the earlier parts go back, so that the SMSC's retry of this one completes it again.
            if r.status != .ok, let c = completing { multipart.putBack(earlierParts, except: c) }
            var e = event
            e.unixMillis = Clock.wallMillis()
            e.outcome = outcome
            e.latencyMs = latencyMs ?? started.map { Double(Clock.monotonicNanos() - $0) / 1e6 }
            events.publish(e)
        }
    }

    package static let receiptStats: Set<String> = ["ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"]

    @discardableResult
    private func countAck(_ token: AckToken, _ status: CommandStatus, series s: BindSeries) -> Double {
        let seconds = Double(Clock.monotonicNanos() &- token.receivedAt) / 1e9
        s.ackLatency.observe(seconds)
        if status == .ok {
            (token.commandID == .dataSM ? s.respDataOK : s.respDeliverOK).add()
        } else {
            metrics.inc(M.pdusOut, [("carrier", carrier.name), ("bind", s.bind), ("command", token.commandID == .dataSM ? "data_sm_resp" : "deliver_sm_resp"),
                                    ("status", status.description)])
        }
        return seconds * 1000
    }

    /// The routing event of a decision, for `tail` and `top`; its time, outcome and
    /// latency are set when the writer answers.
    private func routingEvent(_ d: RoutingDecision, bind: String) -> RoutingEvent {
        let dest: String
        switch d.destination {
        case .msisdn(let s), .alphanumeric(let s), .shortCode(let s): dest = s
        case .invalid: dest = d.destinationRaw
        }
        return RoutingEvent(unixMillis: 0, carrier: d.carrier, bind: bind, source: d.sourceRaw, destination: dest,
                            orderID: d.orderID, outcome: d.outcome.rawValue, service: d.service, code: d.code, parts: d.partCount,
                            latencyMs: nil, mask: mask)
    }
}



extension ESMESession {
    /// The writer's verdict on the wire: ESME_ROK with its commit proof, or a temporary error.
    package func answer(_ token: AckToken, _ r: BatchWriter.Result) {
        if let proof = r.committed { ack(token, committed: proof) } else { refuse(token, status: r.status) }
    }
}
