/// A per-service OTP rule: who sends it and what its code looks like.
///
/// Code templates are a tiny, fast pattern language instead of regular
/// expressions (the extractor runs for every message on the session queues):
/// `#` one digit, `A` one ASCII letter or digit, `?` one optional digit, any
/// other character literally (letters case-insensitive). `G-######` matches
/// Google's "G-123456"; `###-###` WhatsApp's "123-456".
public struct OTPRule: Hashable, Sendable, Codable {
    public var service: String
    /// Sender ids, compared case-insensitively; a trailing `*` matches a prefix.
    public var senders: [String]
    /// Code templates, tried in order. Empty: use the generic extractor with this service's context.
    public var codes: [String]
    /// Extra keywords for this service's messages (added to the generic ones).
    public var keywords: [String]

    public init(service: String, senders: [String], codes: [String] = [], keywords: [String] = []) {
        self.service = service
        self.senders = senders
        self.codes = codes
        self.keywords = keywords
    }

    public func matches(sender: String) -> Bool {
        let s = sender.lowercased()
        return senders.contains { p in
            let p = p.lowercased()
            return p.hasSuffix("*") ? s.hasPrefix(p.dropLast()) : s == p
        }
    }
}

/// The rules the bridge and `smpp-bridge extract` use.
public struct OTPRules: Hashable, Sendable, Codable {
    public var rules: [OTPRule]
    /// Below this confidence the generic extractor reports no code.
    public var minimumConfidence: Double

    public init(rules: [OTPRule], minimumConfidence: Double = 0.5) {
        self.rules = rules
        self.minimumConfidence = minimumConfidence
    }

    /// Built-in defaults for the services customers rent numbers for.
    public static let defaults = OTPRules(rules: [
        OTPRule(service: "whatsapp", senders: ["WhatsApp", "WA*"], codes: ["###-###", "######"]),
        OTPRule(service: "telegram", senders: ["Telegram", "TGram*"], codes: ["#####", "######"]),
        OTPRule(service: "google", senders: ["Google", "22000", "GOOGLE*"], codes: ["G-######", "######"]),
        OTPRule(service: "microsoft", senders: ["Microsoft", "MSFT*"], codes: ["########", "#######", "######", "####"]),
        OTPRule(service: "facebook", senders: ["Facebook", "FB*", "32665"], codes: ["FB-#####", "########", "######", "#####"]),
        OTPRule(service: "instagram", senders: ["Instagram", "IG*"], codes: ["### ###", "######"]),
        OTPRule(service: "amazon", senders: ["Amazon", "AMZN*"], codes: ["######"]),
        OTPRule(service: "uber", senders: ["Uber"], codes: ["####"]),
        OTPRule(service: "apple", senders: ["Apple"], codes: ["######"]),
        OTPRule(service: "tiktok", senders: ["TikTok"], codes: ["######"]),
        OTPRule(service: "viber", senders: ["Viber"], codes: ["######"]),
        OTPRule(service: "wechat", senders: ["WeChat", "Weixin"], codes: ["######"]),
        OTPRule(service: "bank", senders: ["*BANK*", "Bank*", "Banco*", "Sber*", "Tinkoff*", "HDFC*", "ICICI*"]),
    ])

    /// The rule whose sender list matches, if any.
    public func rule(forSender sender: String) -> OTPRule? {
        rules.first { r in
            r.senders.contains { p in
                let p = p.lowercased(), s = sender.lowercased()
                if p.hasPrefix("*"), p.hasSuffix("*"), p.count > 2 { return s.contains(p.dropFirst().dropLast()) }
                return p.hasSuffix("*") ? s.hasPrefix(p.dropLast()) : s == p
            }
        }
    }

    public func rule(forService service: String) -> OTPRule? { rules.first { $0.service == service } }
}

/// An extracted code and how sure the extractor is.
public struct OTPResult: Hashable, Sendable {
    public var code: String
    /// 0…1.
    public var confidence: Double
    /// Which rule matched: "<service>:<template>" or "generic".
    public var rule: String
}

/// Finds the verification code in a message text.
public struct OTPExtractor: Sendable {
    public let rules: OTPRules
    /// Rules with senders lowercased and templates split into scalars, once.
    let compiled: [CompiledRule]

    final class CompiledRule: Sendable {
        let rule: OTPRule
        let senders: [(pattern: String, prefix: Bool, contains: Bool)]
        let templates: [(String, [Unicode.Scalar])]
        let keywords: [[Unicode.Scalar]]
        init(rule: OTPRule, senders: [(pattern: String, prefix: Bool, contains: Bool)], templates: [(String, [Unicode.Scalar])], keywords: [[Unicode.Scalar]]) {
            self.rule = rule
            self.senders = senders
            self.templates = templates
            self.keywords = keywords
        }
        func matches(_ lowerSender: String) -> Bool {
            senders.contains { p in
                p.contains ? lowerSender.contains(p.pattern) : (p.prefix ? lowerSender.hasPrefix(p.pattern) : lowerSender == p.pattern)
            }
        }
    }

    public init(rules: OTPRules = .defaults) {
        self.rules = rules
        compiled = rules.rules.map { r in
            CompiledRule(
                rule: r,
                senders: r.senders.map { p in
                    let l = p.lowercased()
                    if l.hasPrefix("*"), l.hasSuffix("*"), l.count > 2 { return (String(l.dropFirst().dropLast()), false, true) }
                    return l.hasSuffix("*") ? (String(l.dropLast()), true, false) : (l, false, false)
                },
                templates: r.codes.map { ($0, Array($0.unicodeScalars)) },
                keywords: OTPExtractor.compiledKeywords + r.keywords.map { Array($0.lowercased().unicodeScalars) })
        }
    }

    static let compiledKeywords: [[Unicode.Scalar]] = keywords.map { Array($0.unicodeScalars) }

    /// The service a sender id belongs to, by the compiled rules.
    public func service(forSender sender: String) -> String? {
        let l = sender.lowercased()
        return compiled.first { $0.matches(l) }?.rule.service
    }

    func compiledRule(sender: String?, service: String?) -> (sender: CompiledRule?, service: CompiledRule?) {
        let ls = sender?.lowercased()
        return (ls.flatMap { s in compiled.first { $0.matches(s) } }, service.flatMap { s in compiled.first { $0.rule.service == s } })
    }

    /// Words that announce a code, lowercased, in the languages the storefront serves.
    public static let keywords: [String] = [
        // English
        "code", "otp", "pin", "passcode", "password", "verification", "verify", "token", "one-time", "security code",
        // Russian / Ukrainian
        "код", "пароль", "кодом",
        // Spanish / Portuguese
        "código", "codigo", "clave", "contraseña", "senha",
        // Arabic
        "رمز", "كود", "الرمز",
        // Chinese
        "验证码", "驗證碼", "校验码", "动态码", "确认码",
        // Turkish
        "kod", "kodu", "kodunuz", "şifre", "şifreniz",
        // German / French / Italian
        "bestätigungscode", "sicherheitscode", "codice",
        // Indonesian / Malay, Vietnamese, Hindi, Hebrew, Japanese, Korean, Thai
        "kode", "mã", "कोड", "ओटीपी", "קוד", "コード", "認証番号", "인증번호", "รหัส",
    ]

    static let currency: Set<String> = ["$", "€", "£", "¥", "₽", "₹", "₺", "r$", "usd", "eur", "gbp", "rub", "руб", "inr", "rs", "aed", "brl", "try", "tl", "сум", "₴", "грн", "cny", "元"]
    static let phoneWords = ["call", "tel", "phone", "звоните", "тел", "ligue", "llame"]

    public func extract(text: String, sender: String? = nil, service: String? = nil) -> OTPResult? {
        // The sender's own rule first (a Google code sent to a number leased for
        // WhatsApp still has Google's shape), then the order's service rule.
        let (senderRule, serviceRule) = compiledRule(sender: sender, service: service)
        let rule = serviceRule ?? senderRule
        let scalars = Array(text.unicodeScalars)
        let lower = scalars.map { Self.lowerScalar($0) }
        for r in [senderRule, serviceRule === senderRule ? nil : serviceRule] {
            guard let r else { continue }
            for (name, template) in r.templates {
                if let m = Self.matchTemplate(template, in: scalars, lower: lower, keywords: r.keywords) {
                    return OTPResult(code: m, confidence: 0.97, rule: "\(r.rule.service):\(name)")
                }
            }
        }
        guard let best = Self.generic(scalars, lower: lower, keywords: rule?.keywords ?? Self.compiledKeywords) else { return nil }
        var confidence = best.score
        if rule != nil { confidence = min(1, confidence + 0.05) }
        guard confidence >= rules.minimumConfidence else { return nil }
        return OTPResult(code: best.code, confidence: (confidence * 100).rounded() / 100, rule: "generic")
    }

    // MARK: Templates

    /// Finds the template at a token boundary; prefers an occurrence after a keyword.
    static func matchTemplate(_ t: [Unicode.Scalar], in s: [Unicode.Scalar], lower: [Unicode.Scalar], keywords: [[Unicode.Scalar]]) -> String? {
        var best: (start: Int, length: Int, distance: Int)?
        var i = 0
        let first = t.first.map { lowerScalar($0) }
        let firstIsDigit = first == "#"
        while i < s.count {
            // Cheap reject on the template's first character before anything else.
            if firstIsDigit ? !isDigit(s[i]) : (first != "?" && first != "A" && lower[i] != first) {
                i += 1
                continue
            }
            // Not glued to a neighbouring token ("G-123456" is not a "######" code).
            let glued = i >= 2 && (s[i - 1] == "-" || s[i - 1] == "_") && isAlnum(s[i - 2])
            if i == 0 || !isAlnum(s[i - 1]), !glued, let len = match(t, lower, at: i), i + len == s.count || !isAlnum(s[i + len]),
                !(i + len + 1 < s.count && s[i + len] == "-" && isAlnum(s[i + len + 1])), !isAmountOrDate(s, i, i + len)
            {
                // Several matches: the one nearest a keyword wins; the first on a tie.
                let d = best == nil ? Int.max : keywordDistance(lower, i, keywords)
                if best == nil {
                    best = (i, len, Int.max)
                } else {
                    if best!.distance == Int.max { best!.distance = keywordDistance(lower, best!.start, keywords) }
                    if d < best!.distance { best = (i, len, d) }
                }
                i += len
                continue
            }
            i += 1
        }
        return best.map { string(s, $0.start, $0.start + $0.length) }
    }

    /// Length of the template's match at `start` in the lowercased text, or nil.
    @inline(__always)
    static func match(_ t: [Unicode.Scalar], _ lower: [Unicode.Scalar], at start: Int) -> Int? {
        var i = start
        for p in t {
            switch p {
            case "#":
                guard i < lower.count, isDigit(lower[i]) else { return nil }
                i += 1
            case "?":
                if i < lower.count, isDigit(lower[i]) { i += 1 }
            case "A":
                guard i < lower.count, isASCIIAlnum(lower[i]) else { return nil }
                i += 1
            default:
                guard i < lower.count, lower[i] == lowerScalar(p) else { return nil }
                i += 1
            }
        }
        return i - start
    }

    // MARK: Generic

    struct Candidate {
        var code: String
        var start: Int
        var end: Int
        var score: Double
    }

    /// Scores every plausible token. Without a keyword nearby no candidate reaches
    /// the default threshold (0.5): a bare number in a text is an order number, a
    /// room or a balance far more often than a code.
    static func generic(_ s: [Unicode.Scalar], lower: [Unicode.Scalar], keywords: [[Unicode.Scalar]]) -> Candidate? {
        var candidates: [Candidate] = []
        var i = 0
        while i < s.count {
            // Tokens start at a word boundary (CJK text has none around codes).
            guard isASCIIAlnum(s[i]), i == 0 || !isAlnum(s[i - 1]) else { i += 1; continue }
            var k = i
            var digits = 0, letters = 0, lowers = 0
            while k < s.count, isASCIIAlnum(s[k]) {
                if isDigit(s[k]) { digits += 1 } else { letters += 1 }
                if s[k].value >= 0x61 { lowers += 1 }
                k += 1
            }
            defer { i = max(k, i + 1) }
            // Attached to a word of another script ("1500р", "Rp125"): a unit or a currency.
            if k < s.count, isAlnum(s[k]), !isCJK(s[k]) { continue }
            if letters > 0 {
                // "G-123456": a short letter prefix, a dash, 4–8 digits.
                if digits == 0, letters <= 3, k + 1 < s.count, s[k] == "-", isDigit(s[k + 1]) {
                    var e = k + 1
                    while e < s.count, isDigit(s[e]) { e += 1 }
                    if (4...8).contains(e - k - 1), e == s.count || !isAlnum(s[e]) {
                        candidates.append(Candidate(code: string(s, i, e), start: i, end: e, score: 0.35))
                        k = e
                    }
                    continue
                }
                // Mixed letters and digits, upper case, 4–8 long ("7XK2Q", "ABX7K2").
                // A word followed by a number ("SAVE20", "WELCOME10") is a promo code, not an OTP.
                guard (4...8).contains(k - i), digits >= 2, lowers == 0 else { continue }
                var p = i
                while p < k, isASCIILetter(s[p]) { p += 1 }
                let lettersThenDigits = p > i && (p..<k).allSatisfy { isDigit(s[$0]) }
                if lettersThenDigits { continue }
                candidates.append(Candidate(code: string(s, i, k), start: i, end: k, score: 0.2))
                continue
            }
            // Digits, allowing one inner separator: "123-456", "123 456".
            var end = k
            var code = string(s, i, k)
            if k - i == 3, k + 4 <= s.count, s[k] == "-" || s[k] == " ", isDigit(s[k + 1]), isDigit(s[k + 2]), isDigit(s[k + 3]),
                k + 4 == s.count || !isAlnum(s[k + 4])
            {
                code += string(s, k + 1, k + 4)
                end = k + 4
                k = end
            }
            let n = code.unicodeScalars.count
            guard (4...8).contains(n) else { continue }
            if isAmountOrDate(s, i, end) || isPhoneContext(lower, i, end) { continue }
            var score: Double = n == 6 ? 0.3 : (n == 4 || n == 5 ? 0.25 : 0.2)
            if n == 4, let v = Int(code), (1900...2099).contains(v) { score -= 0.1 }  // year-like
            candidates.append(Candidate(code: code, start: i, end: end, score: score))
        }
        guard !candidates.isEmpty else { return nil }
        let promo = keywordDistance(lower, 0, promoWords) < Int.max
        for c in candidates.indices {
            let d = keywordDistance(lower, candidates[c].start, keywords)
            if d <= 64 { candidates[c].score += 0.45 - Double(d) * 0.003 }
            if candidates.count == 1 { candidates[c].score += 0.05 }
            if promo { candidates[c].score -= 0.3 }
        }
        return candidates.max { $0.score < $1.score || ($0.score == $1.score && $0.start > $1.start) }
    }

    /// Characters between the candidate and the nearest keyword (before it, or
    /// shortly after it as in "482913 is your code"); Int.max when none.
    static let promoWords: [[Unicode.Scalar]] = ["promo", "coupon", "discount", "off", "скидк", "cupom", "descuento"].map { Array($0.unicodeScalars) }

    static func keywordDistance(_ lower: [Unicode.Scalar], _ pos: Int, _ keywords: [[Unicode.Scalar]]) -> Int {
        var best = Int.max
        for ks in keywords {
            guard ks.count <= lower.count else { continue }
            var i = 0
            while i + ks.count <= lower.count {
                if lower[i] == ks[0], equalAt(lower, i, ks) {
                    // Whole words for Latin keywords ("pin" must not match "shipping").
                    let startOK = i == 0 || !isASCIILetter(lower[i - 1]) || !isASCIILetter(ks[0])
                    let endOK = i + ks.count == lower.count || !isASCIILetter(lower[i + ks.count]) || !isASCIILetter(ks[ks.count - 1])
                    if startOK && endOK {
                        let d = i + ks.count <= pos ? pos - (i + ks.count) : (i - pos) * 2
                        best = min(best, max(0, d))
                    }
                }
                i += 1
            }
        }
        return best
    }

    @inline(__always) static func equalAt(_ a: [Unicode.Scalar], _ i: Int, _ k: [Unicode.Scalar]) -> Bool {
        var j = 1
        while j < k.count {
            if a[i + j] != k[j] { return false }
            j += 1
        }
        return true
    }

    static func isAmountOrDate(_ s: [Unicode.Scalar], _ start: Int, _ end: Int) -> Bool {
        // Decimal or thousands separators, times and dates: "12.50", "1,000", "12:30", "25/11", "2026-11-25".
        if end + 1 < s.count, [".", ",", ":", "/"].contains(s[end]), isDigit(s[end + 1]) { return true }
        if start >= 2, [".", ",", ":", "/"].contains(s[start - 1]), isDigit(s[start - 2]) { return true }
        if end + 1 < s.count, s[end] == "-", isDigit(s[end + 1]) { return true }
        if start >= 2, s[start - 1] == "-", isDigit(s[start - 2]) { return true }
        // Currency before or after (compared on scalars, lowercased, spaces skipped).
        var b = start - 1
        while b >= 0, s[b] == " " { b -= 1 }
        var a = end
        while a < s.count, s[a] == " " { a += 1 }
        for c in currencyScalars {
            if b + 1 >= c.count, (0..<c.count).allSatisfy({ lowerScalar(s[b + 1 - c.count + $0]) == c[$0] }) { return true }
            if a + c.count <= s.count, (0..<c.count).allSatisfy({ lowerScalar(s[a + $0]) == c[$0] }) { return true }
        }
        if a < s.count, s[a] == "%" { return true }
        return false
    }

    static let currencyScalars: [[Unicode.Scalar]] = currency.map { Array($0.unicodeScalars) }

    static func isPhoneContext(_ lower: [Unicode.Scalar], _ start: Int, _ end: Int) -> Bool {
        // "+1 415 555 0123": a plus within the preceding few characters.
        for j in max(0, start - 4)..<start where lower[j] == "+" { return true }
        let before = String(String.UnicodeScalarView(lower[max(0, start - 16)..<start]))
        return phoneWords.contains { before.contains($0) }
    }

    @inline(__always) static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
    @inline(__always) static func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x41 && c.value <= 0x5A) || (c.value >= 0x61 && c.value <= 0x7A)
    }
    @inline(__always) static func isASCIIAlnum(_ c: Unicode.Scalar) -> Bool { isDigit(c) || isASCIILetter(c) }
    @inline(__always) static func isCJK(_ c: Unicode.Scalar) -> Bool { c.value >= 0x3000 }
    /// Letters of any script count as part of a word, except CJK (written without spaces around codes).
    @inline(__always) static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return isASCIIAlnum(c) }
        if v < 0xC0 || isCJK(c) { return false }
        // The scripts of the corpus without a property lookup; everything else asks Unicode.
        if (0xC0...0x24F).contains(v) { return v != 0xD7 && v != 0xF7 }
        if (0x370...0x52F).contains(v) || (0x5D0...0x5EA).contains(v) || (0x620...0x64A).contains(v) { return true }
        return c.properties.isAlphabetic
    }
    @inline(__always) static func lowerScalar(_ c: Unicode.Scalar) -> Unicode.Scalar {
        let v = c.value
        if v >= 0x41 && v <= 0x5A { return Unicode.Scalar(v + 0x20)! }
        if v < 0x80 { return c }
        // Latin-1 and Cyrillic capitals without a property lookup.
        if (0xC0...0xDE).contains(v) && v != 0xD7 { return Unicode.Scalar(v + 0x20)! }
        if (0x410...0x42F).contains(v) { return Unicode.Scalar(v + 0x20)! }
        if (0x400...0x40F).contains(v) { return Unicode.Scalar(v + 0x50)! }
        if (0x430...0x45F).contains(v) || (0x5D0...0x6FF).contains(v) || v >= 0x3000 { return c }
        return c.properties.lowercaseMapping.unicodeScalars.first ?? c
    }
    static func string(_ s: [Unicode.Scalar], _ a: Int, _ b: Int) -> String {
        String(String.UnicodeScalarView(s[a..<b]))
    }
}
