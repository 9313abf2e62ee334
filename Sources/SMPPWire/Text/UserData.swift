/// How a multi-part message is numbered, from whichever mechanism carried it.
public struct Concatenation: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        /// UDH IEI 0x00, 8-bit reference.
        case udh8 = "udh8"
        /// UDH IEI 0x08, 16-bit reference.
        case udh16 = "udh16"
        /// The SAR TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum).
        case sar = "sar"
    }
    public var kind: Kind
    public var reference: UInt16
    public var total: UInt8
    public var sequence: UInt8
    /// 8 or 16: part of the reassembly key, since an 8-bit ref 5 and a 16-bit ref 5 are different messages.
    public var referenceBits: Int { kind == .udh8 ? 8 : 16 }

    public init(kind: Kind, reference: UInt16, total: UInt8, sequence: UInt8) {
        self.kind = kind
        self.reference = reference
        self.total = total
        self.sequence = sequence
    }
}

/// One information element of a User Data Header.
public struct InformationElement: Hashable, Sendable {
    public var identifier: UInt8
    public var data: [UInt8]
}

/// The user data of a message (short_message or message_payload), split into its
/// User Data Header and the text bytes when esm_class sets UDHI. A view; no copy.
///
/// A malformed UDH (UDHL past the end, an IE that overruns) is not a PDU error:
/// the PDU framing is fine and the SMSC must still get its response. The header is
/// then ignored, the whole payload is treated as text, and `udhMalformed` is set.
public struct UserData {
    public let payload: UnsafeRawBufferPointer
    /// Octets taken by the UDH, UDHL included; 0 when there is none.
    public let headerLength: Int
    public let udhMalformed: Bool

    @inlinable
    public init(_ payload: UnsafeRawBufferPointer, udhi: Bool) {
        self.payload = payload
        guard udhi else {
            headerLength = 0
            udhMalformed = false
            return
        }
        guard !payload.isEmpty, Int(payload[0]) + 1 <= payload.count, UserData.elementsValid(payload) else {
            headerLength = 0
            udhMalformed = true
            return
        }
        headerLength = Int(payload[0]) + 1
        udhMalformed = false
    }

    @inlinable
    static func elementsValid(_ p: UnsafeRawBufferPointer) -> Bool {
        let end = Int(p[0]) + 1
        var i = 1
        while i < end {
            guard i + 2 <= end else { return false }
            let l = Int(p[i + 1])
            guard i + 2 + l <= end else { return false }
            i += 2 + l
        }
        return true
    }

    @inlinable public var hasHeader: Bool { headerLength > 0 }
    /// The octets after the header.
    @inlinable public var body: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: payload[headerLength...])
    }
    @inlinable public var header: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: payload[0..<headerLength])
    }

    /// Calls `body` for each IE, in order. Allocation-free.
    @inlinable
    public func forEachElement(_ body: (UInt8, UnsafeRawBufferPointer) -> Void) {
        guard headerLength > 0 else { return }
        var i = 1
        while i < headerLength {
            let l = Int(payload[i + 1])
            body(payload[i], UnsafeRawBufferPointer(rebasing: payload[(i + 2)..<(i + 2 + l)]))
            i += 2 + l
        }
    }

    /// The IEs, copied (for display).
    public var elements: [InformationElement] {
        var out: [InformationElement] = []
        forEachElement { out.append(InformationElement(identifier: $0, data: Array($1))) }
        return out
    }

    /// The concatenation IE (0x00 or 0x08). Per 23.040 §9.2.3.24.1 an IE with a
    /// total of 0, a sequence of 0 or a sequence above the total is ignored.
    @inlinable
    public var concatenation: Concatenation? {
        var found: Concatenation?
        forEachElement { id, d in
            guard found == nil else { return }
            if id == 0x00, d.count == 3 {
                found = Concatenation(kind: .udh8, reference: UInt16(d[0]), total: d[1], sequence: d[2])
            } else if id == 0x08, d.count == 4 {
                found = Concatenation(
                    kind: .udh16, reference: UInt16(d[0]) << 8 | UInt16(d[1]), total: d[2], sequence: d[3])
            }
        }
        if let c = found, c.total == 0 || c.sequence == 0 || c.sequence > c.total { return nil }
        return found
    }

    /// National language single shift (IE 0x24).
    @inlinable public var singleShift: NationalLanguage? { languageIE(0x24) }
    /// National language locking shift (IE 0x25).
    @inlinable public var lockingShift: NationalLanguage? { languageIE(0x25) }

    @inlinable
    func languageIE(_ iei: UInt8) -> NationalLanguage? {
        var found: NationalLanguage?
        forEachElement { id, d in
            if found == nil, id == iei, d.count == 1 { found = NationalLanguage(rawValue: d[0]) }
        }
        return found
    }
}
