/// Masks what must not leak into output by default: all but the last two digits
/// of a number, and runs of 4+ digits in a text (where OTP codes live).
public enum Redact {
    public static func number(_ s: String) -> String {
        let chars = Array(s)
        guard chars.count > 4, chars.allSatisfy({ $0.isNumber || $0 == "+" }) else {
            return chars.allSatisfy({ $0.isNumber }) ? String(repeating: "*", count: chars.count) : s
        }
        return String(repeating: "*", count: chars.count - 2) + String(chars.suffix(2))
    }

    public static func text(_ s: String) -> String {
        var out = ""
        var run = ""
        func flush() {
            let digits = run.filter(\.isNumber).count
            out += digits >= 4 ? String(run.map { $0.isNumber ? "*" : $0 }) : run
            run = ""
        }
        for c in s {
            if c.isNumber || (!run.isEmpty && (c == "-" || c == " ") ) {
                run.append(c)
            } else {
                flush()
                out.append(c)
            }
        }
        flush()
        return out
    }
}
