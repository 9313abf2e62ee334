/// GSM 03.38 / 3GPP TS 23.038 character tables.
///
/// Each locking-shift table is written column by column, as the spec prints it
/// (column = high 3 bits of the septet, row = low 4 bits), so it can be checked
/// against the spec's grid by eye. 0x1B is the escape to the single-shift table
/// and maps to nothing here. Single-shift tables list only the codes they define.
enum GSMTables {
    static let escape: UInt8 = 0x1B

    /// Builds a 128-entry table from 8 columns of 16 characters.
    static func grid(_ columns: [[Unicode.Scalar]]) -> [Unicode.Scalar] {
        precondition(columns.count == 8 && columns.allSatisfy { $0.count == 16 })
        var t = [Unicode.Scalar](repeating: " ", count: 128)
        for c in 0..<8 { for r in 0..<16 { t[c * 16 + r] = columns[c][r] } }
        return t
    }

    static func col(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static let lf: Unicode.Scalar = "\n"
    static let cr: Unicode.Scalar = "\r"
    static let esc: Unicode.Scalar = "\u{1B}"
    static let digits = col("0123456789:;<=>?")

    /// §6.2.1 GSM 7 bit Default Alphabet.
    static let defaultAlphabet: [Unicode.Scalar] = grid([
        ["@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", lf, "Ø", "ø", cr, "Å", "å"],
        ["Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", esc, "Æ", "æ", "ß", "É"],
        col(" !\"#¤%&'()*+,-./"),
        digits,
        col("¡ABCDEFGHIJKLMNO"),
        col("PQRSTUVWXYZÄÖÑÜ§"),
        col("¿abcdefghijklmno"),
        col("pqrstuvwxyzäöñüà"),
    ])

    /// A.3.1 Turkish National Language Locking Shift Table.
    static let turkishLocking: [Unicode.Scalar] = grid([
        ["@", "£", "$", "¥", "€", "é", "ù", "ı", "ò", "Ç", lf, "Ğ", "ğ", cr, "Å", "å"],
        ["Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", esc, "Ş", "ş", "ß", "É"],
        col(" !\"#¤%&'()*+,-./"),
        digits,
        col("İABCDEFGHIJKLMNO"),
        col("PQRSTUVWXYZÄÖÑÜ§"),
        col("çabcdefghijklmno"),
        col("pqrstuvwxyzäöñüà"),
    ])

    /// A.3.3 Portuguese National Language Locking Shift Table.
    static let portugueseLocking: [Unicode.Scalar] = grid([
        ["@", "£", "$", "¥", "ê", "é", "ú", "í", "ó", "ç", lf, "Ô", "ô", cr, "Á", "á"],
        ["Δ", "_", "ª", "Ç", "À", "∞", "^", "\\", "€", "Ó", "|", esc, "Â", "â", "Ê", "É"],
        col(" !\"#º%&'()*+,-./"),
        digits,
        col("ÍABCDEFGHIJKLMNO"),
        col("PQRSTUVWXYZÃÕÚÜ§"),
        col("~abcdefghijklmno"),
        col("pqrstuvwxyzãõ`üà"),
    ])

    /// §6.2.1.1 GSM 7 bit Default Alphabet Extension Table (reached through 0x1B).
    static let defaultExtension: [UInt8: Unicode.Scalar] = [
        0x0A: "\u{0C}", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
        0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
    ]

    /// A.2.1 Turkish National Language Single Shift Table.
    static let turkishSingle: [UInt8: Unicode.Scalar] = defaultExtension.merging([
        0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı", 0x73: "ş",
    ]) { $1 }

    /// A.2.2 Spanish National Language Single Shift Table.
    static let spanishSingle: [UInt8: Unicode.Scalar] = defaultExtension.merging([
        0x09: "ç", 0x41: "Á", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x61: "á", 0x69: "í", 0x6F: "ó", 0x75: "ú",
    ]) { $1 }

    /// A.2.3 Portuguese National Language Single Shift Table.
    static let portugueseSingle: [UInt8: Unicode.Scalar] = defaultExtension.merging([
        0x05: "ê", 0x09: "ç", 0x0B: "Ô", 0x0C: "ô", 0x0E: "Á", 0x0F: "á",
        0x12: "Φ", 0x13: "Γ", 0x15: "Ω", 0x16: "Π", 0x17: "Ψ", 0x18: "Σ", 0x19: "Θ", 0x1F: "Ê",
        0x41: "À", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x5B: "Ã", 0x5C: "Õ",
        0x61: "Â", 0x69: "í", 0x6F: "ó", 0x75: "ú", 0x7B: "ã", 0x7C: "õ", 0x7F: "â",
    ]) { $1 }

    /// Flattens a sparse single-shift table into 128 slots (0 = not defined) for
    /// branch-light lookup on the decode path.
    static func dense(_ sparse: [UInt8: Unicode.Scalar]) -> [UInt32] {
        var t = [UInt32](repeating: 0, count: 128)
        for (k, v) in sparse { t[Int(k)] = v.value }
        return t
    }

    static let defaultAlphabetValues = defaultAlphabet.map(\.value)
    static let turkishLockingValues = turkishLocking.map(\.value)
    static let portugueseLockingValues = portugueseLocking.map(\.value)
    static let defaultExtensionDense = dense(defaultExtension)
    static let turkishSingleDense = dense(turkishSingle)
    static let spanishSingleDense = dense(spanishSingle)
    static let portugueseSingleDense = dense(portugueseSingle)
}

/// A GSM national language identifier (3GPP TS 23.038 §6.2.1.2.4), as carried by
/// UDH IE 0x24 (single shift) and 0x25 (locking shift).
public struct NationalLanguage: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let `default` = NationalLanguage(rawValue: 0)
    public static let turkish = NationalLanguage(rawValue: 1)
    public static let spanish = NationalLanguage(rawValue: 2)
    public static let portuguese = NationalLanguage(rawValue: 3)

    /// The locking shift table, or nil when this bridge has none for the language
    /// (Spanish defines none; the Indic tables are not carried). Unknown
    /// languages fall back to the default alphabet and flag the text.
    var lockingTable: [UInt32]? {
        switch rawValue {
        case 0, 2: GSMTables.defaultAlphabetValues
        case 1: GSMTables.turkishLockingValues
        case 3: GSMTables.portugueseLockingValues
        default: nil
        }
    }

    var singleShiftTable: [UInt32]? {
        switch rawValue {
        case 0: GSMTables.defaultExtensionDense
        case 1: GSMTables.turkishSingleDense
        case 2: GSMTables.spanishSingleDense
        case 3: GSMTables.portugueseSingleDense
        default: nil
        }
    }
}

/// GSM 7-bit encoding, for the simulator, tests and the encoders.
public enum GSM7 {
    /// Encodes text to unpacked septets (one per octet, the usual SMPP form) using
    /// the default alphabet and its extension table. Returns nil when a character
    /// has no GSM 7-bit form.
    public static func encodeUnpacked(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if let i = reverseDefault[s.value] {
                out.append(i)
            } else if let e = reverseExtension[s.value] {
                out.append(0x1B)
                out.append(e)
            } else {
                return nil
            }
        }
        return out
    }

    /// Can this text be sent in the GSM 7-bit default alphabet (with extensions)?
    public static func canEncode(_ text: String) -> Bool { encodeUnpacked(text) != nil }

    /// Packs septets 8-into-7 (3GPP TS 23.038 §6.1.2.1.1). `fillBits` leaves room
    /// in front (after a UDH) so the first septet starts on a septet boundary.
    public static func pack(_ septets: [UInt8], fillBits: Int = 0) -> [UInt8] {
        let totalBits = fillBits + septets.count * 7
        var out = [UInt8](repeating: 0, count: (totalBits + 7) / 8)
        var bit = fillBits
        for s in septets {
            let v = UInt16(s & 0x7F) << UInt16(bit % 8)
            out[bit / 8] |= UInt8(truncatingIfNeeded: v)
            if bit % 8 > 1 { out[bit / 8 + 1] |= UInt8(truncatingIfNeeded: v >> 8) }
            bit += 7
        }
        return out
    }

    /// Unpacks septets from packed octets, starting `skipBits` into the data.
    public static func unpack(_ octets: UnsafeRawBufferPointer, skipBits: Int = 0) -> [UInt8] {
        let totalBits = octets.count * 8
        guard totalBits > skipBits else { return [] }
        var count = (totalBits - skipBits) / 7
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var bit = skipBits
        while count > 0 {
            let lo = UInt16(octets[bit / 8])
            let hi: UInt16 = bit / 8 + 1 < octets.count ? UInt16(octets[bit / 8 + 1]) : 0
            out.append(UInt8(truncatingIfNeeded: ((hi << 8 | lo) >> UInt16(bit % 8)) & 0x7F))
            bit += 7
            count -= 1
        }
        // Eight septets fill seven octets exactly, so seven characters leave seven
        // zero bits that read as an eighth septet (@). 23.038 §6.1.2.3.1: a final
        // zero septet in exactly that position is padding, not text.
        if (totalBits - skipBits) % 7 == 0, out.last == 0 { out.removeLast() }
        return out
    }

    static let reverseDefault: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (i, s) in GSMTables.defaultAlphabet.enumerated() where i != 0x1B { m[s.value] = UInt8(i) }
        return m
    }()
    static let reverseExtension: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (k, v) in GSMTables.defaultExtension { m[v.value] = k }
        return m
    }()
}
