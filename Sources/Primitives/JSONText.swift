/// A string's JSON escaping (without the quotes), for the JSON lines written by hand
/// where an encoder would cost too much per line (decode's output, log lines).
package func jsonEscaped(_ t: String) -> String {
    var s = ""
    s.reserveCapacity(t.utf8.count)
    for u in t.unicodeScalars {
        switch u {
        case "\"": s += "\\\""
        case "\\": s += "\\\\"
        case "\n": s += "\\n"
        case "\r": s += "\\r"
        case "\t": s += "\\t"
        default:
            if u.value < 0x20 || u.value == 0x7F {
                s += "\\u00" + String(UInt8(u.value) >> 4, radix: 16, uppercase: true) + String(UInt8(u.value) & 0xF, radix: 16, uppercase: true)
            } else {
                s.unicodeScalars.append(u)
            }
        }
    }
    return s
}

