/// A zero-copy view of a deliver_sm or submit_sm (they share one body layout,
/// SMPP 3.4 §4.4.1 and §4.6.1).
///
/// `init` walks the body once and checks every length: each C-Octet String's NUL
/// and maximum, sm_length against the body, every TLV. It keeps only five end
/// offsets; every accessor afterwards is a load at a known offset, with no
/// checks and no allocation. Text is decoded only when asked (`decodeText`).
///
/// Valid while the bytes it views are (see `PDUFrame`).
public struct ShortMessageView {
    public let bytes: UnsafeRawBufferPointer
    // NUL positions of service_type, source_addr, destination_addr,
    // schedule_delivery_time and validity_period.
    @usableFromInline let s1, s2, s3, s4, s5: Int32

    /// Validates and wraps a deliver_sm or submit_sm frame.
    @inlinable
    public init(_ frame: PDUFrame) throws(DecodeError) {
        try self.init(validating: frame.bytes)
    }

    @inlinable
    public init(validating bytes: UnsafeRawBufferPointer) throws(DecodeError) {
        guard bytes.count >= 16 else { throw .truncated(.commandLength, offset: 0) }
        var r = ByteReader(bytes)
        let serviceType = try r.cString(.serviceType, maximum: 6)
        try r.skip(.sourceAddrTON, .sourceAddrNPI)
        let source = try r.cString(.sourceAddr, maximum: 21)
        try r.skip(.destAddrTON, .destAddrNPI)
        let dest = try r.cString(.destinationAddr, maximum: 21)
        try r.skip(.esmClass, .protocolID, .priorityFlag)
        let sched = try r.cString(.scheduleDeliveryTime, maximum: 17)
        let valid = try r.cString(.validityPeriod, maximum: 17)
        guard r.remaining >= 5 else {
            let fields: [Field] = [.registeredDelivery, .replaceIfPresentFlag, .dataCoding, .smDefaultMsgID, .smLength]
            throw .truncated(fields[r.remaining], offset: r.end)
        }
        let smLengthAt = r.offset + 4
        r.offset += 5
        let smLength = Int(bytes[smLengthAt])
        let sm = try r.octets(smLength, smLengthAt: smLengthAt)
        try TLVList.validate(bytes, from: sm.upperBound, to: bytes.count)
        let tlvs = TLVList(unchecked: bytes, from: sm.upperBound, to: bytes.count)
        try checkSAR(tlvs, offset: sm.upperBound)
        self.bytes = bytes
        s1 = Int32(serviceType.upperBound)
        s2 = Int32(source.upperBound)
        s3 = Int32(dest.upperBound)
        s4 = Int32(sched.upperBound)
        s5 = Int32(valid.upperBound)
    }

    @inlinable func slice(_ a: Int, _ b: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[a..<b])
    }

    @inlinable public var header: PDUHeader { PDUHeader(unchecked: bytes) }
    @inlinable public var commandID: CommandID { PDUFrame(unchecked: bytes).commandID }
    @inlinable public var sequenceNumber: UInt32 { PDUFrame(unchecked: bytes).sequenceNumber }

    @inlinable public var serviceType: UnsafeRawBufferPointer { slice(16, Int(s1)) }
    @inlinable public var sourceAddrTON: TON { TON(bytes[Int(s1) + 1]) }
    @inlinable public var sourceAddrNPI: NPI { NPI(bytes[Int(s1) + 2]) }
    @inlinable public var sourceAddr: UnsafeRawBufferPointer { slice(Int(s1) + 3, Int(s2)) }
    @inlinable public var destAddrTON: TON { TON(bytes[Int(s2) + 1]) }
    @inlinable public var destAddrNPI: NPI { NPI(bytes[Int(s2) + 2]) }
    @inlinable public var destinationAddr: UnsafeRawBufferPointer { slice(Int(s2) + 3, Int(s3)) }
    @inlinable public var esmClass: ESMClass { ESMClass(bytes[Int(s3) + 1]) }
    @inlinable public var protocolID: UInt8 { bytes[Int(s3) + 2] }
    @inlinable public var priorityFlag: UInt8 { bytes[Int(s3) + 3] }
    @inlinable public var scheduleDeliveryTime: UnsafeRawBufferPointer { slice(Int(s3) + 4, Int(s4)) }
    @inlinable public var validityPeriod: UnsafeRawBufferPointer { slice(Int(s4) + 1, Int(s5)) }
    @inlinable public var registeredDelivery: RegisteredDelivery { RegisteredDelivery(bytes[Int(s5) + 1]) }
    @inlinable public var replaceIfPresentFlag: UInt8 { bytes[Int(s5) + 2] }
    @inlinable public var dataCoding: DataCoding { DataCoding(bytes[Int(s5) + 3]) }
    @inlinable public var smDefaultMsgID: UInt8 { bytes[Int(s5) + 4] }
    @inlinable public var smLength: Int { Int(bytes[Int(s5) + 5]) }
    @inlinable public var shortMessage: UnsafeRawBufferPointer {
        let start = Int(s5) + 6
        return slice(start, start + smLength)
    }
    @inlinable public var tlvs: TLVList {
        TLVList(unchecked: bytes, from: Int(s5) + 6 + smLength, to: bytes.count)
    }

    /// The message content: message_payload when sm_length is 0 and the TLV is
    /// present, otherwise short_message. (If a peer sends both, which 3.4 forbids,
    /// short_message wins when non-empty: that is what the handset would have shown.)
    @inlinable public var payload: UnsafeRawBufferPointer {
        if smLength == 0, let p = tlvs.first(.messagePayload) { return p }
        return shortMessage
    }

    /// The payload split into its User Data Header (when esm_class sets UDHI) and the user data.
    @inlinable public var userData: UserData { UserData(payload, udhi: esmClass.udhi) }

    /// Decodes the text, only now. `options` carries the carrier's idea of the
    /// SMSC default alphabet.
    public func decodeText(options: TextOptions = .default) -> DecodedText {
        TextDecoder.decode(userData: userData, dataCoding: dataCoding, options: options)
    }
}

/// A zero-copy view of a data_sm (SMPP 3.4 §4.7.1); same rules as `ShortMessageView`.
public struct DataSMView {
    public let bytes: UnsafeRawBufferPointer
    @usableFromInline let s1, s2, s3: Int32

    @inlinable
    public init(_ frame: PDUFrame) throws(DecodeError) { try self.init(validating: frame.bytes) }

    @inlinable
    public init(validating bytes: UnsafeRawBufferPointer) throws(DecodeError) {
        guard bytes.count >= 16 else { throw .truncated(.commandLength, offset: 0) }
        var r = ByteReader(bytes)
        let serviceType = try r.cString(.serviceType, maximum: 6)
        try r.skip(.sourceAddrTON, .sourceAddrNPI)
        let source = try r.cString(.sourceAddr, maximum: 65)
        try r.skip(.destAddrTON, .destAddrNPI)
        let dest = try r.cString(.destinationAddr, maximum: 65)
        try r.skip(.esmClass, .registeredDelivery, .dataCoding)
        try TLVList.validate(bytes, from: r.offset, to: bytes.count)
        try checkSAR(TLVList(unchecked: bytes, from: r.offset, to: bytes.count), offset: r.offset)
        self.bytes = bytes
        s1 = Int32(serviceType.upperBound)
        s2 = Int32(source.upperBound)
        s3 = Int32(dest.upperBound)
    }

    @inlinable func slice(_ a: Int, _ b: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[a..<b])
    }

    @inlinable public var header: PDUHeader { PDUHeader(unchecked: bytes) }
    @inlinable public var sequenceNumber: UInt32 { PDUFrame(unchecked: bytes).sequenceNumber }
    @inlinable public var serviceType: UnsafeRawBufferPointer { slice(16, Int(s1)) }
    @inlinable public var sourceAddrTON: TON { TON(bytes[Int(s1) + 1]) }
    @inlinable public var sourceAddrNPI: NPI { NPI(bytes[Int(s1) + 2]) }
    @inlinable public var sourceAddr: UnsafeRawBufferPointer { slice(Int(s1) + 3, Int(s2)) }
    @inlinable public var destAddrTON: TON { TON(bytes[Int(s2) + 1]) }
    @inlinable public var destAddrNPI: NPI { NPI(bytes[Int(s2) + 2]) }
    @inlinable public var destinationAddr: UnsafeRawBufferPointer { slice(Int(s2) + 3, Int(s3)) }
    @inlinable public var esmClass: ESMClass { ESMClass(bytes[Int(s3) + 1]) }
    @inlinable public var registeredDelivery: RegisteredDelivery { RegisteredDelivery(bytes[Int(s3) + 2]) }
    @inlinable public var dataCoding: DataCoding { DataCoding(bytes[Int(s3) + 3]) }
    @inlinable public var tlvs: TLVList { TLVList(unchecked: bytes, from: Int(s3) + 4, to: bytes.count) }
    /// data_sm carries its content only in message_payload.
    @inlinable public var payload: UnsafeRawBufferPointer {
        tlvs.first(.messagePayload) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
    @inlinable public var userData: UserData { UserData(payload, udhi: esmClass.udhi) }

    public func decodeText(options: TextOptions = .default) -> DecodedText {
        TextDecoder.decode(userData: userData, dataCoding: dataCoding, options: options)
    }
}
