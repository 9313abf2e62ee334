public import SMPPWire

/// A carrier's numbering defaults: what a national number means on that link.
public struct NumberPlan: Hashable, Sendable {
    /// E.164 country code, digits only ("44").
    public var countryCode: String
    /// National trunk prefix ("0" in most of Europe, "8" in Russia, "1" in NANP, "" where none).
    public var trunkPrefix: String
    /// International call prefixes that may lead an international number ("00", "011", "810").
    public var internationalPrefixes: [String]
    /// Lengths of the national significant number (after the trunk prefix), used
    /// to tell a national number from an international one when TON is unknown.
    public var nationalLengths: ClosedRange<Int>
    /// How TON 0 digits with no prefix and no national shape are read. Most
    /// aggregators send full international digits with TON 0; set false for a
    /// carrier that sends national numbers that way.
    public var unknownTONIsInternational: Bool

    public init(
        countryCode: String, trunkPrefix: String = "0", internationalPrefixes: [String] = ["00"],
        nationalLengths: ClosedRange<Int> = 7...11, unknownTONIsInternational: Bool = true
    ) {
        self.countryCode = countryCode
        self.trunkPrefix = trunkPrefix
        self.internationalPrefixes = internationalPrefixes
        self.nationalLengths = nationalLengths
        self.unknownTONIsInternational = unknownTONIsInternational
    }

    public static let uk = NumberPlan(countryCode: "44", nationalLengths: 9...10)
    public static let germany = NumberPlan(countryCode: "49", nationalLengths: 6...11)
    public static let russia = NumberPlan(countryCode: "7", trunkPrefix: "8", internationalPrefixes: ["810", "00"], nationalLengths: 10...10)
    public static let usa = NumberPlan(countryCode: "1", trunkPrefix: "1", internationalPrefixes: ["011"], nationalLengths: 10...10)
    public static let brazil = NumberPlan(countryCode: "55", nationalLengths: 10...11)
    public static let india = NumberPlan(countryCode: "91", nationalLengths: 10...10)
    public static let uae = NumberPlan(countryCode: "971", nationalLengths: 8...9)
    public static let china = NumberPlan(countryCode: "86", nationalLengths: 10...11)
}

/// An address after normalization.
public enum NormalizedAddress: Hashable, Sendable {
    /// E.164 digits, country code first, no "+".
    case msisdn(String)
    /// A sender name (TON 5, or letters under TON 0): kept as text.
    case alphanumeric(String)
    /// A short code or network-specific number (a few digits): not a subscriber.
    case shortCode(String)
    /// Not an address we can read. Never guessed into a number.
    case invalid(InvalidAddress)

    public var msisdn: String? {
        if case .msisdn(let s) = self { return s }
        return nil
    }
}

/// Why an address was rejected. Carries no digits, so it is safe to log.
public enum InvalidAddress: String, Hashable, Sendable {
    case empty
    case nonDigit = "non_digit"
    case tooShort = "too_short"
    case tooLong = "too_long"
    case leadingZero = "leading_zero"
    case misplacedPlus = "misplaced_plus"
}

/// Turns (ton, npi, address) into a canonical form.
public enum NumberNormalizer {
    /// E.164 allows at most 15 digits; the shortest real international numbers have 7.
    public static let e164Lengths = 7...15
    public static let shortCodeMaxLength = 8

    public static func normalize(ton: TON, npi: NPI, address raw: String, plan: NumberPlan) -> NormalizedAddress {
        // Fast path: plain international digits, the usual destination. No allocation.
        if ton == .international {
            let u = raw.utf8
            if u.count >= e164Lengths.lowerBound, u.count <= e164Lengths.upperBound, u.first != 0x30,
                u.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
            {
                return .msisdn(raw)
            }
        }
        let text = raw.trimmingWhitespace()
        if text.isEmpty { return .invalid(.empty) }
        if ton == .alphanumeric { return .alphanumeric(text) }

        // Separators people and SMSCs put in numbers.
        var plus = false
        var digitBytes: [UInt8] = []
        digitBytes.reserveCapacity(text.utf8.count)
        var letters = false
        for (i, c) in text.utf8.enumerated() {
            switch c {
            case 0x30...0x39: digitBytes.append(c)
            case 0x20, 0x2D, 0x2E, 0x28, 0x29, 0x2F: continue
            case 0x2B:
                if i != 0 { return .invalid(.misplacedPlus) }
                plus = true
            default: letters = true
            }
        }
        let digits = String(decoding: digitBytes, as: UTF8.self)
        if letters {
            // A sender name under TON 0 is common (carriers do not always set TON 5);
            // under a numeric TON it is garbage.
            return ton == .unknown && !plus ? .alphanumeric(text) : .invalid(.nonDigit)
        }
        if digits.isEmpty { return .invalid(.empty) }
        if plus { return international(digits) }

        switch ton {
        case .international:
            return international(stripInternationalPrefix(digits, plan) ?? digits)
        case .national, .subscriberNumber:
            return national(digits, plan)
        case .networkSpecific, .abbreviated:
            return digits.count <= shortCodeMaxLength ? .shortCode(digits) : .invalid(.tooLong)
        default:
            // Unknown TON: an international prefix, then a national shape, then the carrier's default.
            if let stripped = stripInternationalPrefix(digits, plan) { return international(stripped) }
            if !plan.trunkPrefix.isEmpty, digits.hasPrefix(plan.trunkPrefix),
                plan.nationalLengths.contains(digits.count - plan.trunkPrefix.count)
            {
                return national(digits, plan)
            }
            if digits.count <= shortCodeMaxLength - 2 { return .shortCode(digits) }
            if plan.unknownTONIsInternational { return international(digits) }
            return national(digits, plan)
        }
    }

    /// The same for a zero-copy address field.
    public static func normalize(ton: TON, npi: NPI, address: UnsafeRawBufferPointer, plan: NumberPlan) -> NormalizedAddress {
        // Fast path: plain digits under TON 1, the common case for destinations.
        if ton == .international, address.count >= 7, address.count <= 15, address[0] != 0x30,
            address.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        {
            return .msisdn(String(decoding: address, as: UTF8.self))
        }
        return normalize(ton: ton, npi: npi, address: COctetString(address).string, plan: plan)
    }

    static func stripInternationalPrefix(_ digits: String, _ plan: NumberPlan) -> String? {
        for p in plan.internationalPrefixes where digits.hasPrefix(p) && digits.count > p.count {
            return String(digits.dropFirst(p.count))
        }
        return nil
    }

    static func international(_ digits: String) -> NormalizedAddress {
        if digits.first == "0" { return .invalid(.leadingZero) }
        if digits.count < e164Lengths.lowerBound { return .invalid(.tooShort) }
        if digits.count > e164Lengths.upperBound { return .invalid(.tooLong) }
        return .msisdn(digits)
    }

    static func national(_ digits: String, _ plan: NumberPlan) -> NormalizedAddress {
        var nsn = Substring(digits)
        if !plan.trunkPrefix.isEmpty, nsn.hasPrefix(plan.trunkPrefix),
            plan.nationalLengths.contains(nsn.count - plan.trunkPrefix.count)
        {
            nsn = nsn.dropFirst(plan.trunkPrefix.count)
        }
        if nsn.count < plan.nationalLengths.lowerBound { return .invalid(.tooShort) }
        if nsn.count > plan.nationalLengths.upperBound { return .invalid(.tooLong) }
        return international(plan.countryCode + nsn)
    }
}

extension String {
    /// Trims ASCII whitespace, byte-wise (no grapheme breaking on the hot path).
    func trimmingWhitespace() -> String {
        let u = self.utf8
        func ws(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        guard let f = u.first, let l = u.last, ws(f) || ws(l) else { return self }
        var a = u.startIndex, b = u.endIndex
        while a < b, ws(u[a]) { a = u.index(after: a) }
        while b > a, ws(u[u.index(before: b)]) { b = u.index(before: b) }
        return String(self[a..<b])
    }
}
