/// An SMSC delivery receipt body (SMPP 3.4 Appendix B):
/// `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...`
///
/// The format is only "an example" in the spec, so SMSCs vary: keys are matched
/// case-insensitively, in any order, with any amount of space; unknown keys are
/// ignored; `text:` takes the rest of the body. Fields stay strings because
/// carriers put hex, decimal and garbage in `id` and `err`.
public struct DeliveryReceipt: Hashable, Sendable {
    public var id: String?
    public var sub: String?
    public var dlvrd: String?
    public var submitDate: String?
    public var doneDate: String?
    public var stat: String?
    public var err: String?
    public var text: String?

    /// The stat field as a message state, when it is one of the spec's words.
    public var state: MessageState? {
        guard let s = stat?.uppercased() else { return nil }
        switch s {
        case "ENROUTE": return .enroute
        case "DELIVRD", "DELIVERED": return .delivered
        case "EXPIRED": return .expired
        case "DELETED": return .deleted
        case "UNDELIV", "UNDELIVERABLE": return .undeliverable
        case "ACCEPTD", "ACCEPTED": return .accepted
        case "UNKNOWN": return .unknown
        case "REJECTD", "REJECTED": return .rejected
        default: return nil
        }
    }

    static let keys = ["submit date", "done date", "id", "sub", "dlvrd", "stat", "err", "text"]

    /// Parses a receipt body; nil when it has neither an `id:` nor a `stat:` field.
    public init?(_ body: String) {
        let lower = Array(body.lowercased().unicodeScalars)
        let original = Array(body.unicodeScalars)
        guard lower.count == original.count else { return nil }
        // Find every "key:" occurrence at a word boundary.
        var marks: [(key: String, keyStart: Int, valueStart: Int)] = []
        var i = 0
        while i < lower.count {
            let atBoundary = i == 0 || lower[i - 1] == " " || lower[i - 1] == "\n"
            if atBoundary {
                for k in Self.keys {
                    let ks = Array(k.unicodeScalars)
                    if i + ks.count < lower.count, Array(lower[i..<(i + ks.count)]) == ks, lower[i + ks.count] == ":" {
                        marks.append((k, i, i + ks.count + 1))
                        i += ks.count
                        break
                    }
                }
                if marks.last?.key == "text" { break }
            }
            i += 1
        }
        guard !marks.isEmpty else { return nil }
        for (n, m) in marks.enumerated() {
            let end = m.key == "text" ? original.count : (n + 1 < marks.count ? marks[n + 1].keyStart : original.count)
            var v = String(String.UnicodeScalarView(original[m.valueStart..<end]))
            if m.key != "text" { v = v.trimmingSpaces() } else if v.hasPrefix(" ") { v.removeFirst() }
            switch m.key {
            case "id": id = v
            case "sub": sub = v
            case "dlvrd": dlvrd = v
            case "submit date": submitDate = v
            case "done date": doneDate = v
            case "stat": stat = v
            case "err": err = v
            case "text": text = v
            default: break
            }
        }
        if id == nil && stat == nil { return nil }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\r" || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\r" || l == "\t" { s.removeLast() }
        return String(s)
    }
}
