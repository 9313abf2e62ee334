public import SMPPWire
import CCrypto

/// How one carrier's traffic is read.
public struct CarrierProfile: Hashable, Sendable {
    public var name: String
    public var plan: NumberPlan
    /// What data_coding 0 means for this carrier, and other text quirks.
    public var text: TextOptions
    /// Address prefixes rewritten before normalizing (Kannel's unified-prefix), if any.
    public var unifiedPrefix: UnifiedPrefix?
    public init(name: String, plan: NumberPlan, text: TextOptions = .default, unifiedPrefix: UnifiedPrefix? = nil) {
        self.name = name
        self.plan = plan
        self.text = text
        self.unifiedPrefix = unifiedPrefix
    }

    /// An address as this carrier sends it, in canonical form: its prefixes rewritten, then its plan applied.
    @inlinable
    public func normalize(ton: TON, address: String) -> NormalizedAddress {
        NumberNormalizer.normalize(ton: ton, npi: .isdn, address: unifiedPrefix.map { $0.apply(address) } ?? address, plan: plan)
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
    /// The destination is not a number (garbage, or a sender name), or the PDU
    /// failed body validation and is kept as evidence (`RoutingDecision.invalidReason`).
    case invalid
    /// A delivery receipt or intermediate notification: never an SMS, never routed.
    case receipt
}

/// What a delivery receipt says, as the SMSC wrote it (strings: carriers put hex,
/// decimal and garbage in these fields).
public struct ReceiptFields: Hashable, Sendable {
    public var messageID: String?
    public var stat: String?
    public var err: String?
    public init(messageID: String?, stat: String?, err: String?) {
        self.messageID = messageID
        self.stat = stat
        self.err = err
    }
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
    /// Set for outcome `receipt`.
    public var receipt: ReceiptFields? = nil
    /// Why a PDU that failed body validation was kept (a `DecodeError` code).
    public var invalidReason: String? = nil
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
    /// Set when the PDU is a delivery receipt or intermediate notification.
    public var receipt: ReceiptFields? = nil
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
        accept(userData: v.userData, tlvs: v.tlvs, dataCoding: v.dataCoding, esmClass: v.esmClass, sourceTON: v.sourceAddrTON,
               source: v.sourceAddr, destTON: v.destAddrTON, destination: v.destinationAddr, raw: v.bytes, receivedAt: receivedAt,
               evicted: &evicted)
    }

    public func accept(_ v: DataSMView, receivedAt: UInt64, evicted: inout [InboundMessage]) -> Accepted {
        accept(userData: v.userData, tlvs: v.tlvs, dataCoding: v.dataCoding, esmClass: v.esmClass, sourceTON: v.sourceAddrTON,
               source: v.sourceAddr, destTON: v.destAddrTON, destination: v.destinationAddr, raw: v.bytes, receivedAt: receivedAt,
               evicted: &evicted)
    }

    func accept(
        userData ud: UserData, tlvs: TLVList, dataCoding: DataCoding, esmClass: ESMClass, sourceTON: TON, source: UnsafeRawBufferPointer,
        destTON: TON, destination: UnsafeRawBufferPointer, raw: UnsafeRawBufferPointer, receivedAt: UInt64,
        evicted: inout [InboundMessage]
    ) -> Accepted {
        let src = Self.addressString(source)
        let dst = Self.addressString(destination)
        if let part = part(userData: ud, tlvs: tlvs, dataCoding: dataCoding, sourceTON: sourceTON, source: src, destTON: destTON,
                           destination: dst, raw: raw, receivedAt: receivedAt) {
            let partKey = DedupKey.part(part)
            var out: [AssembledMessage] = []
            let r = reassembler.add(part, key: partKey, evicted: &out)
            evicted += out.map { message(from: $0) }
            switch r {
            case .duplicate: return .duplicatePart(part, dedupKey: partKey)
            case .pending: return .part(part, dedupKey: partKey, completed: nil)
            case .complete(let m): return .part(part, dedupKey: partKey, completed: message(from: m))
            }
        }
        let text = TextDecoder.decode(userData: ud, dataCoding: dataCoding, options: carrier.text)
        var m = InboundMessage(
            sourceTON: sourceTON, sourceAddr: src, destTON: destTON, destinationAddr: dst, dataCoding: dataCoding, text: text,
            dedupKey: wholeKey(ud, dataCoding: dataCoding, source: src, destination: dst),
            partCount: 1, missingParts: [], receivedAt: receivedAt)
        if esmClass.isDeliveryReceipt || tlvs.first(.receiptedMessageID) != nil {
            m.receipt = Self.receipt(text: text.text, tlvs: tlvs)
        }
        return .message(m)
    }

    /// A receipt's id, stat and err: the TLVs where the SMSC sent them, else the
    /// body's `id: … stat: … err: …` (SMPP 3.4 Appendix B).
    static func receipt(text: String, tlvs: TLVList) -> ReceiptFields {
        let body = DeliveryReceipt(text)
        let stateNames: [UInt8: String] = [1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                                           7: "UNKNOWN", 8: "REJECTD"]
        return ReceiptFields(
            messageID: tlvs.receiptedMessageID ?? body?.id,
            stat: body?.stat ?? tlvs.messageState.map { stateNames[$0.rawValue] ?? String($0.rawValue) },
            err: body?.err ?? tlvs.networkErrorCode.map { "\($0.networkType):\($0.errorCode)" })
    }

    /// The decision for a PDU that framed but failed body validation: kept as
    /// evidence with what could be read (`SalvagedMessage`) and the reason, never
    /// routed, OTP-extracted or notified. Its key covers the PDU body (everything
    /// after the header, whose sequence number changes on a redelivery).
    public func invalid(pdu raw: UnsafeRawBufferPointer, reason: String, receivedAt: UInt64) -> RoutingDecision {
        let s = SalvagedMessage(pdu: raw)
        let src = s.sourceAddr.withUnsafeBytes { Self.addressString($0) }
        let dst = s.destinationAddr.withUnsafeBytes { Self.addressString($0) }
        let text = s.payload.withUnsafeBytes { TextDecoder.decode(userData: UserData($0, udhi: s.esmClass.udhi), dataCoding: s.dataCoding, options: carrier.text) }
        let key = DedupKey.message(carrier: carrier.name, source: "invalid", destination: "", dataCoding: 0,
                                   payload: UnsafeRawBufferPointer(rebasing: raw[min(16, raw.count)...]), reference: nil)
        return RoutingDecision(
            outcome: .invalid, carrier: carrier.name, orderID: nil, service: nil, leaseVersion: nil, sourceRaw: src, destinationRaw: dst,
            source: carrier.normalize(ton: s.sourceTON, address: src),
            destination: carrier.normalize(ton: s.destTON, address: dst),
            dataCoding: s.dataCoding.rawValue, text: text.text, textInvalid: text.hadInvalidInput, code: nil, confidence: nil, rule: nil,
            serviceMismatch: false, dedupKey: key, partCount: 1, missingParts: [], receivedAt: receivedAt, invalidReason: reason)
    }

    /// The PDU as one part of a longer message (UDH or SAR concatenation), or nil for a whole message.
    func part(userData ud: UserData, tlvs: TLVList, dataCoding: DataCoding, sourceTON: TON = .unknown, source src: String,
              destTON: TON = .unknown, destination dst: String, raw: UnsafeRawBufferPointer, receivedAt: UInt64) -> Part? {
        let concat = ud.concatenation
            ?? tlvs.sar.map { Concatenation(kind: .sar, reference: $0.msgRefNum, total: $0.totalSegments, sequence: $0.segmentSeqnum) }
        guard let c = concat, c.total > 1 else { return nil }
        let key = PartKey(carrier: carrier.name, source: src, destination: dst, reference: c.reference,
                          referenceBits: UInt8(c.referenceBits), total: c.total)
        return Part(key: key, sequence: c.sequence, dataCoding: dataCoding.rawValue, body: Array(ud.body),
                    lockingShift: ud.lockingShift?.rawValue, singleShift: ud.singleShift?.rawValue,
                    rawPDU: Array(raw), receivedAt: receivedAt, sourceTON: sourceTON.rawValue, destTON: destTON.rawValue)
    }

    func wholeKey(_ ud: UserData, dataCoding: DataCoding, source: String, destination: String) -> DedupKey {
        DedupKey.message(carrier: carrier.name, source: source, destination: destination, dataCoding: dataCoding.rawValue,
                         payload: ud.payload, reference: nil)
    }

    /// The keys of a stored message, recomputed from its PDUs as `accept` computes them
    /// (the dedup-key upgrade, `DedupRekey`): the message's, and its parts (empty for a
    /// one-part message). Nil when no PDU decodes.
    public func storedKeys(rawPDUs: [[UInt8]]) -> (message: DedupKey, parts: [Part])? {
        var parts: [Part] = []
        var whole: DedupKey?
        for raw in rawPDUs {
            raw.withUnsafeBytes { b in
                guard b.count >= 16 else { return }
                let frame = PDUFrame(unchecked: b)
                let fields: (UserData, TLVList, DataCoding, UnsafeRawBufferPointer, UnsafeRawBufferPointer)
                if frame.commandID == .dataSM, let v = try? DataSMView(frame) {
                    fields = (v.userData, v.tlvs, v.dataCoding, v.sourceAddr, v.destinationAddr)
                } else if frame.commandID != .dataSM, let v = try? ShortMessageView(frame) {
                    fields = (v.userData, v.tlvs, v.dataCoding, v.sourceAddr, v.destinationAddr)
                } else {
                    return
                }
                let (ud, tlvs, dc, source, destination) = fields
                let src = Self.addressString(source), dst = Self.addressString(destination)
                if let p = part(userData: ud, tlvs: tlvs, dataCoding: dc, source: src, destination: dst, raw: b, receivedAt: 0) {
                    parts.append(p)
                } else {
                    whole = wholeKey(ud, dataCoding: dc, source: src, destination: dst)
                }
            }
        }
        if let whole, parts.isEmpty { return (whole, []) }
        guard let first = parts.first else { return nil }
        var slots = [Part?](repeating: nil, count: Int(first.key.total))
        for p in parts where p.key == first.key && (1...slots.count).contains(Int(p.sequence)) { slots[Int(p.sequence) - 1] = p }
        let m = message(from: AssembledMessage(key: first.key, parts: slots, missing: AssembledMessage.gaps(slots)))
        return (m.dedupKey, slots.compactMap { $0 })
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
    /// The message of assembled parts; its types of number are its first part's.
    public func message(from m: AssembledMessage) -> InboundMessage {
        let first = m.parts.compactMap { $0 }.first
        let text = m.decodeText(options: carrier.text)
        var joined: [UInt8] = []
        for p in m.parts { joined += p?.body ?? [] }
        let dc = first?.dataCoding ?? 0
        let key = joined.withUnsafeBytes {
            DedupKey.message(carrier: m.key.carrier, source: m.key.source, destination: m.key.destination, dataCoding: dc,
                             payload: $0, reference: (m.key.reference, m.key.referenceBits, m.key.total))
        }
        return InboundMessage(
            sourceTON: TON(first?.sourceTON ?? 0), sourceAddr: m.key.source, destTON: TON(first?.destTON ?? 0), destinationAddr: m.key.destination,
            dataCoding: DataCoding(dc), text: text, dedupKey: key, partCount: Int(m.key.total), missingParts: m.missing,
            receivedAt: m.firstReceivedAt, parts: m.parts.compactMap { $0 })
    }

    /// The routing decision for a whole message.
    public func decide(_ m: InboundMessage) -> RoutingDecision {
        let dest = carrier.normalize(ton: m.destTON, address: m.destinationAddr)
        let src = carrier.normalize(ton: m.sourceTON, address: m.sourceAddr)
        var d = RoutingDecision(
            outcome: .invalid, carrier: carrier.name, orderID: nil, service: nil, leaseVersion: nil, sourceRaw: m.sourceAddr,
            destinationRaw: m.destinationAddr, source: src, destination: dest, dataCoding: m.dataCoding.rawValue,
            text: m.text.text, textInvalid: m.text.hadInvalidInput, code: nil, confidence: nil, rule: nil, serviceMismatch: false,
            dedupKey: m.dedupKey, partCount: m.partCount, missingParts: m.missingParts, receivedAt: m.receivedAt)
        if let receipt = m.receipt {
            // A receipt is about a message sent, not an SMS for an order: never routed or extracted.
            d.outcome = .receipt
            d.receipt = receipt
            return d
        }
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
        let c = extractor.decide(text: m.text.text, isBinary: m.text.isBinary, sender: senderName, leaseService: leaseService)
        d.service = c.service
        d.code = c.code
        d.confidence = c.confidence
        d.rule = c.rule
        d.serviceMismatch = c.serviceMismatch
        return d
    }
}

/// Dedup keys: the first 128 bits of a SHA-256 (libcrypto) over a length-prefixed
/// encoding of carrier, source, destination, data coding, the concatenation
/// reference and the payload bytes: nothing the SMSC changes on a retry (sequence
/// number, timestamps). A key identifies a redelivery only within the store's
/// dedup window (docs/architecture.md, "Dedup keys"); two different messages
/// sharing a key inside one window would drop the second, which at 128 bits of a
/// cryptographic hash needs about 2^64 messages to happen by chance, or a SHA-256
/// collision to make on purpose (docs/decisions/002-dedup-window-and-sha256-keys.md).
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
        var h = KeyHasher()
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
        var h = KeyHasher()
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

/// SHA-256 over length-prefixed fields (libcrypto's context on the stack). Fields
/// are gathered in a 256-byte buffer and hashed in one call per 256 bytes: a call
/// per field (the length prefixes are two bytes each) cost as much as the hash.
struct KeyHasher {
    var ctx = shim_sha256_ctx()
    var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                 UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                 UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var used = 0
    static let capacity = 256
    init() { shim_sha256_init(&ctx) }

    mutating func flush() {
        guard used > 0 else { return }
        let n = used
        withUnsafeBytes(of: &buffer) { shim_sha256_update(&ctx, $0.baseAddress, n) }
        used = 0
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if used + bytes.count > Self.capacity { flush() }
        if bytes.count > Self.capacity {
            shim_sha256_update(&ctx, bytes.baseAddress, bytes.count)
            return
        }
        let at = used
        withUnsafeMutableBytes(of: &buffer) { UnsafeMutableRawBufferPointer(rebasing: $0[at..<(at + bytes.count)]).copyMemory(from: bytes) }
        used += bytes.count
    }

    mutating func add(_ byte: UInt8) {
        var b = byte
        withUnsafeBytes(of: &b) { append($0) }
    }
    /// Length-prefixed (two bytes), so that no two field sequences encode alike.
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var len = (UInt8(truncatingIfNeeded: bytes.count >> 8), UInt8(truncatingIfNeeded: bytes.count))
        withUnsafeBytes(of: &len) { append($0) }
        append(bytes)
    }
    mutating func add(_ s: String) {
        var s = s
        s.withUTF8 { add(UnsafeRawBufferPointer($0)) }
    }
    var key: DedupKey {
        mutating get {
            flush()
            var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &digest) { shim_sha256_final(&ctx, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            return DedupKey(high: UInt64(bigEndian: digest.0), low: UInt64(bigEndian: digest.1))
        }
    }
}
