// Decode and encode of the owned PDU model. Field order and maxima follow the
// SMPP 3.4 tables in §4; a maximum counts the terminating NUL.

extension PDU {
    /// Decodes one complete PDU (exactly command_length bytes).
    public static func decode(_ bytes: [UInt8], limits: FrameLimits = .default) throws(DecodeError) -> PDU {
        do {
            return try bytes.withUnsafeBytes { p in
                let frame = try PDUFrame(p, limits: limits)
                return try PDU.decode(frame)
            }
        } catch let e as DecodeError {
            throw e
        } catch {
            fatalError("unreachable: only DecodeError is thrown")
        }
    }

    /// Decodes a framed PDU.
    public static func decode(_ frame: PDUFrame) throws(DecodeError) -> PDU {
        let p = frame.bytes
        let id = frame.commandID
        var pdu = PDU(id, status: frame.commandStatus, sequenceNumber: frame.sequenceNumber)
        // A response with an error status may legally carry no body (3.4 §4: "the
        // body is not returned if command_status is non-zero" for several responses).
        guard id.isKnown else { throw .unknownCommandID(id, offset: 4) }
        if id.isResponse && p.count == 16 { return pdu }
        var r = ByteReader(p)
        switch id {
        case .genericNack, .unbind, .unbindResp, .enquireLink, .enquireLinkResp, .cancelSMResp, .replaceSMResp:
            pdu.body = .empty
        case .bindReceiver, .bindTransmitter, .bindTransceiver:
            var b = Bind(systemID: .empty, password: .empty)
            b.systemID = try r.string(.systemID, 16)
            b.password = try r.string(.password, 9)
            b.systemType = try r.string(.systemType, 13)
            b.interfaceVersion = try r.u8(.interfaceVersion)
            b.addrTON = TON(try r.u8(.addrTON))
            b.addrNPI = NPI(try r.u8(.addrNPI))
            b.addressRange = try r.string(.addressRange, 41)
            pdu.body = .bind(b)
        case .bindReceiverResp, .bindTransmitterResp, .bindTransceiverResp:
            pdu.body = .bindResp(BindResp(systemID: try r.string(.systemID, 16)))
        case .outbind:
            let s = try r.string(.systemID, 16)
            pdu.body = .outbind(Outbind(systemID: s, password: try r.string(.password, 9)))
        case .submitSM, .deliverSM:
            let v = try ShortMessageView(validating: p)
            pdu.body = .shortMessage(ShortMessage(v))
            pdu.tlvs = v.tlvs.owned
            return pdu
        case .dataSM:
            let v = try DataSMView(validating: p)
            pdu.body = .dataSM(DataSM(v))
            pdu.tlvs = v.tlvs.owned
            return pdu
        case .submitSMResp, .deliverSMResp, .dataSMResp:
            pdu.body = .messageIDResp(MessageIDResp(messageID: try r.string(.messageID, 65)))
        case .querySM:
            var q = QuerySM()
            q.messageID = try r.string(.messageID, 65)
            q.sourceAddrTON = TON(try r.u8(.sourceAddrTON))
            q.sourceAddrNPI = NPI(try r.u8(.sourceAddrNPI))
            q.sourceAddr = try r.string(.sourceAddr, 21)
            pdu.body = .querySM(q)
        case .querySMResp:
            var q = QuerySMResp()
            q.messageID = try r.string(.messageID, 65)
            q.finalDate = try r.string(.finalDate, 17)
            q.messageState = MessageState(try r.u8(.messageState))
            q.errorCode = try r.u8(.errorCode)
            pdu.body = .querySMResp(q)
        case .cancelSM:
            var c = CancelSM()
            c.serviceType = try r.string(.serviceType, 6)
            c.messageID = try r.string(.messageID, 65)
            c.sourceAddrTON = TON(try r.u8(.sourceAddrTON))
            c.sourceAddrNPI = NPI(try r.u8(.sourceAddrNPI))
            c.sourceAddr = try r.string(.sourceAddr, 21)
            c.destAddrTON = TON(try r.u8(.destAddrTON))
            c.destAddrNPI = NPI(try r.u8(.destAddrNPI))
            c.destinationAddr = try r.string(.destinationAddr, 21)
            pdu.body = .cancelSM(c)
        case .replaceSM:
            var m = ReplaceSM()
            m.messageID = try r.string(.messageID, 65)
            m.sourceAddrTON = TON(try r.u8(.sourceAddrTON))
            m.sourceAddrNPI = NPI(try r.u8(.sourceAddrNPI))
            m.sourceAddr = try r.string(.sourceAddr, 21)
            m.scheduleDeliveryTime = try r.string(.scheduleDeliveryTime, 17)
            m.validityPeriod = try r.string(.validityPeriod, 17)
            m.registeredDelivery = RegisteredDelivery(try r.u8(.registeredDelivery))
            m.smDefaultMsgID = try r.u8(.smDefaultMsgID)
            let at = r.offset
            let l = Int(try r.u8(.smLength))
            m.shortMessage = Array(UnsafeRawBufferPointer(rebasing: p[try r.octets(l, smLengthAt: at)]))
            pdu.body = .replaceSM(m)
        case .submitMulti:
            var m = SubmitMulti()
            m.serviceType = try r.string(.serviceType, 6)
            m.sourceAddrTON = TON(try r.u8(.sourceAddrTON))
            m.sourceAddrNPI = NPI(try r.u8(.sourceAddrNPI))
            m.sourceAddr = try r.string(.sourceAddr, 21)
            let n = Int(try r.u8(.numberOfDests))
            for _ in 0..<n {
                let flagAt = r.offset
                switch try r.u8(.destFlag) {
                case 1:
                    let ton = TON(try r.u8(.destAddrTON))
                    let npi = NPI(try r.u8(.destAddrNPI))
                    m.destAddresses.append(.sme(ton: ton, npi: npi, address: try r.string(.destinationAddr, 21)))
                case 2:
                    m.destAddresses.append(.distributionList(name: try r.string(.dlName, 21)))
                case let f:
                    throw .invalidDestFlag(f, offset: flagAt)
                }
            }
            m.esmClass = ESMClass(try r.u8(.esmClass))
            m.protocolID = try r.u8(.protocolID)
            m.priorityFlag = try r.u8(.priorityFlag)
            m.scheduleDeliveryTime = try r.string(.scheduleDeliveryTime, 17)
            m.validityPeriod = try r.string(.validityPeriod, 17)
            m.registeredDelivery = RegisteredDelivery(try r.u8(.registeredDelivery))
            m.replaceIfPresentFlag = try r.u8(.replaceIfPresentFlag)
            m.dataCoding = DataCoding(try r.u8(.dataCoding))
            m.smDefaultMsgID = try r.u8(.smDefaultMsgID)
            let at = r.offset
            let l = Int(try r.u8(.smLength))
            m.shortMessage = Array(UnsafeRawBufferPointer(rebasing: p[try r.octets(l, smLengthAt: at)]))
            pdu.body = .submitMulti(m)
        case .submitMultiResp:
            var m = SubmitMultiResp()
            m.messageID = try r.string(.messageID, 65)
            let n = Int(try r.u8(.noUnsuccess))
            for _ in 0..<n {
                let ton = TON(try r.u8(.destAddrTON))
                let npi = NPI(try r.u8(.destAddrNPI))
                let a = try r.string(.destinationAddr, 21)
                let st = CommandStatus(try r.u32(.errorStatusCode))
                m.unsuccessSMEs.append(
                    UnsuccessSME(destAddrTON: ton, destAddrNPI: npi, destinationAddr: a, errorStatusCode: st))
            }
            pdu.body = .submitMultiResp(m)
        case .alertNotification:
            var a = AlertNotification()
            a.sourceAddrTON = TON(try r.u8(.sourceAddrTON))
            a.sourceAddrNPI = NPI(try r.u8(.sourceAddrNPI))
            a.sourceAddr = try r.string(.sourceAddr, 65)
            a.esmeAddrTON = TON(try r.u8(.esmeAddrTON))
            a.esmeAddrNPI = NPI(try r.u8(.esmeAddrNPI))
            a.esmeAddr = try r.string(.esmeAddr, 65)
            pdu.body = .alertNotification(a)
        default:
            throw .unknownCommandID(id, offset: 4)
        }
        pdu.tlvs = try TLVList(p, from: r.offset).owned
        return pdu
    }

    /// Encodes to wire bytes, command_length included.
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        encode(into: &w)
        return w.bytes
    }

    public func encode(into w: inout ByteWriter) {
        let start = w.bytes.count
        w.header(commandID, commandStatus, sequenceNumber)
        switch body {
        case .empty:
            break
        case .bind(let b):
            w.cString(b.systemID)
            w.cString(b.password)
            w.cString(b.systemType)
            w.u8(b.interfaceVersion)
            w.u8(b.addrTON.rawValue)
            w.u8(b.addrNPI.rawValue)
            w.cString(b.addressRange)
        case .bindResp(let b):
            w.cString(b.systemID)
        case .outbind(let o):
            w.cString(o.systemID)
            w.cString(o.password)
        case .shortMessage(let m):
            w.cString(m.serviceType)
            w.u8(m.sourceAddrTON.rawValue)
            w.u8(m.sourceAddrNPI.rawValue)
            w.cString(m.sourceAddr)
            w.u8(m.destAddrTON.rawValue)
            w.u8(m.destAddrNPI.rawValue)
            w.cString(m.destinationAddr)
            w.u8(m.esmClass.rawValue)
            w.u8(m.protocolID)
            w.u8(m.priorityFlag)
            w.cString(m.scheduleDeliveryTime)
            w.cString(m.validityPeriod)
            w.u8(m.registeredDelivery.rawValue)
            w.u8(m.replaceIfPresentFlag)
            w.u8(m.dataCoding.rawValue)
            w.u8(m.smDefaultMsgID)
            w.shortMessage(m.shortMessage)
        case .messageIDResp(let m):
            w.cString(m.messageID)
        case .dataSM(let d):
            w.cString(d.serviceType)
            w.u8(d.sourceAddrTON.rawValue)
            w.u8(d.sourceAddrNPI.rawValue)
            w.cString(d.sourceAddr)
            w.u8(d.destAddrTON.rawValue)
            w.u8(d.destAddrNPI.rawValue)
            w.cString(d.destinationAddr)
            w.u8(d.esmClass.rawValue)
            w.u8(d.registeredDelivery.rawValue)
            w.u8(d.dataCoding.rawValue)
        case .querySM(let q):
            w.cString(q.messageID)
            w.u8(q.sourceAddrTON.rawValue)
            w.u8(q.sourceAddrNPI.rawValue)
            w.cString(q.sourceAddr)
        case .querySMResp(let q):
            w.cString(q.messageID)
            w.cString(q.finalDate)
            w.u8(q.messageState.rawValue)
            w.u8(q.errorCode)
        case .cancelSM(let c):
            w.cString(c.serviceType)
            w.cString(c.messageID)
            w.u8(c.sourceAddrTON.rawValue)
            w.u8(c.sourceAddrNPI.rawValue)
            w.cString(c.sourceAddr)
            w.u8(c.destAddrTON.rawValue)
            w.u8(c.destAddrNPI.rawValue)
            w.cString(c.destinationAddr)
        case .replaceSM(let m):
            w.cString(m.messageID)
            w.u8(m.sourceAddrTON.rawValue)
            w.u8(m.sourceAddrNPI.rawValue)
            w.cString(m.sourceAddr)
            w.cString(m.scheduleDeliveryTime)
            w.cString(m.validityPeriod)
            w.u8(m.registeredDelivery.rawValue)
            w.u8(m.smDefaultMsgID)
            w.shortMessage(m.shortMessage)
        case .submitMulti(let m):
            w.cString(m.serviceType)
            w.u8(m.sourceAddrTON.rawValue)
            w.u8(m.sourceAddrNPI.rawValue)
            w.cString(m.sourceAddr)
            w.u8(UInt8(m.destAddresses.count))
            for d in m.destAddresses {
                switch d {
                case .sme(let ton, let npi, let a):
                    w.u8(1)
                    w.u8(ton.rawValue)
                    w.u8(npi.rawValue)
                    w.cString(a)
                case .distributionList(let n):
                    w.u8(2)
                    w.cString(n)
                }
            }
            w.u8(m.esmClass.rawValue)
            w.u8(m.protocolID)
            w.u8(m.priorityFlag)
            w.cString(m.scheduleDeliveryTime)
            w.cString(m.validityPeriod)
            w.u8(m.registeredDelivery.rawValue)
            w.u8(m.replaceIfPresentFlag)
            w.u8(m.dataCoding.rawValue)
            w.u8(m.smDefaultMsgID)
            w.shortMessage(m.shortMessage)
        case .submitMultiResp(let m):
            w.cString(m.messageID)
            w.u8(UInt8(m.unsuccessSMEs.count))
            for u in m.unsuccessSMEs {
                w.u8(u.destAddrTON.rawValue)
                w.u8(u.destAddrNPI.rawValue)
                w.cString(u.destinationAddr)
                w.u32(u.errorStatusCode.rawValue)
            }
        case .alertNotification(let a):
            w.u8(a.sourceAddrTON.rawValue)
            w.u8(a.sourceAddrNPI.rawValue)
            w.cString(a.sourceAddr)
            w.u8(a.esmeAddrTON.rawValue)
            w.u8(a.esmeAddrNPI.rawValue)
            w.cString(a.esmeAddr)
        }
        for t in tlvs {
            w.u16(t.tag.rawValue)
            w.u16(UInt16(t.value.count))
            w.octets(t.value)
        }
        w.finish(from: start)
    }
}

extension ByteWriter {
    /// sm_length then the octets. short_message is at most 255 octets by its
    /// 1-octet length; longer content belongs in message_payload.
    @inlinable mutating func shortMessage(_ b: [UInt8]) {
        precondition(b.count <= 255, "short_message over 255 octets: use message_payload")
        u8(UInt8(b.count))
        octets(b)
    }
}

extension ByteReader {
    @inlinable
    mutating func string(_ field: Field, _ maximum: Int) throws(DecodeError) -> COctetString {
        let r = try cString(field, maximum: maximum)
        return COctetString(bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[r])))
    }
}

extension ShortMessage {
    /// Copies a view out.
    public init(_ v: ShortMessageView) {
        serviceType = COctetString(v.serviceType)
        sourceAddrTON = v.sourceAddrTON
        sourceAddrNPI = v.sourceAddrNPI
        sourceAddr = COctetString(v.sourceAddr)
        destAddrTON = v.destAddrTON
        destAddrNPI = v.destAddrNPI
        destinationAddr = COctetString(v.destinationAddr)
        esmClass = v.esmClass
        protocolID = v.protocolID
        priorityFlag = v.priorityFlag
        scheduleDeliveryTime = COctetString(v.scheduleDeliveryTime)
        validityPeriod = COctetString(v.validityPeriod)
        registeredDelivery = v.registeredDelivery
        replaceIfPresentFlag = v.replaceIfPresentFlag
        dataCoding = v.dataCoding
        smDefaultMsgID = v.smDefaultMsgID
        shortMessage = Array(v.shortMessage)
    }
}

extension DataSM {
    public init(_ v: DataSMView) {
        serviceType = COctetString(v.serviceType)
        sourceAddrTON = v.sourceAddrTON
        sourceAddrNPI = v.sourceAddrNPI
        sourceAddr = COctetString(v.sourceAddr)
        destAddrTON = v.destAddrTON
        destAddrNPI = v.destAddrNPI
        destinationAddr = COctetString(v.destinationAddr)
        esmClass = v.esmClass
        registeredDelivery = v.registeredDelivery
        dataCoding = v.dataCoding
    }
}

extension PDU {
    /// The response to a request, with `status` and an empty body: what a session
    /// sends for deliver_sm_resp, data_sm_resp, enquire_link_resp and unbind_resp.
    public static func response(to header: PDUHeader, status: CommandStatus = .ok) -> PDU {
        let body: Body
        switch header.commandID {
        case .deliverSM, .dataSM, .submitSM: body = .messageIDResp(MessageIDResp())
        default: body = .empty
        }
        return PDU(header.commandID.response, status: status, sequenceNumber: header.sequenceNumber, body: body)
    }

    /// A mobile-originated deliver_sm as an SMSC sends it: from a sender (a name
    /// under TON 5, else an ISDN number) to an international ISDN number. Used by
    /// the simulator and the bundled capture.
    public static func deliverSM(
        sequenceNumber: UInt32, sourceAddr: String, sourceAddrTON: TON, destinationAddr: String,
        dataCoding: DataCoding, esmClass: ESMClass = ESMClass(0), shortMessage: [UInt8], tlvs: [TLV] = []
    ) -> PDU {
        var m = ShortMessage()
        m.sourceAddrTON = sourceAddrTON
        m.sourceAddrNPI = sourceAddrTON == .alphanumeric ? .unknown : .isdn
        m.sourceAddr = COctetString(sourceAddr)
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = COctetString(destinationAddr)
        m.esmClass = esmClass
        m.dataCoding = dataCoding
        m.shortMessage = shortMessage
        return PDU(.deliverSM, sequenceNumber: sequenceNumber, body: .shortMessage(m), tlvs: tlvs)
    }

    /// generic_nack for a PDU that could not be understood.
    public static func genericNack(sequenceNumber: UInt32, status: CommandStatus) -> PDU {
        PDU(.genericNack, status: status, sequenceNumber: sequenceNumber)
    }
}

/// Allocation-free encoders for the responses on the hot path.
public enum ResponseEncoder {
    /// deliver_sm_resp / data_sm_resp with an empty message_id: 17 bytes.
    public static let deliverSMRespLength = 17

    /// Writes a deliver_sm_resp (or data_sm_resp when `commandID` says so) into `out`,
    /// which must hold at least 17 bytes. Returns the length written.
    @inlinable
    public static func writeMessageIDResp(
        into out: UnsafeMutableRawBufferPointer, commandID: CommandID = .deliverSMResp, status: CommandStatus,
        sequenceNumber: UInt32
    ) -> Int {
        out.storeBytes(of: UInt32(17).bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: commandID.rawValue.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: status.rawValue.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 12, as: UInt32.self)
        out[16] = 0
        return 17
    }

    /// Writes a header-only PDU (enquire_link_resp, unbind_resp, generic_nack). Returns 16.
    @inlinable
    public static func writeHeaderOnly(
        into out: UnsafeMutableRawBufferPointer, commandID: CommandID, status: CommandStatus, sequenceNumber: UInt32
    ) -> Int {
        out.storeBytes(of: UInt32(16).bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: commandID.rawValue.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: status.rawValue.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 12, as: UInt32.self)
        return 16
    }
}
