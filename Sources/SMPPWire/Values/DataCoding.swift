/// `data_coding`, SMPP 3.4 §5.2.19, read together with the GSM 03.38 (3GPP TS 23.038 §4) DCS groups.
///
/// SMPP gives 0x00–0x0F its own meanings (IA5, Latin-1, JIS, …); values with the
/// high nibble set follow the GSM DCS coding groups. The raw octet is always kept:
/// the store records it as received, and an unknown value is decoded as binary
/// rather than guessed.
public struct DataCoding: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// SMSC default alphabet (0x00). Which alphabet that is depends on the SMSC; the
    /// bridge takes GSM 7-bit unless a carrier is configured otherwise.
    public static let smscDefault = DataCoding(0x00)
    /// IA5, CCITT T.50 / ASCII (0x01).
    public static let ia5 = DataCoding(0x01)
    /// Octet unspecified, 8-bit binary (0x02).
    public static let binary = DataCoding(0x02)
    /// Latin-1, ISO-8859-1 (0x03).
    public static let latin1 = DataCoding(0x03)
    /// Octet unspecified, 8-bit binary (0x04).
    public static let binary2 = DataCoding(0x04)
    /// JIS, X 0208-1990 (0x05).
    public static let jis = DataCoding(0x05)
    /// Cyrillic, ISO-8859-5 (0x06).
    public static let cyrillic = DataCoding(0x06)
    /// Latin/Hebrew, ISO-8859-8 (0x07).
    public static let latinHebrew = DataCoding(0x07)
    /// UCS2, ISO/IEC-10646, sent as UTF-16BE (0x08).
    public static let ucs2 = DataCoding(0x08)
    /// Pictogram encoding (0x09).
    public static let pictogram = DataCoding(0x09)
    /// ISO-2022-JP, music codes (0x0A).
    public static let iso2022JP = DataCoding(0x0A)
    /// Extended Kanji JIS, X 0212-1990 (0x0D).
    public static let extendedKanji = DataCoding(0x0D)
    /// KS C 5601 (0x0E).
    public static let ksc5601 = DataCoding(0x0E)

    /// The character set the payload is written in.
    public enum Alphabet: Hashable, Sendable {
        /// The SMSC default alphabet (only from 0x00); resolved through configuration.
        case smscDefault
        /// GSM 03.38 7-bit default alphabet (from a GSM DCS group).
        case gsm7
        case ia5
        case latin1
        case cyrillic
        case latinHebrew
        case ucs2
        case binary
        case jis
        case pictogram
        case iso2022JP
        case extendedKanji
        case ksc5601
        /// A reserved value: decoded as binary, kept as received.
        case reserved
    }

    /// GSM 03.38 message class (bits 1-0 when the DCS says the class is meaningful).
    public enum MessageClass: UInt8, Hashable, Sendable {
        case class0 = 0, class1, class2, class3
    }

    /// The alphabet this octet selects.
    public var alphabet: Alphabet {
        let v = rawValue
        switch v {
        case 0x00: return .smscDefault
        case 0x01: return .ia5
        case 0x02, 0x04: return .binary
        case 0x03: return .latin1
        case 0x05: return .jis
        case 0x06: return .cyrillic
        case 0x07: return .latinHebrew
        case 0x08: return .ucs2
        case 0x09: return .pictogram
        case 0x0A: return .iso2022JP
        case 0x0B, 0x0C, 0x0F: return .reserved
        case 0x0D: return .extendedKanji
        case 0x0E: return .ksc5601
        default: break
        }
        switch v >> 4 {
        case 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7:
            // General data coding / automatic deletion groups: bits 3-2 give the alphabet.
            // Compressed text (bit 5) cannot be read without the compression algorithm.
            if v & 0x20 != 0 { return .binary }
            switch (v >> 2) & 0x03 {
            case 0: return .gsm7
            case 1: return .binary
            case 2: return .ucs2
            default: return .reserved
            }
        case 0xC, 0xD: return .gsm7  // message waiting indication, discard / store
        case 0xE: return .ucs2  // message waiting indication, store, UCS2
        case 0xF: return v & 0x04 == 0 ? .gsm7 : .binary  // data coding / message class
        default: return .reserved  // 0x8_ to 0xB_: reserved coding groups
        }
    }

    /// True when bit 5 of a general data coding group marks the text as compressed.
    public var isCompressed: Bool { (0x10...0x7F).contains(rawValue) && rawValue & 0x20 != 0 }

    /// The message class, when this DCS carries one.
    public var messageClass: MessageClass? {
        let v = rawValue
        if (0x10...0x7F).contains(v), v & 0x10 != 0 { return MessageClass(rawValue: v & 0x03) }
        if v >> 4 == 0xF { return MessageClass(rawValue: v & 0x03) }
        return nil
    }

    /// A short stable name for metrics and the decode tool (`gsm7`, `ucs2`, …).
    public var alphabetName: String {
        switch alphabet {
        case .smscDefault: "smsc_default"
        case .gsm7: "gsm7"
        case .ia5: "ia5"
        case .latin1: "latin1"
        case .cyrillic: "cyrillic"
        case .latinHebrew: "latin_hebrew"
        case .ucs2: "ucs2"
        case .binary: "binary"
        case .jis: "jis"
        case .pictogram: "pictogram"
        case .iso2022JP: "iso2022jp"
        case .extendedKanji: "extended_kanji"
        case .ksc5601: "ksc5601"
        case .reserved: "reserved"
        }
    }
}
