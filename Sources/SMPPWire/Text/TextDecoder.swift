/// What the carrier's "SMSC default alphabet" (data_coding 0) really is. SMSCs
/// disagree; the bridge takes GSM 7-bit unpacked unless a carrier says otherwise.
public enum SMSCDefaultAlphabet: String, Hashable, Sendable, CaseIterable {
    /// GSM 03.38, one septet per octet: what almost every SMPP SMSC sends.
    case gsm7 = "gsm7"
    /// GSM 03.38 packed 8-into-7, as on the air interface; some SMSCs pass it through.
    case gsm7Packed = "gsm7-packed"
    /// IA5 / ASCII.
    case ia5 = "ia5"
    /// ISO-8859-1.
    case latin1 = "latin1"
}

/// Per-carrier text options.
public struct TextOptions: Hashable, Sendable {
    public var smscDefaultAlphabet: SMSCDefaultAlphabet
    /// GSM7 from a GSM DCS group (not data_coding 0): packed or not. SMPP normally
    /// carries it unpacked; the option exists for gateways that do not.
    public var gsm7Packed: Bool

    public init(smscDefaultAlphabet: SMSCDefaultAlphabet = .gsm7, gsm7Packed: Bool = false) {
        self.smscDefaultAlphabet = smscDefaultAlphabet
        self.gsm7Packed = gsm7Packed
    }
    public static let `default` = TextOptions()
}

/// Decoded text, with what went wrong on the way. Invalid input never traps: a
/// byte that has no meaning decodes to U+FFFD and `hadInvalidInput` is set, so
/// the message is still stored and a human can look at the raw PDU.
public struct DecodedText: Hashable, Sendable {
    public enum Encoding: String, Hashable, Sendable {
        case gsm7, gsm7Packed = "gsm7_packed", ia5, latin1, cyrillic, latinHebrew = "latin_hebrew", ucs2, binary
        /// A registered character set this bridge cannot decode (JIS, KS C 5601, …): kept as binary.
        case unsupported
    }
    public var text: String
    public var encoding: Encoding
    public var hadInvalidInput: Bool
    /// True when the content is not text (binary data coding or an unsupported set).
    public var isBinary: Bool { encoding == .binary || encoding == .unsupported }

    public init(text: String, encoding: Encoding, hadInvalidInput: Bool) {
        self.text = text
        self.encoding = encoding
        self.hadInvalidInput = hadInvalidInput
    }
}

/// Turns user-data octets into text according to data_coding.
public enum TextDecoder {
    public static let replacement: Unicode.Scalar = "\u{FFFD}"

    public static func decode(userData: UserData, dataCoding: DataCoding, options: TextOptions = .default)
        -> DecodedText
    {
        let body = userData.body
        switch dataCoding.alphabet {
        case .smscDefault:
            switch options.smscDefaultAlphabet {
            case .gsm7: return gsm7(body, userData: userData, packed: false)
            case .gsm7Packed: return gsm7(userData.payload, userData: userData, packed: true)
            case .ia5: return ia5(body)
            case .latin1: return latin1(body)
            }
        case .gsm7:
            return options.gsm7Packed
                ? gsm7(userData.payload, userData: userData, packed: true)
                : gsm7(body, userData: userData, packed: false)
        case .ia5: return ia5(body)
        case .latin1: return latin1(body)
        case .cyrillic: return singleByte(body, encoding: .cyrillic, map: iso8859_5)
        case .latinHebrew: return singleByte(body, encoding: .latinHebrew, map: iso8859_8)
        case .ucs2: return ucs2(body)
        case .binary, .reserved: return DecodedText(text: "", encoding: .binary, hadInvalidInput: false)
        case .jis, .pictogram, .iso2022JP, .extendedKanji, .ksc5601:
            return DecodedText(text: "", encoding: .unsupported, hadInvalidInput: false)
        }
    }

    /// Decodes user-data bytes joined from several parts (no UDH inside), with the
    /// national language shifts the parts' UDHs announced. Reassembly uses this so a
    /// UCS2 surrogate pair or a GSM escape split across parts decodes right.
    public static func decode(
        joined bytes: UnsafeRawBufferPointer, dataCoding: DataCoding, lockingShift: NationalLanguage?,
        singleShift: NationalLanguage?, options: TextOptions = .default
    ) -> DecodedText {
        let gsm: Bool
        switch dataCoding.alphabet {
        case .gsm7: gsm = true
        case .smscDefault: gsm = options.smscDefaultAlphabet == .gsm7 || options.smscDefaultAlphabet == .gsm7Packed
        default: gsm = false
        }
        guard gsm else { return decode(bytes, dataCoding: dataCoding, options: options) }
        let locking = lockingShift ?? .default
        let single = singleShift ?? locking
        var invalid = false
        let lockTable = locking.lockingTable ?? { invalid = true; return GSMTables.defaultAlphabetValues }()
        let shiftTable = single.singleShiftTable ?? { invalid = true; return GSMTables.defaultExtensionDense }()
        return gsm7Septets(bytes, lock: lockTable, shift: shiftTable, packed: false, invalid: invalid)
    }

    /// Decodes raw bytes with no UDH.
    public static func decode(_ bytes: UnsafeRawBufferPointer, dataCoding: DataCoding, options: TextOptions = .default)
        -> DecodedText
    {
        decode(userData: UserData(bytes, udhi: false), dataCoding: dataCoding, options: options)
    }

    public static func decode(_ bytes: [UInt8], dataCoding: DataCoding, udhi: Bool = false, options: TextOptions = .default)
        -> DecodedText
    {
        bytes.withUnsafeBytes {
            decode(userData: UserData($0, udhi: udhi), dataCoding: dataCoding, options: options)
        }
    }

    // MARK: GSM 7-bit

    /// `source` is the unpacked body, or for packed text the whole payload (the
    /// UDH and its fill bits are skipped by septet arithmetic).
    static func gsm7(_ source: UnsafeRawBufferPointer, userData: UserData, packed: Bool) -> DecodedText {
        let locking = userData.lockingShift ?? .default
        let single = userData.singleShift ?? locking
        var invalid = false
        let lockTable = locking.lockingTable ?? { invalid = true; return GSMTables.defaultAlphabetValues }()
        let shiftTable = single.singleShiftTable ?? { invalid = true; return GSMTables.defaultExtensionDense }()
        if packed {
            let skip = userData.headerLength == 0 ? 0 : ((userData.headerLength * 8 + 6) / 7) * 7
            let septets = GSM7.unpack(source, skipBits: skip)
            return septets.withUnsafeBytes {
                gsm7Septets($0, lock: lockTable, shift: shiftTable, packed: true, invalid: invalid)
            }
        }
        return gsm7Septets(source, lock: lockTable, shift: shiftTable, packed: false, invalid: invalid)
    }

    static func gsm7Septets(
        _ s: UnsafeRawBufferPointer, lock lockArray: [UInt32], shift shiftArray: [UInt32], packed: Bool, invalid initialInvalid: Bool
    ) -> DecodedText {
        var invalid = initialInvalid
        let text = lockArray.withUnsafeBufferPointer { lock in
            shiftArray.withUnsafeBufferPointer { shift in
                String(unsafeUninitializedCapacity: s.count * 3 + 3) { out in
                    var w = 0
                    var i = 0
                    let n = s.count
                    while i < n {
                        let b = s[i]
                        i += 1
                        var scalar: UInt32
                        if b >= 0x80 {
                            scalar = replacement.value
                            invalid = true
                        } else if b == 0x1B {
                            if i < n, s[i] < 0x80, s[i] != 0x1B {
                                let e = s[i]
                                i += 1
                                let m = shift[Int(e)]
                                // 23.038 §6.2.1.1: a code missing from the extension table shows
                                // as the default-table character.
                                scalar = m != 0 ? m : lock[Int(e)]
                            } else {
                                // Lone escape at the end, or 0x1B 0x1B (reserved): show a space, flag it.
                                scalar = 0x20
                                invalid = true
                                if i < n, s[i] == 0x1B { i += 1 }
                            }
                        } else {
                            scalar = lock[Int(b)]
                        }
                        if scalar < 0x80 {
                            out[w] = UInt8(truncatingIfNeeded: scalar)
                            w += 1
                        } else {
                            w += writeUTF8(scalar, into: out, at: w)
                        }
                    }
                    return w
                }
            }
        }
        return DecodedText(text: text, encoding: packed ? .gsm7Packed : .gsm7, hadInvalidInput: invalid)
    }

    // MARK: Single-byte sets

    static func ia5(_ s: UnsafeRawBufferPointer) -> DecodedText {
        singleByte(s, encoding: .ia5) { $0 < 0x80 ? UInt32($0) : nil }
    }

    static func latin1(_ s: UnsafeRawBufferPointer) -> DecodedText {
        singleByte(s, encoding: .latin1) { UInt32($0) }
    }

    /// ISO-8859-5: Cyrillic in 0xA1–0xFF, with №, § and the soft hyphen at fixed spots.
    static func iso8859_5(_ b: UInt8) -> UInt32? {
        switch b {
        case 0..<0xA1, 0xAD: UInt32(b)
        case 0xF0: 0x2116
        case 0xFD: 0xA7
        default: 0x0400 + UInt32(b - 0xA0)
        }
    }

    /// ISO-8859-8: Latin-1 punctuation, Hebrew letters in 0xE0–0xFA, direction marks.
    static func iso8859_8(_ b: UInt8) -> UInt32? {
        switch b {
        case 0..<0xA1: UInt32(b)
        case 0xA1: nil
        case 0xAA: 0xD7
        case 0xBA: 0xF7
        case 0xA2...0xBE: UInt32(b)
        case 0xDF: 0x2017
        case 0xE0...0xFA: 0x05D0 + UInt32(b - 0xE0)
        case 0xFD: 0x200E
        case 0xFE: 0x200F
        default: nil
        }
    }

    static func singleByte(_ s: UnsafeRawBufferPointer, encoding: DecodedText.Encoding, map: (UInt8) -> UInt32?)
        -> DecodedText
    {
        var invalid = false
        let text = String(unsafeUninitializedCapacity: s.count * 3) { out in
            var w = 0
            for b in s {
                let v: UInt32
                if let m = map(b) { v = m } else { v = replacement.value; invalid = true }
                w += writeUTF8(v, into: out, at: w)
            }
            return w
        }
        return DecodedText(text: text, encoding: encoding, hadInvalidInput: invalid)
    }

    // MARK: UCS2 / UTF-16BE

    /// UCS2 as UTF-16BE. Surrogate pairs decode to one scalar (handsets send emoji
    /// this way); an unpaired surrogate or a dangling odd byte becomes U+FFFD.
    static func ucs2(_ s: UnsafeRawBufferPointer) -> DecodedText {
        var invalid = s.count % 2 != 0
        let units = s.count / 2
        let text = String(unsafeUninitializedCapacity: units * 3 + 3) { out in
            var w = 0
            var i = 0
            while i < units {
                let u = UInt32(s[2 * i]) << 8 | UInt32(s[2 * i + 1])
                i += 1
                var v = u
                if (0xD800...0xDBFF).contains(u) {
                    if i < units {
                        let l = UInt32(s[2 * i]) << 8 | UInt32(s[2 * i + 1])
                        if (0xDC00...0xDFFF).contains(l) {
                            v = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00)
                            i += 1
                        } else {
                            v = replacement.value
                            invalid = true
                        }
                    } else {
                        v = replacement.value
                        invalid = true
                    }
                } else if (0xDC00...0xDFFF).contains(u) {
                    v = replacement.value
                    invalid = true
                }
                w += writeUTF8(v, into: out, at: w)
            }
            if s.count % 2 != 0 { w += writeUTF8(replacement.value, into: out, at: w) }
            return w
        }
        return DecodedText(text: text, encoding: .ucs2, hadInvalidInput: invalid)
    }

    @inline(__always)
    static func writeUTF8(_ v: UInt32, into out: UnsafeMutableBufferPointer<UInt8>, at w: Int) -> Int {
        if v < 0x80 {
            out[w] = UInt8(v)
            return 1
        } else if v < 0x800 {
            out[w] = UInt8(0xC0 | (v >> 6))
            out[w + 1] = UInt8(0x80 | (v & 0x3F))
            return 2
        } else if v < 0x10000 {
            out[w] = UInt8(0xE0 | (v >> 12))
            out[w + 1] = UInt8(0x80 | ((v >> 6) & 0x3F))
            out[w + 2] = UInt8(0x80 | (v & 0x3F))
            return 3
        } else {
            out[w] = UInt8(0xF0 | (v >> 18))
            out[w + 1] = UInt8(0x80 | ((v >> 12) & 0x3F))
            out[w + 2] = UInt8(0x80 | ((v >> 6) & 0x3F))
            out[w + 3] = UInt8(0x80 | (v & 0x3F))
            return 4
        }
    }
}

/// UCS2 encoding helper for the simulator and tests: UTF-16BE, surrogates included.
public enum UCS2 {
    public static func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for u in text.utf16 {
            out.append(UInt8(u >> 8))
            out.append(UInt8(u & 0xFF))
        }
        return out
    }
}
