/// The Prometheus text exposition read back, for tests that check what `/metrics` says
/// (the bridge itself reads `/metrics.json`).
package struct MetricSample {
    package var name: String
    package var labels: [String: String]
    package var value: Double

    package static func parse(_ text: String) -> [MetricSample] {
        var out: [MetricSample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sp = line.lastIndex(of: " "), let v = Double(line[line.index(after: sp)...]) else { continue }
            let head = line[..<sp]
            var labels: [String: String] = [:]
            var name = String(head)
            if let b = head.firstIndex(of: "{"), head.hasSuffix("}") {
                name = String(head[..<b])
                let inner = head[head.index(after: b)..<head.index(before: head.endIndex)]
                var rest = Substring(inner)
                while let eq = rest.firstIndex(of: "=") {
                    let k = String(rest[..<eq])
                    var i = rest.index(eq, offsetBy: 2)
                    var val = ""
                    while i < rest.endIndex, rest[i] != "\"" {
                        if rest[i] == "\\", rest.index(after: i) < rest.endIndex { i = rest.index(after: i) }
                        val.append(rest[i])
                        i = rest.index(after: i)
                    }
                    labels[k] = val
                    rest = i < rest.endIndex ? rest[rest.index(after: i)...] : ""
                    if rest.hasPrefix(",") { rest = rest.dropFirst() }
                }
            }
            out.append(MetricSample(name: name, labels: labels, value: v))
        }
        return out
    }
}
