import BridgeRuntime
public import SMPPWire

/// The embedded default capture: the traffic an OTP aggregator really sends, built
/// with the project's own encoder so it needs no file. Used by `make demo` and tests.
public enum SampleCapture {
    static func deliver(
        seq: UInt32, from: String, fromTON: TON = .alphanumeric, to: String, dataCoding: DataCoding,
        esm: UInt8 = 0, message: [UInt8], tlvs: [TLV] = []
    ) -> PDU {
        PDU.deliverSM(sequenceNumber: seq, sourceAddr: from, sourceAddrTON: fromTON, destinationAddr: to,
                      dataCoding: dataCoding, esmClass: ESMClass(esm), shortMessage: message, tlvs: tlvs)
    }

    /// The PDUs, in order.
    public static func pdus() -> [PDU] {
        var out: [PDU] = []
        var seq: UInt32 = 1
        func next() -> UInt32 { defer { seq += 1 }; return seq }

        out.append(PDU(.enquireLink, sequenceNumber: next()))
        // GSM 7-bit, with extension-table characters (€, [ ]).
        out.append(
            deliver(
                seq: next(), from: "WhatsApp", to: "447700900123", dataCoding: .smscDefault,
                message: GSM7.encodeUnpacked("Your WhatsApp code: 482-913. Don't share it. [€0 fee]")!,
                tlvs: [TLV(.sourceNetworkType, uint8: 1)]))
        // UCS2 Cyrillic.
        out.append(
            deliver(
                seq: next(), from: "Telegram", to: "79161234567", dataCoding: .ucs2,
                message: UCS2.encode("Код подтверждения Telegram: 73519. Никому не сообщайте.")))
        // UCS2 Arabic.
        out.append(
            deliver(
                seq: next(), from: "Careem", to: "971501234567", dataCoding: .ucs2,
                message: UCS2.encode("رمز التحقق الخاص بك هو 6604")))
        // UCS2 Chinese with an emoji (a surrogate pair).
        out.append(
            deliver(
                seq: next(), from: "WeChat", to: "8613800138000", dataCoding: .ucs2,
                message: UCS2.encode("您的验证码是 918273 🔐,5分钟内有效")))
        // Latin-1.
        out.append(
            deliver(
                seq: next(), from: "BancoXYZ", to: "34600123456", dataCoding: .latin1,
                message: Array("Su código de verificación es 5521. Válido 10 min.".unicodeScalars.map { UInt8($0.value) })))
        // Two parts, UDH 8-bit reference, sent out of order.
        let long = "G-771204 is your Google verification code. Google will never ask you for it by phone or chat; if you didn't request it, someone may be trying to access your account."
        let septets = GSM7.encodeUnpacked(long)!
        let p1 = Array(septets[0..<153]), p2 = Array(septets[153...])
        out.append(
            deliver(seq: next(), from: "Google", to: "14155550123", dataCoding: .smscDefault, esm: 0x40,
                    message: [0x05, 0x00, 0x03, 0x2A, 0x02, 0x02] + p2))
        out.append(
            deliver(seq: next(), from: "Google", to: "14155550123", dataCoding: .smscDefault, esm: 0x40,
                    message: [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01] + p1))
        // Two parts, UDH 16-bit reference, UCS2 with an emoji split across the parts.
        let u = UCS2.encode("Microsoft account security code: 390211 🙂 Enter it to continue.")
        let cut = 82  // between the two halves of the surrogate pair of the emoji: reassembly must join bytes before decoding
        out.append(
            deliver(seq: next(), from: "Microsoft", to: "4915112345678", dataCoding: .ucs2, esm: 0x40,
                    message: [0x06, 0x08, 0x04, 0x01, 0x2C, 0x02, 0x01] + Array(u[0..<cut])))
        out.append(
            deliver(seq: next(), from: "Microsoft", to: "4915112345678", dataCoding: .ucs2, esm: 0x40,
                    message: [0x06, 0x08, 0x04, 0x01, 0x2C, 0x02, 0x02] + Array(u[cut...])))
        // SAR TLVs.
        out.append(
            deliver(seq: next(), from: "15550001", fromTON: .international, to: "5511998765432", dataCoding: .smscDefault,
                    message: GSM7.encodeUnpacked("Seu codigo Uber e 4417. ")!,
                    tlvs: [TLV(.sarMsgRefNum, uint16: 0x1234), TLV(.sarTotalSegments, uint8: 2), TLV(.sarSegmentSeqnum, uint8: 1)]))
        out.append(
            deliver(seq: next(), from: "15550001", fromTON: .international, to: "5511998765432", dataCoding: .smscDefault,
                    message: GSM7.encodeUnpacked("Nao compartilhe.")!,
                    tlvs: [TLV(.sarMsgRefNum, uint16: 0x1234), TLV(.sarTotalSegments, uint8: 2), TLV(.sarSegmentSeqnum, uint8: 2)]))
        // message_payload with sm_length 0.
        out.append(
            deliver(seq: next(), from: "Amazon", to: "12025550143", dataCoding: .smscDefault, message: [],
                    tlvs: [TLV(.messagePayload, GSM7.encodeUnpacked("Amazon: your one-time password is 552019. It expires in 10 minutes. Never share it with anyone, including Amazon staff. Amazon will never call you to ask for this code; report any such call.")!)]))
        // A delivery receipt.
        out.append(
            deliver(seq: next(), from: "447700900123", fromTON: .international, to: "TrueOTP", dataCoding: .smscDefault, esm: 0x04,
                    message: Array("id:0A1B2C3D sub:001 dlvrd:001 submit date:2611250101 done date:2611250102 stat:DELIVRD err:000 text:Your code".utf8),
                    tlvs: [TLV(.receiptedMessageID, cString: "0A1B2C3D"), TLV(.messageState, uint8: 2)]))
        // data_sm.
        var d = DataSM()
        d.sourceAddrTON = .alphanumeric
        d.sourceAddr = "Viber"
        d.destAddrTON = .international
        d.destAddrNPI = .isdn
        d.destinationAddr = "380501234567"
        d.dataCoding = .ucs2
        out.append(PDU(.dataSM, sequenceNumber: next(), body: .dataSM(d), tlvs: [TLV(.messagePayload, UCS2.encode("Ваш код Viber: 204913"))]))
        out.append(PDU(.enquireLinkResp, sequenceNumber: 1))
        return out
    }

    /// One malformed PDU: a deliver_sm whose sm_length runs past the body. The
    /// framing is intact, so a session answers it and reads on.
    public static var malformed: [UInt8] {
        var b = deliver(seq: 153, from: "WhatsApp", to: "447700900999", dataCoding: .smscDefault,
                        message: Array("ABCD".utf8)).encode()
        b[b.count - 5] = 0xFF  // sm_length 255, but only 4 octets follow
        return b
    }

    /// The whole capture as one byte stream.
    public static func bytes() -> [UInt8] {
        var all: [UInt8] = []
        let p = pdus()
        for (i, pdu) in p.enumerated() {
            all += pdu.encode()
            if i == 6 { all += malformed }
        }
        return all
    }
}

