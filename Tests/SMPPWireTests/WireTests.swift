import SMPPWire
import XCTest

/// A small deterministic generator, so a failing property run can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class WireValueTests: XCTestCase {
    func testUnknownValuesArePreserved() throws {
        let id = CommandID(0x0001_0200)
        XCTAssertFalse(id.isKnown)
        XCTAssertEqual(id.description, "unknown_00010200")
        XCTAssertEqual(CommandStatus(0x0000_0444).description, "vendor_0x00000444")
        XCTAssertEqual(CommandStatus.invalidPassword.specName, "ESME_RINVPASWD")
        XCTAssertEqual(CommandStatus.invalidParameterLength.rawValue, 0xC2)
        XCTAssertEqual(TLVTag(0x1401).description, "0x1401")
        XCTAssertTrue(TLVTag(0x1401).isVendorSpecific)
        XCTAssertEqual(CommandID.deliverSM.response, .deliverSMResp)
        XCTAssertEqual(CommandID.deliverSMResp.request, .deliverSM)
        XCTAssertEqual(CommandID.allSMPP34.count, 27)
        XCTAssertEqual(Set(CommandID.allSMPP34.compactMap(\.name)).count, 27)
        XCTAssertEqual(TLVTag.allSMPP34.count, 44)
        XCTAssertTrue(TLVTag.allSMPP34.allSatisfy { $0.name != nil && $0.allowedLength != nil })
    }

    func testDataCodingGroups() {
        XCTAssertEqual(DataCoding(0x00).alphabet, .smscDefault)
        XCTAssertEqual(DataCoding(0x08).alphabet, .ucs2)
        XCTAssertEqual(DataCoding(0xF0).alphabet, .gsm7)
        XCTAssertEqual(DataCoding(0xF0).messageClass, .class0)
        XCTAssertEqual(DataCoding(0xF5).alphabet, .binary)
        XCTAssertEqual(DataCoding(0x19).alphabet, .ucs2)
        XCTAssertEqual(DataCoding(0x19).messageClass, .class1)
        XCTAssertEqual(DataCoding(0x24).alphabet, .binary)
        XCTAssertTrue(DataCoding(0x24).isCompressed)
        XCTAssertEqual(DataCoding(0xC0).alphabet, .gsm7)
        XCTAssertEqual(DataCoding(0xE0).alphabet, .ucs2)
        XCTAssertEqual(DataCoding(0x90).alphabet, .reserved)
        // Every octet has an interpretation and none traps.
        for v in 0...255 { _ = DataCoding(UInt8(v)).alphabetName }
    }

    func testDecodeErrorsMapToStatusesAndNeverShowValues() {
        let e = DecodeError.stringTooLong(.destinationAddr, maximum: 21, offset: 23)
        XCTAssertEqual(e.commandStatus, .invalidDestinationAddress)
        XCTAssertFalse(e.isFramingFatal)
        XCTAssertTrue(e.description.contains("offset 23"))
        XCTAssertTrue(DecodeError.commandLengthTooLarge(1 << 30, limit: 65536, offset: 0).isFramingFatal)
        XCTAssertEqual(DecodeError.missingTLV(.sarTotalSegments, offset: 9).commandStatus, .missingTLV)
        XCTAssertEqual(DecodeError.tlvOverrun(.messagePayload, length: 9, available: 2, offset: 3).commandStatus, .invalidParameterLength)
    }
}

final class FramingTests: XCTestCase {
    func testLimitsAreConfigurable() throws {
        let big = PDU(.deliverSM, sequenceNumber: 1, body: .shortMessage(ShortMessage()), tlvs: [TLV(.messagePayload, [UInt8](repeating: 0x41, count: 2000))]).encode()
        var small = FrameDecoder(limits: FrameLimits(maximumCommandLength: 1024))
        small.append(big)
        XCTAssertThrowsError(try small.nextFrame { _ in () }) { e in
            XCTAssertEqual((e as? DecodeError)?.code, "command_length_too_large")
        }
        // A failed stream stays failed.
        XCTAssertNotNil(small.failed)
        XCTAssertThrowsError(try small.nextFrame { _ in () })
        var normal = FrameDecoder()
        normal.append(big)
        XCTAssertEqual(try normal.nextFrame { $0.commandLength }, big.count)
    }

    func testFramesAreViewsIntoTheReceiveBuffer() throws {
        var d = FrameDecoder(initialCapacity: 4096)
        let pdu = SampleDeliver.gsm7()
        let n = d.readInto { buf in
            pdu.withUnsafeBytes { buf.copyMemory(from: $0) }
            return pdu.count
        }
        XCTAssertEqual(n, pdu.count)
        var inside = false
        _ = try d.nextFrame { frame in
            let v = try ShortMessageView(frame)
            // The short_message is a slice of the frame, which is a slice of the buffer: no copy.
            let fb = frame.bytes.baseAddress!
            let sm = v.shortMessage.baseAddress!
            inside = sm > fb && sm < fb + frame.bytes.count
        }
        XCTAssertTrue(inside)
    }

    func testCompactionKeepsPartialPDUs() throws {
        var d = FrameDecoder(initialCapacity: 64)
        let one = SampleDeliver.gsm7()
        var stream: [UInt8] = []
        for _ in 0..<200 { stream += one }
        var got = 0
        var i = 0
        var rng = SplitMix64(state: 7)
        while i < stream.count {
            let n = min(Int.random(in: 1...300, using: &rng), stream.count - i)
            d.append(Array(stream[i..<(i + n)]))
            i += n
            while let ok = try d.nextFrame({ f in f.commandLength == one.count }) {
                XCTAssertTrue(ok)
                got += 1
            }
        }
        XCTAssertEqual(got, 200)
        XCTAssertEqual(d.bufferedByteCount, 0)
    }

    func testResponseEncoderMatchesOwnedEncoder() {
        var buf = [UInt8](repeating: 0, count: 17)
        let n = buf.withUnsafeMutableBytes {
            ResponseEncoder.writeMessageIDResp(into: $0, status: .temporaryAppError, sequenceNumber: 0x7FFF_FFFF)
        }
        XCTAssertEqual(n, 17)
        let header = PDUHeader(commandLength: 0, commandID: .deliverSM, commandStatus: .ok, sequenceNumber: 0x7FFF_FFFF)
        XCTAssertEqual(buf, PDU.response(to: header, status: .temporaryAppError).encode())
        var h = [UInt8](repeating: 0, count: 16)
        _ = h.withUnsafeMutableBytes { ResponseEncoder.writeHeaderOnly(into: $0, commandID: .genericNack, status: .invalidCommandID, sequenceNumber: 4) }
        XCTAssertEqual(h, PDU.genericNack(sequenceNumber: 4, status: .invalidCommandID).encode())
    }
}

enum SampleDeliver {
    /// The representative 201-byte deliver_sm of the benchmark: 140 GSM 7-bit characters and 2 TLVs.
    static func gsm7() -> [UInt8] {
        var m = ShortMessage()
        m.sourceAddrTON = .alphanumeric
        m.sourceAddr = "WhatsApp"
        m.destAddrTON = .international
        m.destAddrNPI = .isdn
        m.destinationAddr = "447700900123"
        let text = "Your WhatsApp code is 482-913. Never share this code with anyone. WhatsApp will never ask for it. If you didn't request it, ignore this now."
        m.shortMessage = GSM7.encodeUnpacked(String(text.prefix(140)))!
        return PDU(.deliverSM, sequenceNumber: 1, body: .shortMessage(m), tlvs: [TLV(.sourceNetworkType, uint8: 1), TLV(.destNetworkType, uint8: 1)]).encode()
    }
}

final class PropertyTests: XCTestCase {
    static func cstr(_ rng: inout SplitMix64, max: Int) -> COctetString {
        let n = Int.random(in: 0..<max, using: &rng)
        return COctetString(bytes: (0..<n).map { _ in UInt8.random(in: 1...255, using: &rng) })
    }
    static func bytes(_ rng: inout SplitMix64, max: Int) -> [UInt8] {
        (0..<Int.random(in: 0...max, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }
    static func tlvs(_ rng: inout SplitMix64) -> [TLV] {
        (0..<Int.random(in: 0...3, using: &rng)).map { _ in
            let known = TLVTag.allSMPP34.filter { $0 != .sarMsgRefNum && $0 != .sarTotalSegments && $0 != .sarSegmentSeqnum }
            if Bool.random(using: &rng) {
                let t = known.randomElement(using: &rng)!
                let r = t.allowedLength!
                let n = Int.random(in: r.lowerBound...min(r.upperBound, 300), using: &rng)
                return TLV(t, (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            return TLV(TLVTag(UInt16.random(in: 0x1400...0x3FFF, using: &rng)), bytes(&rng, max: 40))
        }
    }

    /// A random well-formed PDU of any SMPP 3.4 type.
    static func randomPDU(_ rng: inout SplitMix64) -> PDU {
        let id = CommandID.allSMPP34.randomElement(using: &rng)!
        let seq = UInt32.random(in: 1...0x7FFF_FFFF, using: &rng)
        var pdu = PDU(id, sequenceNumber: seq)
        func ton() -> TON { TON(UInt8.random(in: 0...6, using: &rng)) }
        func npi() -> NPI { NPI(UInt8.random(in: 0...18, using: &rng)) }
        switch id {
        case .bindReceiver, .bindTransmitter, .bindTransceiver:
            pdu.body = .bind(Bind(systemID: cstr(&rng, max: 16), password: cstr(&rng, max: 9), systemType: cstr(&rng, max: 13),
                                  interfaceVersion: 0x34, addrTON: ton(), addrNPI: npi(), addressRange: cstr(&rng, max: 41)))
        case .bindReceiverResp, .bindTransmitterResp, .bindTransceiverResp:
            pdu.body = .bindResp(BindResp(systemID: cstr(&rng, max: 16)))
        case .outbind: pdu.body = .outbind(Outbind(systemID: cstr(&rng, max: 16), password: cstr(&rng, max: 9)))
        case .submitSM, .deliverSM:
            var m = ShortMessage()
            m.serviceType = cstr(&rng, max: 6); m.sourceAddrTON = ton(); m.sourceAddrNPI = npi(); m.sourceAddr = cstr(&rng, max: 21)
            m.destAddrTON = ton(); m.destAddrNPI = npi(); m.destinationAddr = cstr(&rng, max: 21)
            m.esmClass = ESMClass(UInt8.random(in: 0...255, using: &rng)); m.protocolID = UInt8.random(in: 0...255, using: &rng)
            m.scheduleDeliveryTime = cstr(&rng, max: 17); m.validityPeriod = cstr(&rng, max: 17)
            m.dataCoding = DataCoding(UInt8.random(in: 0...255, using: &rng)); m.shortMessage = bytes(&rng, max: 254)
            pdu.body = .shortMessage(m)
            pdu.tlvs = tlvs(&rng)
            if Bool.random(using: &rng) {
                pdu.tlvs += [TLV(.sarMsgRefNum, uint16: 9), TLV(.sarTotalSegments, uint8: 3), TLV(.sarSegmentSeqnum, uint8: 2)]
            }
            return pdu
        case .submitSMResp, .deliverSMResp, .dataSMResp:
            pdu.body = .messageIDResp(MessageIDResp(messageID: cstr(&rng, max: 65)))
        case .dataSM:
            var d = DataSM()
            d.serviceType = cstr(&rng, max: 6); d.sourceAddr = cstr(&rng, max: 65); d.destinationAddr = cstr(&rng, max: 65)
            d.sourceAddrTON = ton(); d.destAddrNPI = npi(); d.dataCoding = DataCoding(UInt8.random(in: 0...255, using: &rng))
            pdu.body = .dataSM(d)
        case .querySM:
            var q = QuerySM(); q.messageID = cstr(&rng, max: 65); q.sourceAddr = cstr(&rng, max: 21); pdu.body = .querySM(q)
        case .querySMResp:
            var q = QuerySMResp(); q.messageID = cstr(&rng, max: 65); q.finalDate = cstr(&rng, max: 17)
            q.messageState = MessageState(UInt8.random(in: 0...8, using: &rng)); q.errorCode = UInt8.random(in: 0...255, using: &rng)
            pdu.body = .querySMResp(q)
        case .cancelSM:
            var c = CancelSM(); c.serviceType = cstr(&rng, max: 6); c.messageID = cstr(&rng, max: 65)
            c.sourceAddr = cstr(&rng, max: 21); c.destinationAddr = cstr(&rng, max: 21); pdu.body = .cancelSM(c)
        case .replaceSM:
            var m = ReplaceSM(); m.messageID = cstr(&rng, max: 65); m.sourceAddr = cstr(&rng, max: 21)
            m.validityPeriod = cstr(&rng, max: 17); m.shortMessage = bytes(&rng, max: 254); pdu.body = .replaceSM(m)
        case .submitMulti:
            var m = SubmitMulti(); m.sourceAddr = cstr(&rng, max: 21)
            m.destAddresses = (0..<Int.random(in: 0...5, using: &rng)).map { _ in
                Bool.random(using: &rng) ? .sme(ton: ton(), npi: npi(), address: cstr(&rng, max: 21)) : .distributionList(name: cstr(&rng, max: 21))
            }
            m.shortMessage = bytes(&rng, max: 254); pdu.body = .submitMulti(m)
        case .submitMultiResp:
            var m = SubmitMultiResp(); m.messageID = cstr(&rng, max: 65)
            m.unsuccessSMEs = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                UnsuccessSME(destAddrTON: ton(), destAddrNPI: npi(), destinationAddr: cstr(&rng, max: 21), errorStatusCode: CommandStatus(UInt32.random(in: 0...0x4FF, using: &rng)))
            }
            pdu.body = .submitMultiResp(m)
        case .alertNotification:
            var a = AlertNotification(); a.sourceAddr = cstr(&rng, max: 65); a.esmeAddr = cstr(&rng, max: 65); pdu.body = .alertNotification(a)
        default:
            pdu.body = .empty
        }
        pdu.tlvs = tlvs(&rng)
        return pdu
    }

    func testRandomWellFormedPDUsRoundTrip() throws {
        var rng = SplitMix64(state: 0x5EED)
        var stream: [UInt8] = []
        var expected: [PDU] = []
        for _ in 0..<5000 {
            let pdu = Self.randomPDU(&rng)
            let bytes = pdu.encode()
            let back = try PDU.decode(bytes)
            // Header-only responses decode with an empty body: compare on the wire.
            XCTAssertEqual(back.encode(), bytes)
            if case .empty = pdu.body {} else if !(pdu.commandID.isResponse && bytes.count == 16) {
                XCTAssertEqual(back, pdu)
            }
            stream += bytes
            expected.append(back)
        }
        // The same PDUs through the framer in random pieces.
        var d = FrameDecoder()
        var got: [PDU] = []
        var i = 0
        while i < stream.count {
            let n = min(Int.random(in: 1...700, using: &rng), stream.count - i)
            d.append(Array(stream[i..<(i + n)]))
            i += n
            while let p = try d.nextFrame({ try PDU.decode($0) }) { got.append(p) }
        }
        XCTAssertEqual(got, expected)
    }

    func testRandomBytesNeverTrap() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<20000 {
            var b = Self.bytes(&rng, max: 120)
            if b.count >= 8, Bool.random(using: &rng) {
                // Make the header plausible so the body decoders get exercised.
                let n = UInt32(b.count)
                b[0] = UInt8(n >> 24); b[1] = UInt8((n >> 16) & 0xFF); b[2] = UInt8((n >> 8) & 0xFF); b[3] = UInt8(n & 0xFF)
                let id = CommandID.allSMPP34.randomElement(using: &rng)!.rawValue
                b[4] = UInt8(id >> 24); b[5] = UInt8((id >> 16) & 0xFF); b[6] = UInt8((id >> 8) & 0xFF); b[7] = UInt8(id & 0xFF)
            }
            _ = b.withUnsafeBytes { Inspection.describe($0) }
            var d = FrameDecoder()
            d.append(b)
            _ = try? d.nextFrame { f in _ = try? PDU.decode(f) }
        }
    }
}
