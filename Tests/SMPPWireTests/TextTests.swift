import SMPPWire
import XCTest

final class TextTests: XCTestCase {
    func testGSM7DefaultAndExtensionRoundTrip() {
        let text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà€[]{}~^\\|\u{0C}"
        let septets = GSM7.encodeUnpacked(text)!
        XCTAssertEqual(TextDecoder.decode(septets, dataCoding: .smscDefault).text, text)
        XCTAssertNil(GSM7.encodeUnpacked("Код"))
    }

    func testPackUnpackRoundTripForEveryLength() {
        var rng = SplitMix64(state: 3)
        for n in 0...160 {
            let septets = (0..<n).map { _ in UInt8.random(in: 1...0x7F, using: &rng) }
            let packed = GSM7.pack(septets)
            XCTAssertEqual(packed.count, (n * 7 + 7) / 8)
            XCTAssertEqual(packed.withUnsafeBytes { GSM7.unpack($0) }, septets, "n=\(n)")
        }
    }

    func testPackedWithUDHFillBits() {
        // A 6-octet UDH takes 48 bits: 1 fill bit brings the text to the septet boundary at 49.
        let udh: [UInt8] = [5, 0, 3, 1, 2, 1]
        let septets = GSM7.encodeUnpacked("hello world")!
        let packedText = GSM7.pack(septets, fillBits: 1)
        var payload = udh + packedText.dropFirst(0)
        // Merge: the text's first octet shares nothing with the UDH (fill bit is bit 0 of octet 6).
        payload = udh + packedText
        let t = TextDecoder.decode(payload, dataCoding: .smscDefault, udhi: true, options: TextOptions(smscDefaultAlphabet: .gsm7Packed))
        XCTAssertEqual(t.text, "hello world")
    }

    func testUCS2RoundTripIncludingSurrogates() {
        for s in ["Код 12345", "رمز 6604", "验证码 918273", "🔐🙂👍🏽", "mixed é 🙂 Ω"] {
            XCTAssertEqual(TextDecoder.decode(UCS2.encode(s), dataCoding: .ucs2).text, s)
            XCTAssertFalse(TextDecoder.decode(UCS2.encode(s), dataCoding: .ucs2).hadInvalidInput)
        }
        // A lone low surrogate.
        let t = TextDecoder.decode([0xDC, 0x00, 0x00, 0x41], dataCoding: .ucs2)
        XCTAssertEqual(t.text, "\u{FFFD}A")
        XCTAssertTrue(t.hadInvalidInput)
    }

    func testNationalTablesSpotChecks() {
        // Turkish locking shift: 0x07 ı, 0x40 İ, 0x60 ç.
        func locking(_ lang: UInt8, _ codes: [UInt8]) -> String {
            TextDecoder.decode([3, 0x25, 1, lang] + codes, dataCoding: .smscDefault, udhi: true).text
        }
        XCTAssertEqual(locking(1, [0x07, 0x40, 0x60]), "ıİç")
        // Portuguese locking shift: 0x13 Ç, 0x15 ∞, 0x7B ã, 0x60 ~.
        XCTAssertEqual(locking(3, [0x13, 0x15, 0x7B, 0x60]), "Ç∞ã~")
        // Spanish has no locking table: the default alphabet applies.
        XCTAssertEqual(locking(2, [0x7B]), "ä")
        // An unknown language falls back to default and flags it.
        let unknown = TextDecoder.decode([3, 0x25, 1, 0x40, 0x41], dataCoding: .smscDefault, udhi: true)
        XCTAssertEqual(unknown.text, "A")
        XCTAssertTrue(unknown.hadInvalidInput)
        // An escape to a code the single-shift table lacks shows the default character.
        XCTAssertEqual(TextDecoder.decode([0x1B, 0x41], dataCoding: .smscDefault).text, "A")
    }

    func testSingleByteSets() {
        XCTAssertEqual(TextDecoder.decode([0xB0, 0xD0, 0xF0, 0xA1], dataCoding: .cyrillic).text, "Аа№Ё")
        XCTAssertEqual(TextDecoder.decode([0xE0, 0xFA, 0xAA], dataCoding: .latinHebrew).text, "את×")
        XCTAssertTrue(TextDecoder.decode([0xA1], dataCoding: .latinHebrew).hadInvalidInput)
        XCTAssertTrue(TextDecoder.decode([0x80], dataCoding: .ia5).hadInvalidInput)
        XCTAssertEqual(TextDecoder.decode([0xE9], dataCoding: .latin1).text, "é")
    }

    func testRandomBytesInEveryCodingNeverTrap() {
        var rng = SplitMix64(state: 11)
        for _ in 0..<5000 {
            let b = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let dc = DataCoding(UInt8.random(in: 0...255, using: &rng))
            for alphabet in SMSCDefaultAlphabet.allCases {
                _ = TextDecoder.decode(b, dataCoding: dc, udhi: Bool.random(using: &rng), options: TextOptions(smscDefaultAlphabet: alphabet))
            }
        }
    }

    func testDeliveryReceiptVariants() throws {
        let r = try XCTUnwrap(DeliveryReceipt("id:123 sub:001 dlvrd:001 submit date:2611250101 done date:2611250102 stat:DELIVRD err:000 text:hello world"))
        XCTAssertEqual(r.id, "123")
        XCTAssertEqual(r.submitDate, "2611250101")
        XCTAssertEqual(r.state, .delivered)
        XCTAssertEqual(r.text, "hello world")
        let odd = try XCTUnwrap(DeliveryReceipt("stat:UNDELIV  id:ab-cd err:0x1F"))
        XCTAssertEqual(odd.id, "ab-cd")
        XCTAssertEqual(odd.state, .undeliverable)
        XCTAssertEqual(odd.err, "0x1F")
        XCTAssertNil(DeliveryReceipt("Your code is 1234"))
    }

    func testTypedTLVAccessors() throws {
        let pdu = PDU(.deliverSM, sequenceNumber: 1, body: .shortMessage(ShortMessage()), tlvs: [
            TLV(.receiptedMessageID, cString: "abc"), TLV(.messageState, uint8: 2), TLV(.networkErrorCode, [3, 0x00, 0x22]),
            TLV(.sarMsgRefNum, uint16: 0xBEEF), TLV(.sarTotalSegments, uint8: 3), TLV(.sarSegmentSeqnum, uint8: 1),
        ])
        let bytes = pdu.encode()
        try bytes.withUnsafeBytes { p in
            let v = try ShortMessageView(validating: p)
            XCTAssertEqual(v.tlvs.receiptedMessageID, "abc")
            XCTAssertEqual(v.tlvs.messageState, .delivered)
            XCTAssertEqual(v.tlvs.networkErrorCode, NetworkErrorCode(networkType: 3, errorCode: 0x22))
            XCTAssertEqual(v.tlvs.sar, SARInfo(msgRefNum: 0xBEEF, totalSegments: 3, segmentSeqnum: 1))
            XCTAssertEqual(v.tlvs.count, 6)
        }
        XCTAssertEqual(pdu.tlvs.sar?.msgRefNum, 0xBEEF)
    }
}
