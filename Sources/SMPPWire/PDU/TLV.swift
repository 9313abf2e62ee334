/// One optional parameter, owned. Used by the owned PDU model and the encoders.
public struct TLV: Hashable, Sendable {
    public var tag: TLVTag
    public var value: [UInt8]

    public init(_ tag: TLVTag, _ value: [UInt8]) {
        self.tag = tag
        self.value = value
    }
    public init(_ tag: TLVTag, uint8 v: UInt8) { self.init(tag, [v]) }
    public init(_ tag: TLVTag, uint16 v: UInt16) { self.init(tag, [UInt8(v >> 8), UInt8(v & 0xFF)]) }
    public init(_ tag: TLVTag, uint32 v: UInt32) {
        self.init(tag, [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
    /// A C-Octet String value, NUL added.
    public init(_ tag: TLVTag, cString s: String) { self.init(tag, Array(s.utf8) + [0]) }
}

/// One TLV inside a received PDU: a view, no copy.
public struct TLVView {
    public let tag: TLVTag
    public let value: UnsafeRawBufferPointer
    /// Offset of the TLV header from the start of the PDU.
    public let offset: Int

    @inlinable init(tag: TLVTag, value: UnsafeRawBufferPointer, offset: Int) {
        self.tag = tag
        self.value = value
        self.offset = offset
    }
}

/// The optional parameters of a received PDU, as a `Collection` over the bytes.
///
/// Every length is checked once, when the list is created (`validate`); iterating
/// afterwards does no checks and no allocation.
///
/// Duplicate tags: SMPP 3.4 does not say what a repeated tag means. All
/// occurrences are kept and iterated in wire order; the typed accessors
/// (`first(_:)`, `sarMsgRefNum`, …) return the **first** occurrence. The
/// session does not reject duplicates, since real SMSCs send them (for instance
/// a repeated vendor tag), and rejecting would cost a message.
public struct TLVList: Collection {
    public typealias Index = Int
    /// The PDU this list belongs to (offsets are relative to its start).
    @usableFromInline let pdu: UnsafeRawBufferPointer
    public let startIndex: Int
    public let endIndex: Int

    /// Checks every TLV header and length in `pdu[start..<end]`.
    @inlinable
    static func validate(_ pdu: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(DecodeError) {
        var o = start
        while o < end {
            let remaining = end - o
            guard remaining >= 4 else { throw .tlvHeaderTruncated(remaining: remaining, offset: o) }
            let tag = TLVTag(UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
            let length = Int(UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: o + 2, as: UInt16.self)))
            guard length <= remaining - 4 else {
                throw .tlvOverrun(tag, length: length, available: remaining - 4, offset: o)
            }
            if let allowed = tag.allowedLength, !allowed.contains(length) {
                throw .tlvInvalidLength(tag, length: length, allowed: allowed, offset: o)
            }
            o += 4 + length
        }
    }

    /// Wraps an already validated region.
    @inlinable
    init(unchecked pdu: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        self.pdu = pdu
        startIndex = start
        endIndex = end
    }

    /// Validates and wraps the TLVs in `pdu[start...]`.
    @inlinable
    public init(_ pdu: UnsafeRawBufferPointer, from start: Int) throws(DecodeError) {
        try TLVList.validate(pdu, from: start, to: pdu.count)
        self.init(unchecked: pdu, from: start, to: pdu.count)
    }

    @inlinable
    public subscript(position: Int) -> TLVView {
        let tag = TLVTag(UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: position, as: UInt16.self)))
        let length = Int(UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: position + 2, as: UInt16.self)))
        return TLVView(
            tag: tag, value: UnsafeRawBufferPointer(rebasing: pdu[(position + 4)..<(position + 4 + length)]),
            offset: position)
    }

    @inlinable
    public func index(after i: Int) -> Int {
        i + 4 + Int(UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: i + 2, as: UInt16.self)))
    }

    /// The first TLV with this tag (see the type's note on duplicates).
    @inlinable
    public func first(_ tag: TLVTag) -> UnsafeRawBufferPointer? {
        var i = startIndex
        while i < endIndex {
            let t = UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: i, as: UInt16.self))
            let length = Int(UInt16(bigEndian: pdu.loadUnaligned(fromByteOffset: i + 2, as: UInt16.self)))
            if t == tag.rawValue { return UnsafeRawBufferPointer(rebasing: pdu[(i + 4)..<(i + 4 + length)]) }
            i += 4 + length
        }
        return nil
    }

    /// Copies the list out, for the owned model.
    public var owned: [TLV] { map { TLV($0.tag, Array($0.value)) } }
}

/// Typed reads of TLV values, shared by the zero-copy list and the owned array.
public protocol TLVLookup {
    /// Calls `body` with the value of the first TLV carrying `tag`.
    func withFirstValue<R>(_ tag: TLVTag, _ body: (UnsafeRawBufferPointer) -> R) -> R?
}

extension TLVList: TLVLookup {
    @inlinable
    public func withFirstValue<R>(_ tag: TLVTag, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        first(tag).map(body)
    }
}

extension Array: TLVLookup where Element == TLV {
    public func withFirstValue<R>(_ tag: TLVTag, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let tlv = first(where: { $0.tag == tag }) else { return nil }
        return tlv.value.withUnsafeBytes(body)
    }
}

/// The three SAR TLVs that make a message one part of a longer one (SMPP 3.4 §5.3.2.22–24).
public struct SARInfo: Hashable, Sendable {
    public var msgRefNum: UInt16
    public var totalSegments: UInt8
    public var segmentSeqnum: UInt8
    public init(msgRefNum: UInt16, totalSegments: UInt8, segmentSeqnum: UInt8) {
        self.msgRefNum = msgRefNum
        self.totalSegments = totalSegments
        self.segmentSeqnum = segmentSeqnum
    }
}

/// network_error_code (SMPP 3.4 §5.3.2.31): a network type and its 2-octet error.
public struct NetworkErrorCode: Hashable, Sendable {
    /// 1 ANSI-136, 2 IS-95, 3 GSM, 4 reserved.
    public var networkType: UInt8
    public var errorCode: UInt16
    public init(networkType: UInt8, errorCode: UInt16) {
        self.networkType = networkType
        self.errorCode = errorCode
    }
}

extension TLVLookup {
    @inlinable
    func uint(_ tag: TLVTag) -> UInt32? {
        withFirstValue(tag) { v -> UInt32 in
            var r: UInt32 = 0
            for b in v { r = r << 8 | UInt32(b) }
            return r
        }
    }

    /// The first TLV's value as an unsigned integer, for the integer-valued tags.
    public func integer(_ tag: TLVTag) -> UInt32? { uint(tag) }

    public var sarMsgRefNum: UInt16? { uint(.sarMsgRefNum).map { UInt16(truncatingIfNeeded: $0) } }
    public var sarTotalSegments: UInt8? { uint(.sarTotalSegments).map { UInt8(truncatingIfNeeded: $0) } }
    public var sarSegmentSeqnum: UInt8? { uint(.sarSegmentSeqnum).map { UInt8(truncatingIfNeeded: $0) } }

    /// The SAR triple when all three are present.
    public var sar: SARInfo? {
        guard let r = sarMsgRefNum, let t = sarTotalSegments, let s = sarSegmentSeqnum else { return nil }
        return SARInfo(msgRefNum: r, totalSegments: t, segmentSeqnum: s)
    }

    public var messageState: MessageState? { uint(.messageState).map { MessageState(UInt8(truncatingIfNeeded: $0)) } }

    public var networkErrorCode: NetworkErrorCode? {
        withFirstValue(.networkErrorCode) { v in
            NetworkErrorCode(networkType: v[0], errorCode: UInt16(v[1]) << 8 | UInt16(v[2]))
        }
    }

    /// receipted_message_id as text (its NUL dropped).
    public var receiptedMessageID: String? {
        withFirstValue(.receiptedMessageID) { v in
            String(decoding: v.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    public var hasMessagePayload: Bool { withFirstValue(.messagePayload) { _ in true } ?? false }
}

/// Checks the SAR rule: the three SAR TLVs travel together. Returns the missing
/// one's error, where the fault is at `offset` (start of the TLV list).
@inlinable
func checkSAR(_ tlvs: some TLVLookup, offset: Int) throws(DecodeError) {
    let r = tlvs.withFirstValue(.sarMsgRefNum) { _ in true } ?? false
    let t = tlvs.withFirstValue(.sarTotalSegments) { _ in true } ?? false
    let s = tlvs.withFirstValue(.sarSegmentSeqnum) { _ in true } ?? false
    if r || t || s {
        if !r { throw .missingTLV(.sarMsgRefNum, offset: offset) }
        if !t { throw .missingTLV(.sarTotalSegments, offset: offset) }
        if !s { throw .missingTLV(.sarSegmentSeqnum, offset: offset) }
    }
}
