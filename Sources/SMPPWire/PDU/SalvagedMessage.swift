/// What can still be read from a deliver_sm or data_sm that frames correctly but
/// fails body validation (a 21-character address, a known TLV with an off-spec
/// length, a lone SAR TLV…): the fields in their places, each read as far as the
/// body allows, with no length limit but the body's. The bridge keeps such a PDU as
/// evidence (outcome `invalid`) rather than refusing it for ever; nothing read
/// here is trusted to route (docs/protocol-conformance.md, "Kept as evidence").
public struct SalvagedMessage: Hashable, Sendable {
    public var sourceTON = TON(0)
    public var sourceAddr: [UInt8] = []
    public var destTON = TON(0)
    public var destinationAddr: [UInt8] = []
    public var esmClass = ESMClass(0)
    public var dataCoding = DataCoding(0)
    /// short_message, or message_payload when short_message is empty.
    public var payload: [UInt8] = []

    /// Reads what it can of a deliver_sm (or submit_sm) or data_sm PDU, header included.
    public init(pdu bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 16 else { return }
        let isDataSM = PDUFrame(unchecked: bytes).commandID == .dataSM
        var i = 16
        func byte() -> UInt8? {
            guard i < bytes.count else { return nil }
            defer { i += 1 }
            return bytes[i]
        }
        func cString() -> [UInt8] {
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != 0 { out.append(bytes[i]); i += 1 }
            i += 1  // the NUL, or past the end
            return out
        }
        _ = cString()  // service_type
        guard let st = byte() else { return }
        sourceTON = TON(st)
        _ = byte()
        sourceAddr = cString()
        guard let dt = byte() else { return }
        destTON = TON(dt)
        _ = byte()
        destinationAddr = cString()
        guard let esm = byte() else { return }
        esmClass = ESMClass(esm)
        if isDataSM {
            _ = byte()  // registered_delivery
            guard let dc = byte() else { return }
            dataCoding = DataCoding(dc)
        } else {
            _ = byte(); _ = byte()  // protocol_id, priority_flag
            _ = cString(); _ = cString()  // schedule_delivery_time, validity_period
            _ = byte(); _ = byte()  // registered_delivery, replace_if_present_flag
            guard let dc = byte() else { return }
            dataCoding = DataCoding(dc)
            _ = byte()  // sm_default_msg_id
            guard let length = byte() else { return }
            let end = min(bytes.count, i + Int(length))
            payload = Array(bytes[i..<end])
            i = end
        }
        // TLVs, while their headers fit: message_payload when there is no short_message.
        while payload.isEmpty, i + 4 <= bytes.count {
            let tag = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
            let length = Int(UInt16(bytes[i + 2]) << 8 | UInt16(bytes[i + 3]))
            let start = i + 4
            let end = min(bytes.count, start + length)
            if tag == TLVTag.messagePayload.rawValue { payload = Array(bytes[start..<end]) }
            i = start + length
        }
    }
}
