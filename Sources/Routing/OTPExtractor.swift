#if canImport(Glibc)
    import Glibc
#endif

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
///
/// Works on the text's UTF-8 bytes with stack scratch space: one pass folds case
/// (ASCII, Latin-1, Cyrillic) and finds every keyword (bucketed by first byte),
/// then candidates are scored against those hits. Only the winning code becomes
/// a String.
public struct OTPExtractor: Sendable {
    public let rules: OTPRules
    /// Rules with senders lowercased and templates as bytes, once.
    let compiled: [CompiledRule]
    let keywordIndex: KeywordIndex

    final class CompiledRule: Sendable {
        let rule: OTPRule
        /// `bytes` when the pattern is printable ASCII (nil otherwise), for `matches`.
        let senders: [(pattern: String, prefix: Bool, contains: Bool, bytes: [UInt8]?)]
        let templates: [(String, [UInt8])]
        init(rule: OTPRule) {
            self.rule = rule
            senders = rule.senders.map { p in
                let l = p.lowercased()
                let (pattern, prefix, contains) =
                    l.hasPrefix("*") && l.hasSuffix("*") && l.count > 2 ? (String(l.dropFirst().dropLast()), false, true)
                    : l.hasSuffix("*") ? (String(l.dropLast()), true, false) : (l, false, false)
                let bytes = Array(pattern.utf8)
                return (pattern, prefix, contains, CompiledRule.isPrintableASCII(bytes[...]) ? bytes : nil)
            }
            templates = rule.codes.map { ($0, Array($0.lowercased().utf8)) }
        }

        /// Printable ASCII is one Character per byte, so comparing bytes is comparing
        /// Characters, without String's Character-generic search (sender IDs are nearly
        /// always plain ASCII, and this runs per message).
        static func isPrintableASCII(_ b: some Sequence<UInt8>) -> Bool { b.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }

        func matches(_ lowerSender: String, ascii: UnsafeBufferPointer<UInt8>?) -> Bool {
            senders.contains { p in
                if let s = ascii, let b = p.bytes {
                    if p.contains { return Self.find(b, in: s) }
                    guard p.prefix ? s.count >= b.count : s.count == b.count else { return false }
                    return Self.find(b, in: UnsafeBufferPointer(rebasing: s[..<b.count]))
                }
                return p.contains ? lowerSender.contains(p.pattern) : (p.prefix ? lowerSender.hasPrefix(p.pattern) : lowerSender == p.pattern)
            }
        }

        /// Whether `needle` occurs in `s` (an empty one always does).
        static func find(_ needle: [UInt8], in s: UnsafeBufferPointer<UInt8>) -> Bool {
            guard needle.count <= s.count else { return false }
            if needle.isEmpty { return true }
            return needle.withUnsafeBufferPointer { n in
                (0...(s.count - n.count)).contains { memcmp(s.baseAddress! + $0, n.baseAddress!, n.count) == 0 }
            }
        }
    }

    /// Keywords as lowercased UTF-8, bucketed by first byte, in flat buffers (no
    /// nested arrays, so the scan retains nothing).
    final class KeywordIndex: @unchecked Sendable {
        /// Keyword bytes back to back; keyword k is bytes[offsets[k]..<offsets[k + 1]].
        let bytes: UnsafeMutableBufferPointer<UInt8>
        let offsets: UnsafeMutableBufferPointer<Int32>
        /// Keywords starting with byte b are items[bucketStart[b]..<bucketStart[b + 1]].
        let bucketStart: UnsafeMutableBufferPointer<Int32>
        let items: UnsafeMutableBufferPointer<Int32>

        init(_ list: [String]) {
            let words = Array(Set(list.map { $0.lowercased() }).filter { !$0.isEmpty }).sorted().map { Array($0.utf8) }
            bytes = .allocate(capacity: max(1, words.reduce(0) { $0 + $1.count }))
            offsets = .allocate(capacity: words.count + 1)
            var o = 0
            for (k, w) in words.enumerated() {
                offsets[k] = Int32(o)
                for b in w { bytes[o] = b; o += 1 }
            }
            offsets[words.count] = Int32(o)
            bucketStart = .allocate(capacity: 257)
            items = .allocate(capacity: max(1, words.count))
            var n = 0
            for b in 0..<256 {
                bucketStart[b] = Int32(n)
                for (k, w) in words.enumerated() where Int(w[0]) == b { items[n] = Int32(k); n += 1 }
            }
            bucketStart[256] = Int32(n)
        }
        deinit {
            bytes.deallocate(); offsets.deallocate(); bucketStart.deallocate(); items.deallocate()
        }
    }

    public init(rules: OTPRules = .defaults) {
        self.rules = rules
        compiled = rules.rules.map(CompiledRule.init)
        keywordIndex = KeywordIndex(Self.keywords + rules.rules.flatMap(\.keywords))
    }

    /// The service a sender id belongs to, by the compiled rules.
    public func service(forSender sender: String) -> String? { match(sender: sender).service }

    /// Words that announce a code, in the languages the storefront serves.
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
    static let promoWords = ["promo", "coupon", "discount", "off", "скидк", "cupom", "descuento"]
    static let promoIndex = KeywordIndex(promoWords)
    static let currency: [[UInt8]] = ["$", "€", "£", "¥", "₽", "₹", "₺", "r$", "usd", "eur", "gbp", "rub", "руб", "inr", "rs", "aed", "brl", "try", "tl", "сум", "₴", "грн", "cny", "元"].map { Array($0.utf8) }
    static let phoneWords: [[UInt8]] = ["call", "tel", "phone", "звоните", "тел", "ligue", "llame"].map { Array($0.utf8) }

    /// The compiled rule for a sender, resolved once per message by the router.
    public struct SenderMatch: Sendable {
        let rule: CompiledRule?
        public var service: String? { rule?.rule.service }
    }

    /// What a message's text and sender say once its order (if any) is known: the
    /// service (the lease's, else the sender's), the code, and whether the sender
    /// belongs to another service than the order's. One place for routing at receipt
    /// and for late matching.
    public struct CodeDecision: Hashable, Sendable {
        public var service: String?
        public var code: String?
        public var confidence: Double?
        public var rule: String?
        public var serviceMismatch = false
    }

    public func decide(text: String, isBinary: Bool, sender: String, leaseService: String?) -> CodeDecision {
        let leased = leaseService.flatMap { $0.isEmpty ? nil : $0 }
        let senderMatch = match(sender: sender)
        var c = CodeDecision(service: leased ?? senderMatch.service)
        // The order's service decides which rule applies; the sender is the fallback.
        if !isBinary, let r = extract(text: text, sender: senderMatch, service: leased) {
            c.code = r.code
            c.confidence = r.confidence
            c.rule = r.rule
        }
        if let ls = leased, let ss = senderMatch.service, ss != ls { c.serviceMismatch = true }
        return c
    }

    public func match(sender: String) -> SenderMatch {
        let lower = sender.lowercased()
        var bytes = lower
        return bytes.withUTF8 { b in
            let ascii = CompiledRule.isPrintableASCII(b) && b.baseAddress != nil ? b : nil
            return SenderMatch(rule: compiled.first { $0.matches(lower, ascii: ascii) })
        }
    }

    public func extract(text: String, sender: String? = nil, service: String? = nil) -> OTPResult? {
        extract(text: text, sender: sender.map { match(sender: $0) } ?? SenderMatch(rule: nil), service: service)
    }

    public func extract(text: String, sender: SenderMatch, service: String? = nil) -> OTPResult? {
        let senderRule = sender.rule
        let serviceRule = service.flatMap { s in compiled.first { $0.rule.service == s } }
        var t = text
        return t.withUTF8 { raw in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count + 1) { lowerBuf in
                withUnsafeTemporaryAllocation(of: Hit.self, capacity: 64) { hitBuf in
                    let lower = UnsafeBufferPointer(Self.fold(raw, into: lowerBuf))
                    var ctx = Context(raw: raw, lower: lower, index: keywordIndex, hitBuf: hitBuf)
                    for r in [senderRule, serviceRule === senderRule ? nil : serviceRule] {
                        guard let r else { continue }
                        for (name, template) in r.templates {
                            if let (a, b) = Self.matchTemplate(template, &ctx) {
                                return OTPResult(code: String(decoding: raw[a..<b], as: UTF8.self), confidence: 0.97, rule: "\(r.rule.service):\(name)")
                            }
                        }
                    }
                    guard let best = Self.generic(&ctx) else { return nil }
                    var confidence = best.score
                    if senderRule != nil || serviceRule != nil { confidence = min(1, confidence + 0.05) }
                    guard confidence >= rules.minimumConfidence else { return nil }
                    return OTPResult(code: best.code(raw), confidence: (confidence * 100).rounded() / 100, rule: "generic")
                }
            }
        }
    }

    struct Hit { var start: Int32; var end: Int32 }

    /// One message's bytes, with the keyword hits found lazily (a lone template match needs none).
    struct Context {
        let raw: UnsafeBufferPointer<UInt8>
        let lower: UnsafeBufferPointer<UInt8>
        let index: KeywordIndex
        let hitBuf: UnsafeMutableBufferPointer<Hit>
        var found: UnsafeMutableBufferPointer<Hit>?
        var count: Int { raw.count }

        init(raw: UnsafeBufferPointer<UInt8>, lower: UnsafeBufferPointer<UInt8>, index: KeywordIndex, hitBuf: UnsafeMutableBufferPointer<Hit>) {
            self.raw = raw
            self.lower = lower
            self.index = index
            self.hitBuf = hitBuf
        }

        mutating func hits() -> UnsafeMutableBufferPointer<Hit> {
            if let found { return found }
            let h = OTPExtractor.findHits(lower, index, into: hitBuf)
            found = h
            return h
        }
    }

    // MARK: Bytes

    /// Lowercases ASCII, Latin-1 capitals (C3 80–9E) and Cyrillic capitals (D0 80–AF), keeping byte offsets.
    static func fold(_ s: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> UnsafeMutableBufferPointer<UInt8> {
        var i = 0
        while i < s.count {
            let c = s[i]
            if c < 0x80 {
                out[i] = (c >= 0x41 && c <= 0x5A) ? c + 0x20 : c
                i += 1
            } else if (c == 0xC3 || c == 0xD0), i + 1 < s.count {
                let d = s[i + 1]
                if c == 0xC3, d >= 0x80, d <= 0x9E, d != 0x97 {
                    out[i] = 0xC3; out[i + 1] = d + 0x20
                } else if c == 0xD0, d >= 0x90, d <= 0x9F {
                    out[i] = 0xD0; out[i + 1] = d + 0x20  // А–П → а–п
                } else if c == 0xD0, d >= 0xA0, d <= 0xAF {
                    out[i] = 0xD1; out[i + 1] = d - 0x20  // Р–Я → р–я
                } else if c == 0xD0, d >= 0x80, d <= 0x8F {
                    out[i] = 0xD1; out[i + 1] = d + 0x10  // Ѐ–Џ → ѐ–џ
                } else {
                    out[i] = c; out[i + 1] = d
                }
                i += 2
            } else {
                out[i] = c
                i += 1
            }
        }
        return UnsafeMutableBufferPointer(rebasing: out[0..<s.count])
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    @inline(__always) static func isASCIILetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    @inline(__always) static func isASCIIAlnum(_ c: UInt8) -> Bool { isDigit(c) || isASCIILetter(c) }

    /// Is the character starting at (or, for `before`, ending just before) `i` a letter or digit?
    /// Non-ASCII: two-byte scripts (Latin, Greek, Cyrillic, Hebrew, Arabic) and U+0800–U+0FFF
    /// (Indic, Thai) are letters; CJK and symbols are not, since codes sit right next to them.
    static func isWordChar(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i >= 0, i < s.count else { return false }
        let c = s[i]
        if c < 0x80 { return isASCIIAlnum(c) }
        if c >= 0xC3 && c <= 0xDB { return !(c == 0xC3 && i + 1 < s.count && (s[i + 1] == 0x97 || s[i + 1] == 0xB7)) }
        if c == 0xE0 { return true }
        return false
    }

    static func isWordChar(_ s: UnsafeBufferPointer<UInt8>, before i: Int) -> Bool {
        var j = i - 1
        while j >= 0, s[j] & 0xC0 == 0x80 { j -= 1 }  // back to the lead byte
        return isWordChar(s, at: j)
    }

    /// Every keyword occurrence (whole words for Latin keywords), in order.
    static func findHits(_ lower: UnsafeBufferPointer<UInt8>, _ index: KeywordIndex, into buf: UnsafeMutableBufferPointer<Hit>) -> UnsafeMutableBufferPointer<Hit> {
        var n = 0
        var i = 0
        let bucketStart = index.bucketStart, items = index.items, offsets = index.offsets, bytes = index.bytes
        while i < lower.count, n < buf.count {
            let b = Int(lower[i])
            var it = Int(bucketStart[b])
            let itEnd = Int(bucketStart[b + 1])
            while it < itEnd {
                let k = Int(items[it])
                it += 1
                let ks = Int(offsets[k]), ke = Int(offsets[k + 1]), len = ke - ks
                guard i + len <= lower.count else { continue }
                var eq = true
                var j = 1
                while j < len { if lower[i + j] != bytes[ks + j] { eq = false; break }; j += 1 }
                guard eq else { continue }
                if isASCIILetter(bytes[ks]), i > 0, isASCIILetter(lower[i - 1]) { continue }
                if isASCIILetter(bytes[ke - 1]), i + len < lower.count, isASCIILetter(lower[i + len]) { continue }
                buf[n] = Hit(start: Int32(i), end: Int32(i + len))
                n += 1
                break
            }
            i += 1
        }
        return UnsafeMutableBufferPointer(rebasing: buf[0..<n])
    }

    /// Bytes between a candidate at `pos` and the nearest keyword; a keyword after
    /// the candidate counts double ("482913 is your code"). Int.max when none.
    static func keywordDistance(_ hits: UnsafeMutableBufferPointer<Hit>, _ pos: Int) -> Int {
        var best = Int.max
        for h in hits {
            let d = Int(h.end) <= pos ? pos - Int(h.end) : (Int(h.start) - pos) * 2
            best = min(best, max(0, d))
        }
        return best
    }

    static func hasWord(_ lower: UnsafeBufferPointer<UInt8>, _ w: [UInt8], endingAt end: Int) -> Bool {
        guard end - w.count >= 0 else { return false }
        for j in 0..<w.count where lower[end - w.count + j] != w[j] { return false }
        return true
    }
    static func hasWord(_ lower: UnsafeBufferPointer<UInt8>, _ w: [UInt8], startingAt start: Int) -> Bool {
        guard start + w.count <= lower.count else { return false }
        for j in 0..<w.count where lower[start + j] != w[j] { return false }
        return true
    }

    static func isAmountOrDate(_ ctx: Context, _ start: Int, _ end: Int) -> Bool {
        let s = ctx.raw
        func sep(_ c: UInt8) -> Bool { c == 0x2E || c == 0x2C || c == 0x3A || c == 0x2F }  // . , : /
        // Decimal or thousands separators, times and dates: "12.50", "1,000", "12:30", "25/11", "2026-11-25".
        if end + 1 < s.count, sep(s[end]) || s[end] == 0x2D, isDigit(s[end + 1]) { return true }
        if start >= 2, sep(s[start - 1]) || s[start - 1] == 0x2D, isDigit(s[start - 2]) { return true }
        // Currency before or after, spaces skipped.
        var b = start
        while b > 0, s[b - 1] == 0x20 { b -= 1 }
        var a = end
        while a < s.count, s[a] == 0x20 { a += 1 }
        if a < s.count, s[a] == 0x25 { return true }  // %
        for c in currency where hasWord(ctx.lower, c, endingAt: b) || hasWord(ctx.lower, c, startingAt: a) { return true }
        return false
    }

    static func isPhoneContext(_ ctx: Context, _ start: Int) -> Bool {
        for j in max(0, start - 4)..<start where ctx.raw[j] == 0x2B { return true }  // "+1 415 ..."
        let from = max(0, start - 24)
        for w in phoneWords {
            var j = from
            while j + w.count <= start {
                if hasWord(ctx.lower, w, startingAt: j) { return true }
                j += 1
            }
        }
        return false
    }

    // MARK: Templates

    /// `#` digit, `?` optional digit, `A` ASCII letter or digit, anything else literal
    /// (case-insensitive). Returns the byte range of the best match: the one nearest a
    /// keyword, the first on a tie.
    static func matchTemplate(_ t: [UInt8], _ ctx: inout Context) -> (Int, Int)? {
        let s = ctx.lower
        guard let first = t.first else { return nil }
        var best: (start: Int, end: Int, distance: Int?)?
        var i = 0
        while i < s.count {
            let c = s[i]
            if first == 0x23 ? !isDigit(c) : (first != 0x3F && first != 0x41 && first != 0x61 && c != first) {
                i += 1
                continue
            }
            if !isWordChar(s, before: i), !(i >= 2 && (s[i - 1] == 0x2D || s[i - 1] == 0x5F) && isWordChar(s, before: i - 1)),
                let end = match(t, s, at: i), !isWordChar(s, at: end),
                !(end + 1 < s.count && s[end] == 0x2D && isWordChar(s, at: end + 1)), !isAmountOrDate(ctx, i, end)
            {
                if best == nil {
                    best = (i, end, nil)  // distances only matter once there are two matches
                } else {
                    let h = ctx.hits()
                    let bd = best!.distance ?? keywordDistance(h, best!.start)
                    best!.distance = bd
                    let d = keywordDistance(h, i)
                    if d < bd { best = (i, end, d) }
                }
                i = end
                continue
            }
            i += 1
        }
        return best.map { ($0.start, $0.end) }
    }

    @inline(__always)
    static func match(_ t: [UInt8], _ s: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        var i = start
        for p in t {
            switch p {
            case 0x23:  // #
                guard i < s.count, isDigit(s[i]) else { return nil }
                i += 1
            case 0x3F:  // ?
                if i < s.count, isDigit(s[i]) { i += 1 }
            case 0x61:  // "A" (lowercased with the template)
                guard i < s.count, isASCIIAlnum(s[i]) else { return nil }
                i += 1
            default:
                guard i < s.count, s[i] == p else { return nil }
                i += 1
            }
        }
        return i
    }

    // MARK: Generic

    struct Candidate {
        var start: Int
        var end: Int
        /// A second digit group joined to the first ("123-456" → "123456").
        var joinedAt: Int?
        var score: Double
        func code(_ raw: UnsafeBufferPointer<UInt8>) -> String {
            if let j = joinedAt {
                return String(decoding: raw[start..<j], as: UTF8.self) + String(decoding: raw[(j + 1)..<end], as: UTF8.self)
            }
            return String(decoding: raw[start..<end], as: UTF8.self)
        }
    }

    /// Scores every plausible token. Without a keyword nearby no candidate reaches
    /// the default threshold (0.5): a bare number in a text is an order number, a
    /// room or a balance far more often than a code.
    static func generic(_ ctx: inout Context) -> Candidate? {
        let s = ctx.raw
        var best: Candidate?
        var count = 0
        var i = 0
        while i < s.count {
            guard isASCIIAlnum(s[i]), !isWordChar(s, before: i) else { i += 1; continue }
            var k = i
            var digits = 0, letters = 0, lowers = 0
            while k < s.count, isASCIIAlnum(s[k]) {
                if isDigit(s[k]) { digits += 1 } else { letters += 1; if s[k] >= 0x61 { lowers += 1 } }
                k += 1
            }
            defer { i = max(k, i + 1) }
            // Attached to a word of another script ("1500р", "Rp125"): a unit or a currency.
            if isWordChar(s, at: k) { continue }
            var cand: Candidate?
            if letters > 0 {
                if digits == 0, letters <= 3, k + 1 < s.count, s[k] == 0x2D, isDigit(s[k + 1]) {
                    // "G-123456": a short letter prefix, a dash, 4–8 digits.
                    var e = k + 1
                    while e < s.count, isDigit(s[e]) { e += 1 }
                    if (4...8).contains(e - k - 1), !isWordChar(s, at: e) {
                        cand = Candidate(start: i, end: e, joinedAt: nil, score: 0.35)
                        k = e
                    }
                } else if (4...8).contains(k - i), digits >= 2, lowers == 0 {
                    // Mixed upper-case letters and digits ("7XK2Q"); a word then a number is a promo code ("SAVE20").
                    var p = i
                    while p < k, isASCIILetter(s[p]) { p += 1 }
                    let lettersThenDigits = p > i && (p..<k).allSatisfy { isDigit(s[$0]) }
                    if !lettersThenDigits { cand = Candidate(start: i, end: k, joinedAt: nil, score: 0.2) }
                }
            } else {
                var end = k
                var joined: Int?
                // "123-456" or "123 456".
                if k - i == 3, k + 4 <= s.count, s[k] == 0x2D || s[k] == 0x20, isDigit(s[k + 1]), isDigit(s[k + 2]), isDigit(s[k + 3]),
                    !isWordChar(s, at: k + 4)
                {
                    joined = k
                    end = k + 4
                    k = end
                }
                let n = end - i - (joined == nil ? 0 : 1)
                if (4...8).contains(n), !isAmountOrDate(ctx, i, end), !isPhoneContext(ctx, i) {
                    var score: Double = n == 6 ? 0.3 : (n == 4 || n == 5 ? 0.25 : 0.2)
                    if n == 4, let v = Int(String(decoding: s[i..<end], as: UTF8.self)), (1900...2099).contains(v) { score -= 0.1 }
                    cand = Candidate(start: i, end: end, joinedAt: joined, score: score)
                }
            }
            guard var c = cand else { continue }
            count += 1
            let d = keywordDistance(ctx.hits(), c.start)
            if d <= 64 { c.score += 0.45 - Double(d) * 0.003 }
            if best == nil || c.score > best!.score { best = c }
        }
        guard var b = best else { return nil }
        if count == 1 { b.score += 0.05 }
        withUnsafeTemporaryAllocation(of: Hit.self, capacity: 4) { promo in
            if !findHits(ctx.lower, promoIndex, into: promo).isEmpty { b.score -= 0.3 }
        }
        return b
    }
}
