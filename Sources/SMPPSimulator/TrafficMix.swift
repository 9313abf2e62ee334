import SMPPWire

/// The realistic OTP traffic the simulator pushes: what aggregators deliver for
/// rented numbers. Deterministic for a seed, so a run can be replayed and its log
/// compared with the database.
public struct TrafficMix: Sendable {
    public var destinations: ClosedRange<UInt64>
    public var multipartRatio: Double
    public var seed: UInt64

    public init(destinations: ClosedRange<UInt64> = 447_700_900_000...447_700_909_999, multipartRatio: Double = 0.2, seed: UInt64 = 1) {
        self.destinations = destinations
        self.multipartRatio = multipartRatio
        self.seed = seed
    }

    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// (sender, TON, text, data coding) templates; `#` marks the code digits.
    static let singles: [(String, TON, String, DataCoding)] = [
        ("WhatsApp", .alphanumeric, "Your WhatsApp code: ###-###. Don't share this code with others", .smscDefault),
        ("Google", .alphanumeric, "G-###### is your Google verification code. Don't share it [€0 fee]", .smscDefault),
        ("Telegram", .alphanumeric, "Код подтверждения Telegram: #####. Никому не давайте код!", .ucs2),
        ("Careem", .alphanumeric, "رمز التحقق الخاص بك هو ####", .ucs2),
        ("WeChat", .alphanumeric, "您的验证码是 ###### 🔐,5分钟内有效", .ucs2),
        ("BancoXYZ", .alphanumeric, "Su código de verificación es ####. Válido 10 min.", .latin1),
        ("Microsoft", .alphanumeric, "Microsoft account security code: ######", .smscDefault),
        ("32665", .unknown, "###### is your Facebook password reset code {ok}", .smscDefault),
        ("Uber", .alphanumeric, "Your Uber code: ####. Never share this code.", .smscDefault),
        ("Amazon", .alphanumeric, "###### is your Amazon OTP. Do not share it with anyone.", .smscDefault),
    ]

    static let longs: [(String, String, DataCoding)] = [
        ("Google", "G-###### is your Google verification code. Google will never ask you for it by phone or chat; if you didn't request it, someone may be trying to access your account. Ignore it.", .smscDefault),
        ("Sberbank", "Код: ######. Никому не сообщайте его. Вход в СберБанк Онлайн с нового устройства 🙂 Если это были не вы, позвоните по номеру 900.", .ucs2),
        ("Amazon", "Amazon: your one-time password is ######. It expires in 10 minutes. Never share it with anyone, including Amazon staff. Amazon will never call you to ask for this code; report any such call.", .smscDefault),
    ]

    /// One message: its PDUs (parts in the order they are sent) and the code it carries.
    public struct Message: Sendable {
        public var id: Int
        public var destination: String
        public var code: String
        /// Each part's PDU bytes with sequence_number 0 (set when sent).
        public var parts: [[UInt8]]
        public var kind: String
    }

    public func message(_ id: Int) -> Message {
        var rng = RNG(state: seed &+ UInt64(id) &* 0x100_0000_01B3)
        let dest = String(UInt64.random(in: destinations, using: &rng))
        func fill(_ t: String) -> (String, String) {
            var code = ""
            var out = ""
            for c in t {
                if c == "#" {
                    let d = Character(String(Int.random(in: 0...9, using: &rng)))
                    code.append(d)
                    out.append(d)
                } else {
                    out.append(c)
                }
            }
            return (out, code)
        }
        if Double.random(in: 0..<1, using: &rng) < multipartRatio {
            let (sender, template, dc) = Self.longs[Int.random(in: 0..<Self.longs.count, using: &rng)]
            let (text, code) = fill(template)
            let ref = UInt16.random(in: 1...0xFFFF, using: &rng)
            let kind = ["udh8", "udh16", "sar", "payload"][Int.random(in: 0..<4, using: &rng)]
            var parts = Self.split(text, dc: dc, kind: kind, ref: ref, sender: sender, dest: dest)
            if parts.count > 1, Bool.random(using: &rng) { parts.reverse() }  // out of order, as SMSCs do
            return Message(id: id, destination: dest, code: code, parts: parts, kind: kind)
        }
        let (sender, ton, template, dc) = Self.singles[Int.random(in: 0..<Self.singles.count, using: &rng)]
        let (text, code) = fill(template)
        let payload = Self.encode(text, dc)
        return Message(id: id, destination: dest, code: code,
                       parts: [Self.pdu(sender: sender, ton: ton, dest: dest, dc: dc, esm: 0, message: payload, tlvs: [])], kind: dc.alphabetName)
    }

    static func encode(_ text: String, _ dc: DataCoding) -> [UInt8] {
        switch dc {
        case .ucs2: UCS2.encode(text)
        case .latin1: text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        default: GSM7.encodeUnpacked(text) ?? Array(text.utf8)
        }
    }

    /// Wire bytes with sequence_number 0 (set when sent).
    static func pdu(sender: String, ton: TON, dest: String, dc: DataCoding, esm: UInt8, message: [UInt8], tlvs: [TLV]) -> [UInt8] {
        PDU.deliverSM(sequenceNumber: 0, sourceAddr: sender, sourceAddrTON: ton, destinationAddr: dest,
                      dataCoding: dc, esmClass: ESMClass(esm), shortMessage: message, tlvs: tlvs).encode()
    }

    /// Splits bytes (not characters: a surrogate pair or an escape may be cut, as real SMSCs do).
    static func split(_ text: String, dc: DataCoding, kind: String, ref: UInt16, sender: String, dest: String) -> [[UInt8]] {
        let bytes = encode(text, dc)
        if kind == "payload" {
            return [pdu(sender: sender, ton: .alphanumeric, dest: dest, dc: dc, esm: 0, message: [], tlvs: [TLV(.messagePayload, bytes)])]
        }
        let chunk = kind == "udh16" ? 132 : 134
        var chunks: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            chunks.append(Array(bytes[i..<min(bytes.count, i + chunk)]))
            i += chunk
        }
        let total = UInt8(chunks.count)
        return chunks.enumerated().map { (n, c) in
            let seq = UInt8(n + 1)
            switch kind {
            case "udh8":
                return pdu(sender: sender, ton: .alphanumeric, dest: dest, dc: dc, esm: 0x40, message: [5, 0, 3, UInt8(ref & 0xFF), total, seq] + c, tlvs: [])
            case "udh16":
                return pdu(sender: sender, ton: .alphanumeric, dest: dest, dc: dc, esm: 0x40, message: [6, 8, 4, UInt8(ref >> 8), UInt8(ref & 0xFF), total, seq] + c, tlvs: [])
            default:
                return pdu(sender: sender, ton: .alphanumeric, dest: dest, dc: dc, esm: 0, message: c,
                           tlvs: [TLV(.sarMsgRefNum, uint16: ref), TLV(.sarTotalSegments, uint8: total), TLV(.sarSegmentSeqnum, uint8: seq)])
            }
        }
    }
}
