// libFuzzer entry point: framing, then full decode of every frame (owned PDU and
// the zero-copy views), TLV walks and text decoding in every alphabet. Built by
// run.sh together with the SMPPWire sources, with -sanitize=fuzzer,address.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard !input.isEmpty else { return 0 }
    // The first byte picks how the stream is cut into reads, to fuzz the framer's buffering.
    let chunk = Int(input[0]) + 1
    let data = UnsafeRawBufferPointer(rebasing: input[1...])
    var framer = FrameDecoder(limits: FrameLimits(maximumCommandLength: 4096), initialCapacity: 64)
    var offset = 0
    while offset < data.count {
        let n = min(chunk, data.count - offset)
        framer.append(UnsafeRawBufferPointer(rebasing: data[offset..<(offset + n)]))
        offset += n
        while true {
            let got = try? framer.nextFrame { frame -> Bool in
                exercise(frame)
                return true
            }
            if got == nil { break }
        }
        if framer.failed != nil { break }
    }
    // The same bytes as text in every coding, with and without a UDH.
    for dc in [0x00, 0x01, 0x03, 0x06, 0x07, 0x08, 0xF0, 0x11] as [UInt8] {
        _ = TextDecoder.decode(userData: UserData(data, udhi: true), dataCoding: DataCoding(dc))
        _ = TextDecoder.decode(userData: UserData(data, udhi: false), dataCoding: DataCoding(dc),
                               options: TextOptions(smscDefaultAlphabet: .gsm7Packed))
    }
    _ = data.count < 400 ? DeliveryReceipt(String(decoding: data, as: UTF8.self)) : nil
    return 0
}

func exercise(_ frame: PDUFrame) {
    if let pdu = try? PDU.decode(frame) {
        let again = pdu.encode()
        if again.count <= 4096, !frame.bytes.elementsEqual(again) {
            // Round trip must hold for whatever decodes.
            fatalError("round trip mismatch for \(frame.commandID)")
        }
    }
    switch frame.commandID {
    case .deliverSM, .submitSM:
        if let v = try? ShortMessageView(frame) {
            var n = 0
            for t in v.tlvs { n &+= t.value.count }
            _ = v.decodeText()
            _ = v.userData.concatenation
            _ = v.tlvs.sar
            _ = v.tlvs.receiptedMessageID
            _ = n
        }
    case .dataSM:
        if let v = try? DataSMView(frame) {
            _ = v.decodeText(options: TextOptions(smscDefaultAlphabet: .latin1))
        }
    default:
        break
    }
    _ = Inspection.describe(frame.bytes)
}
