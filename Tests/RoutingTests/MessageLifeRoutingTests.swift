import Foundation
import Routing
import SMPPWire
import Testing

/// Dedup keys, receipts and malformed PDUs kept as evidence, below the store.
@Suite struct DedupKeyTests {
    /// The key is the first 128 bits of SHA-256 over the length-prefixed fields,
    /// checked against Python's hashlib (an independent implementation):
    /// `sha256(f(b'm')+f(b'c1')+f(b'WhatsApp')+f(b'447700900123')+bytes([dc])+ref+f(b'abc'))`.
    @Test(arguments: [
        (UInt8(0), nil as (UInt16, UInt8, UInt8)?, "1b1177f1b28410dce330b06629d176b6"),
        (UInt8(8), (UInt16(0x1234), UInt8(16), UInt8(3)), "f43844a8c9796bbecfc05e8b4e1a6471"),
    ] as [(UInt8, (UInt16, UInt8, UInt8)?, String)])
    func sha256Vector(dataCoding: UInt8, reference: (UInt16, UInt8, UInt8)?, expected: String) {
        let payload: [UInt8] = Array("abc".utf8)
        let key = payload.withUnsafeBytes {
            DedupKey.message(carrier: "c1", source: "WhatsApp", destination: "447700900123", dataCoding: dataCoding, payload: $0,
                             reference: reference)
        }
        #expect(key.hex == expected)
    }

    @Test func fieldBoundariesMatter() {
        let empty: [UInt8] = []
        let a = empty.withUnsafeBytes { DedupKey.message(carrier: "c1", source: "ab", destination: "c", dataCoding: 0, payload: $0, reference: nil) }
        let b = empty.withUnsafeBytes { DedupKey.message(carrier: "c1", source: "a", destination: "bc", dataCoding: 0, payload: $0, reference: nil) }
        #expect(a != b)
    }
}

/// A deliver_sm as an SMSC sends it: GSM 7-bit text after an optional UDH.
func pdu(esm: UInt8 = 0, text: String, tlvs: [TLV] = [], source: String = "Microsoft", to: String = "447700900123",
         destTON: TON = .international, sequence: UInt32 = 1, udh: [UInt8] = []) -> [UInt8] {
    var m = ShortMessage()
    m.sourceAddrTON = .alphanumeric
    m.sourceAddr = COctetString(source)
    m.destAddrTON = destTON
    m.destAddrNPI = .isdn
    m.destinationAddr = COctetString(to)
    m.esmClass = ESMClass(esm)
    m.shortMessage = udh + GSM7.encodeUnpacked(text)!
    return PDU(.deliverSM, sequenceNumber: sequence, body: .shortMessage(m), tlvs: tlvs).encode()
}

func leasedRouter(service: String = "microsoft") -> SessionRouter {
    let table = LeaseTable()
    let now = UInt32(Date().timeIntervalSince1970)
    table.upsert(MSISDNKey("447700900123")!, Lease(orderID: 77, service: table.serviceID(service), startsAt: now - 600, expiresAt: now + 600, version: 1))
    return SessionRouter(carrier: CarrierProfile(name: "c1", plan: .uk), table: table, reassembler: Reassembler(), extractor: OTPExtractor())
}

func decide(_ bytes: [UInt8], _ router: SessionRouter) -> RoutingDecision {
    bytes.withUnsafeBytes { b in
        let v = try! ShortMessageView(validating: b)
        var ev: [InboundMessage] = []
        guard case .message(let m) = router.accept(v, receivedAt: UInt64(Date().timeIntervalSince1970 * 1000), evicted: &ev) else {
            fatalError("not a whole message")
        }
        return router.decide(m)
    }
}

@Suite struct ReceiptTests {
    /// Every receipt-like esm_class, and a plain one with receipted_message_id: outcome
    /// receipt, never a code, never routed, even with digits in the text and a lease.
    @Test(arguments: [
        (UInt8(0x04), [TLV]()),  // SMSC delivery receipt
        (UInt8(0x08), [TLV]()),  // SME delivery acknowledgement
        (UInt8(0x20), [TLV]()),  // intermediate delivery notification
        (UInt8(0x00), [TLV(.receiptedMessageID, Array("1A2B3C\0".utf8))]),
    ])
    func receiptIsNotAnSMS(esm: UInt8, tlvs: [TLV]) {
        let text = "id:1A2B3C sub:001 dlvrd:001 submit date:2612060518 done date:2612060519 stat:DELIVRD err:000 text:Your code is 4821"
        let d = decide(pdu(esm: esm, text: text, tlvs: tlvs), leasedRouter())
        #expect(d.outcome == .receipt)
        #expect(d.code == nil)
        #expect(d.orderID == nil)
        #expect(d.receipt == ReceiptFields(messageID: "1A2B3C", stat: "DELIVRD", err: "000"))
    }

    @Test func tlvsWinOverTheBody() {
        let tlvs = [TLV(.receiptedMessageID, Array("ff01\0".utf8)), TLV(.messageState, [5])]
        let d = decide(pdu(esm: 0x04, text: "no fields here", tlvs: tlvs), leasedRouter())
        #expect(d.receipt == ReceiptFields(messageID: "ff01", stat: "UNDELIV", err: nil))
    }

    @Test func anOrdinarySMSIsRouted() {
        let d = decide(pdu(text: "Use 8568 as Microsoft account security code"), leasedRouter())
        #expect(d.outcome == .routed)
        #expect(d.code == "8568")
        #expect(d.receipt == nil)
    }
}

/// Malformed deliver_sm and data_sm fixtures: what `SalvagedMessage` reads agrees with
/// Wireshark's decode of the same bytes, wherever Wireshark decoded the field.
@Suite struct SalvageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("protocol-fixtures/malformed")

    static var fixtures: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .filter { ($0.hasPrefix("deliver_sm-") || $0.hasPrefix("data_sm-")) && $0.hasSuffix(".json") }.sorted()
    }

    @Test(arguments: fixtures)
    func salvagedFieldsAgreeWithWireshark(_ name: String) throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent(name))) as! [String: Any]
        let hex = json["hex"] as! String
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        let s = bytes.withUnsafeBytes { SalvagedMessage(pdu: $0) }
        let shark = ((json["tshark"] as? [String: Any])?["pdus"] as? [[String: Any]])?.first ?? [:]
        if let src = shark["source_addr"] as? String { #expect(String(decoding: s.sourceAddr, as: UTF8.self) == src) }
        if let dst = shark["destination_addr"] as? String { #expect(String(decoding: s.destinationAddr, as: UTF8.self) == dst) }
        if let dc = shark["data_coding"] as? String { #expect(s.dataCoding.rawValue == UInt8(dc.dropFirst(2), radix: 16)) }
        // And the router keeps it with its reason and a key over the body.
        let router = leasedRouter()
        let d = bytes.withUnsafeBytes { router.invalid(pdu: $0, reason: "x", receivedAt: 1) }
        #expect(d.outcome == .invalid && d.invalidReason == "x" && d.code == nil && d.orderID == nil)
        var again = bytes
        again[15] &+= 1  // another sequence number: a redelivery has the same key
        #expect(again.withUnsafeBytes { router.invalid(pdu: $0, reason: "x", receivedAt: 2) }.dedupKey == d.dedupKey)
    }
}
