public import SMPPWire

/// How one carrier's traffic is read.
public struct CarrierProfile: Hashable, Sendable {
    public var name: String
    public var plan: NumberPlan
    public var text: TextOptions
    public init(name: String, plan: NumberPlan, text: TextOptions = .default) {
        self.name = name
        self.plan = plan
        self.text = text
    }
}

/// What happened to a message.
public enum Outcome: String, Hashable, Sendable, CaseIterable {
    /// An active lease covers the destination: the code goes to that order.
    case routed
    /// No lease for the destination (never leased, or not yet active).
    case unmatched
    /// The destination's lease had ended when the message arrived.
    case expired
    /// Already stored (set by the store on a dedup-key conflict, or a repeated part).
    case duplicate
    /// The destination is not a number (garbage, or a sender name).
    case invalid
}

/// The routing decision for one complete message (or an incomplete one given up on).
public struct RoutingDecision: Hashable, Sendable {
    public var outcome: Outcome
    public var carrier: String
    public var orderID: UInt64?
    public var service: String?
    public var leaseVersion: UInt32?
    public var sourceRaw: String
    public var destinationRaw: String
    public var source: NormalizedAddress
    public var destination: NormalizedAddress
    public var dataCoding: UInt8
    public var text: String
    public var textInvalid: Bool
    public var code: String?
    public var confidence: Double?
    public var rule: String?
    /// The sender does not match the leased order's service (routed anyway).
    public var serviceMismatch: Bool
    /// Stable across redeliveries of the same PDU (see `DedupKey`).
    public var dedupKey: DedupKey
    public var partCount: Int
    public var missingParts: [Int]
    public var receivedAt: UInt64
}

/// A message ready to route: one PDU, or parts put back together.
public struct InboundMessage: Sendable {
    public var sourceTON: TON
    public var sourceAddr: String
    public var destTON: TON
    public var destinationAddr: String
    public var dataCoding: DataCoding
    public var text: DecodedText
    public var dedupKey: DedupKey
    public var partCount: Int
    public var missingParts: [Int]
    /// Milliseconds since the Unix epoch.
    public var receivedAt: UInt64
    /// For a reassembled (or given-up) message: the parts it was built from, with
    /// their raw PDUs (the evidence the store keeps).
    public var parts: [Part] = []
}

/// What the session does with a received deliver_sm / data_sm.
public enum Accepted: Sendable {
    /// A whole message: route it (and ack after the store commits).
    case message(InboundMessage)
    /// One part of a longer message: persist the part (ack after that commits);
    /// `completed` is set when this part completed the message.
    case part(Part, dedupKey: DedupKey, completed: InboundMessage?)
    /// A part seen before (same key and sequence): store nothing new, but ack only
    /// once the first copy is committed (the store's ON CONFLICT waits for it).
    case duplicatePart(Part, dedupKey: DedupKey)
}

/// Routes messages for one session (one serial queue): owns a table reader.
/// Shared pieces (table, reassembler, extractor) are thread-safe.
public final class SessionRouter: @unchecked Sendable {
    public let carrier: CarrierProfile
    let reader: LeaseTableReader
    let reassembler: Reassembler
    let extractor: OTPExtractor

    public init(carrier: CarrierProfile, table: LeaseTable, reassembler: Reassembler, extractor: OTPExtractor) {
        self.carrier = carrier
        self.reader = table.makeReader()
        self.reassembler = reassembler
        self.extractor = extractor
    }

    /// Classifies a validated deliver_sm/submit_sm view. Decodes text only for whole messages.
    public func accept(_ v: ShortMessageView, receivedAt: UInt64, evicted: inout [InboundMessage]) -> Accepted {
        accept(userData: v.userData, tlvs: v.tlvs, dataCoding: v.dataCoding, sourceTON: v.sourceAddrTON, source: v.sourceAddr,
               destTON: v.destAddrTON, destination: v.destinationAddr, raw: v.bytes, receivedAt: receivedAt, evicted: &evicted)
    }

    public func accept(_ v: DataSMView, receivedAt: UInt64, evicted: inout [InboundMessage]) -> Accepted {
        accept(userData: v.userData, tlvs: v.tlvs, dataCoding: v.dataCoding, sourceTON: v.sourceAddrTON, source: v.sourceAddr,
               destTON: v.destAddrTON, destination: v.destinationAddr, raw: v.bytes, receivedAt: receivedAt, evicted: &evicted)
    }

    func accept(
        userData ud: UserData, tlvs: TLVList, dataCoding: DataCoding, sourceTON: TON, source: UnsafeRawBufferPointer,
        destTON: TON, destination: UnsafeRawBufferPointer, raw: UnsafeRawBufferPointer, receivedAt: UInt64,
        evicted: inout [InboundMessage]
    ) -> Accepted {
        let concat = ud.concatenation
            ?? tlvs.sar.map { Concatenation(kind: .sar, reference: $0.msgRefNum, total: $0.totalSegments, sequence: $0.segmentSeqnum) }
        let src = Self.addressString(source)
        let dst = Self.addressString(destination)
        if let c = concat, c.total > 1 {
            let key = PartKey(carrier: carrier.name, source: src, destination: dst, reference: c.reference,
                              referenceBits: UInt8(c.referenceBits), total: c.total)
            let part = Part(key: key, sequence: c.sequence, dataCoding: dataCoding.rawValue, body: Array(ud.body),
                            lockingShift: ud.lockingShift?.rawValue, singleShift: ud.singleShift?.rawValue,
                            rawPDU: Array(raw), receivedAt: receivedAt)
            let partKey = DedupKey.part(part)
            var out: [AssembledMessage] = []
            let r = reassembler.add(part, key: partKey, evicted: &out)
            evicted += out.map { message(from: $0, sourceTON: sourceTON, destTON: destTON) }
            switch r {
            case .duplicate: return .duplicatePart(part, dedupKey: partKey)
            case .pending: return .part(part, dedupKey: partKey, completed: nil)
            case .complete(let m): return .part(part, dedupKey: partKey, completed: message(from: m, sourceTON: sourceTON, destTON: destTON))
            }
        }
        let text = TextDecoder.decode(userData: ud, dataCoding: dataCoding, options: carrier.text)
        return .message(InboundMessage(
            sourceTON: sourceTON, sourceAddr: src, destTON: destTON, destinationAddr: dst, dataCoding: dataCoding, text: text,
            dedupKey: DedupKey.message(carrier: carrier.name, source: src, destination: dst, dataCoding: dataCoding.rawValue,
                                       payload: ud.payload, reference: nil),
            partCount: 1, missingParts: [], receivedAt: receivedAt))
    }

    /// An address field as text: ASCII straight from the PDU (short ones are
    /// small inline Strings, no allocation); anything else read as Latin-1.
    @inline(__always)
    static func addressString(_ b: UnsafeRawBufferPointer) -> String {
        if b.allSatisfy({ $0 < 0x80 }) { return String(decoding: b, as: UTF8.self) }
        return COctetString(b).string
    }

    /// An assembled (or given-up) multi-part message as an inbound message.
    /// TON is not part of the key; the completing part's TONs are used.
    public func message(from m: AssembledMessage, sourceTON: TON, destTON: TON) -> InboundMessage {
        let text = m.decodeText(options: carrier.text)
        var joined: [UInt8] = []
        for p in m.parts { joined += p?.body ?? [] }
        let dc = m.parts.compactMap { $0 }.first?.dataCoding ?? 0
        let key = joined.withUnsafeBytes {
            DedupKey.message(carrier: m.key.carrier, source: m.key.source, destination: m.key.destination, dataCoding: dc,
                             payload: $0, reference: (m.key.reference, m.key.referenceBits, m.key.total))
        }
        return InboundMessage(
            sourceTON: sourceTON, sourceAddr: m.key.source, destTON: destTON, destinationAddr: m.key.destination,
            dataCoding: DataCoding(dc), text: text, dedupKey: key, partCount: Int(m.key.total), missingParts: m.missing,
            receivedAt: m.firstReceivedAt, parts: m.parts.compactMap { $0 })
    }

    /// The routing decision for a whole message.
    public func decide(_ m: InboundMessage) -> RoutingDecision {
        let dest = NumberNormalizer.normalize(ton: m.destTON, npi: .isdn, address: m.destinationAddr, plan: carrier.plan)
        let src = NumberNormalizer.normalize(ton: m.sourceTON, npi: .isdn, address: m.sourceAddr, plan: carrier.plan)
        var d = RoutingDecision(
            outcome: .invalid, carrier: carrier.name, orderID: nil, service: nil, leaseVersion: nil, sourceRaw: m.sourceAddr,
            destinationRaw: m.destinationAddr, source: src, destination: dest, dataCoding: m.dataCoding.rawValue,
            text: m.text.text, textInvalid: m.text.hadInvalidInput, code: nil, confidence: nil, rule: nil, serviceMismatch: false,
            dedupKey: m.dedupKey, partCount: m.partCount, missingParts: m.missingParts, receivedAt: m.receivedAt)
        let senderName: String
        switch src {
        case .alphanumeric(let s), .shortCode(let s), .msisdn(let s): senderName = s
        case .invalid: senderName = m.sourceAddr
        }
        var leaseService: String?
        if let digits = dest.msisdn, let key = MSISDNKey(digits) {
            let seconds = UInt32(truncatingIfNeeded: m.receivedAt / 1000)
            let (match, name): (LeaseMatch, String) = reader.withSnapshot { snap in
                let r = snap.lookup(key, at: seconds)
                switch r {
                case .active(let l), .expired(let l), .notYetActive(let l): return (r, snap.serviceName(l.service))
                case .unknown: return (r, "")
                }
            }
            switch match {
            case .active(let l):
                d.outcome = .routed
                d.orderID = l.orderID
                d.leaseVersion = l.version
                leaseService = name
            case .expired(let l):
                d.outcome = .expired
                d.orderID = l.orderID
                d.leaseVersion = l.version
                leaseService = name
            case .notYetActive, .unknown:
                d.outcome = .unmatched
            }
        }
        let senderMatch = extractor.match(sender: senderName)
        let senderService = senderMatch.service
        d.service = leaseService.flatMap { $0.isEmpty ? nil : $0 } ?? senderService
        if !m.text.isBinary {
            // The order's service decides which rule applies; the sender is the fallback.
            if let r = extractor.extract(text: m.text.text, sender: senderMatch, service: leaseService.flatMap { $0.isEmpty ? nil : $0 }) {
                d.code = r.code
                d.confidence = r.confidence
                d.rule = r.rule
            }
        }
        if let ls = leaseService, !ls.isEmpty, let ss = senderService, ss != ls { d.serviceMismatch = true }
        return d
    }
}

/// Dedup keys: 128-bit, hex. Stable across redeliveries of the same PDU: they
/// cover carrier, source, destination, data coding, the payload bytes and the
/// concatenation reference, and nothing the SMSC changes on a retry (sequence
/// number, timestamps). Not cryptographic; the database's unique index is the
/// arbiter, and at 128 bits an accidental collision is out of reach.
/// Ordered as its hex form is (high, then low): the store sorts a batch by it, so
/// concurrent transactions take the unique-key locks in one order.
public struct DedupKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static func < (a: DedupKey, b: DedupKey) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 lowercase hex digits (the store's unique key).
    public var hex: String {
        String(unsafeUninitializedCapacity: 32) { out in
            let d: StaticString = "0123456789abcdef"
            let digits = d.utf8Start
            for i in 0..<16 { out[i] = digits[Int((high >> UInt64(60 - 4 * i)) & 0xF)] }
            for i in 0..<16 { out[16 + i] = digits[Int((low >> UInt64(60 - 4 * i)) & 0xF)] }
            return 32
        }
    }
    public var description: String { hex }

    public static func message(
        carrier: String, source: String, destination: String, dataCoding: UInt8, payload: UnsafeRawBufferPointer,
        reference: (UInt16, UInt8, UInt8)?
    ) -> DedupKey {
        var h = Hasher128()
        h.add("m")
        h.add(carrier)
        h.add(source)
        h.add(destination)
        h.add(dataCoding)
        if let (r, bits, total) = reference {
            h.add(UInt8(1)); h.add(UInt8(r >> 8)); h.add(UInt8(r & 0xFF)); h.add(bits); h.add(total)
        } else {
            h.add(UInt8(0))
        }
        h.add(payload)
        return h.key
    }

    public static func part(_ p: Part) -> DedupKey {
        var h = Hasher128()
        h.add("p")
        h.add(p.key.carrier)
        h.add(p.key.source)
        h.add(p.key.destination)
        h.add(p.dataCoding)
        h.add(UInt8(p.key.reference >> 8)); h.add(UInt8(p.key.reference & 0xFF)); h.add(p.key.referenceBits); h.add(p.key.total)
        h.add(p.sequence)
        p.body.withUnsafeBytes { h.add($0) }
        return h.key
    }
}

/// Two independent 64-bit lanes (FNV-1a and a multiply-rotate lane), finalized with a mixer.
struct Hasher128 {
    var a: UInt64 = 0xCBF2_9CE4_8422_2325
    var b: UInt64 = 0x9E37_79B9_7F4A_7C15
    var n: UInt64 = 0

    mutating func add(_ byte: UInt8) {
        a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        b = ((b ^ UInt64(byte)) &* 0xBF58_476D_1CE4_E5B9)
        b = (b << 31) | (b >> 33)
        n &+= 1
    }
    /// Length-prefixed, then eight bytes at a time.
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        add(UInt8(truncatingIfNeeded: bytes.count >> 8)); add(UInt8(truncatingIfNeeded: bytes.count))
        var i = 0
        while i + 8 <= bytes.count {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            a = (a ^ w) &* 0x0000_0100_0000_01B3
            a ^= a >> 29
            b = (b ^ w) &* 0xBF58_476D_1CE4_E5B9
            b = (b << 31) | (b >> 33)
            n &+= 8
            i += 8
        }
        while i < bytes.count { add(bytes[i]); i += 1 }
    }
    mutating func add(_ s: String) {
        var s = s
        s.withUTF8 { add(UnsafeRawBufferPointer($0)) }
    }
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    var key: DedupKey {
        DedupKey(high: Self.mix(a ^ n), low: Self.mix(b &+ Self.mix(a)))
    }
}
