import SMPPWire

/// The two benchmark inputs. Written to baseline/*.bin by CodecSpeed so the C
/// driver decodes exactly the same bytes.
public enum BenchSamples {
    /// A representative 201-byte deliver_sm: 140-character GSM 7-bit OTP text, 2 TLVs.
    public static let gsm7: [UInt8] = {
        var m = ShortMessage()
        m.sourceAddrTON = .alphanumeric
        m.sourceAddr = "Google"
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = "447700900123"
        let text = "G-482913 is your Google verification code. Don't share it with anyone. Google will never call to ask for it. Didn't ask? Ignore this text now"
        m.shortMessage = GSM7.encodeUnpacked(String(text.prefix(140)))!
        return PDU(.deliverSM, sequenceNumber: 1, body: .shortMessage(m),
                   tlvs: [TLV(.sourceNetworkType, uint8: 1), TLV(.destNetworkType, uint8: 1)]).encode()
    }()

    /// The UCS2 counterpart: a 70-character Cyrillic OTP (140 octets), 2 TLVs.
    public static let ucs2: [UInt8] = {
        var m = ShortMessage()
        m.sourceAddrTON = .alphanumeric
        m.sourceAddr = "Google"
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = "447700900123"
        m.dataCoding = .ucs2
        let text = "G-482913 — ваш код подтверждения Google. Никому его не сообщайте!!!!!"
        m.shortMessage = UCS2.encode(String(text.prefix(70)))
        return PDU(.deliverSM, sequenceNumber: 2, body: .shortMessage(m),
                   tlvs: [TLV(.sourceNetworkType, uint8: 1), TLV(.destNetworkType, uint8: 1)]).encode()
    }()

    /// `count` copies of a PDU back to back, each with its own sequence_number: a
    /// receive buffer as the socket fills it. Decoding walks it frame by frame, so
    /// no decode can be hoisted out of the loop.
    public static func stream(_ pdu: [UInt8], count: Int = 1024) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pdu.count * count)
        for i in 0..<count {
            var p = pdu
            let seq = UInt32(i + 1)
            p[12] = UInt8(seq >> 24); p[13] = UInt8((seq >> 16) & 0xFF); p[14] = UInt8((seq >> 8) & 0xFF); p[15] = UInt8(seq & 0xFF)
            out += p
        }
        return out
    }

    /// Frames and fully decodes every PDU in a stream; returns (PDUs, checksum).
    @inline(never)
    public static func decodeStream(_ p: UnsafeRawBufferPointer) -> (Int, UInt64) {
        var offset = 0
        var n = 0
        var sum: UInt64 = 0
        while offset < p.count {
            let rest = UnsafeRawBufferPointer(rebasing: p[offset...])
            guard case .frame(let length) = PDUFrame.scan(rest) else { break }
            sum &+= decodeAll(UnsafeRawBufferPointer(rebasing: rest[0..<length]))
            offset += length
            n += 1
        }
        return (n, sum)
    }

    /// Framing plus full decode: every header and body field read, the TLVs walked.
    /// Returns a checksum so nothing is optimised away. Performs no allocation.
    @inline(__always)
    public static func decodeAll(_ p: UnsafeRawBufferPointer) -> UInt64 {
        guard case .frame(let n) = PDUFrame.scan(p) else { return 0 }
        let frame = PDUFrame(unchecked: UnsafeRawBufferPointer(rebasing: p[0..<n]))
        guard let v = try? ShortMessageView(frame) else { return 0 }
        var sum = UInt64(v.sequenceNumber) &+ UInt64(v.header.commandStatus.rawValue) &+ UInt64(v.header.commandID.rawValue)
        sum &+= UInt64(v.serviceType.count) &+ UInt64(v.sourceAddrTON.rawValue) &+ UInt64(v.sourceAddrNPI.rawValue)
        sum &+= UInt64(v.sourceAddr.count) &+ UInt64(v.destAddrTON.rawValue) &+ UInt64(v.destAddrNPI.rawValue)
        sum &+= UInt64(v.destinationAddr.count) &+ UInt64(v.esmClass.rawValue) &+ UInt64(v.protocolID)
        sum &+= UInt64(v.priorityFlag) &+ UInt64(v.scheduleDeliveryTime.count) &+ UInt64(v.validityPeriod.count)
        sum &+= UInt64(v.registeredDelivery.rawValue) &+ UInt64(v.replaceIfPresentFlag) &+ UInt64(v.dataCoding.rawValue)
        sum &+= UInt64(v.smDefaultMsgID) &+ UInt64(v.smLength) &+ UInt64(v.shortMessage.count)
        for t in v.tlvs { sum &+= UInt64(t.tag.rawValue) &+ UInt64(t.value.count) }
        return sum
    }
}
