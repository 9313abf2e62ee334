package import BridgeRuntime
package import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A small blocking HTTP/1.1 GET for `top` and `tail` against the bridge's own
/// metrics server (loopback, plain HTTP): Content-Length and chunked bodies, and
/// a streaming mode that hands over body bytes as they arrive.
enum HTTPGet {
    struct Failure: Error, CustomStringConvertible { var description: String }

    struct Target {
        var host: String
        var port: UInt16
        var basePath: String
        init(url: String) throws {
            var s = Substring(url)
            if s.hasPrefix("http://") { s = s.dropFirst(7) } else if s.contains("://") { throw Failure(description: "\(url): only http:// is supported") }
            let slash = s.firstIndex(of: "/") ?? s.endIndex
            let hostPort = s[..<slash]
            basePath = slash < s.endIndex ? String(s[slash...]) : ""
            if basePath.hasSuffix("/") { basePath.removeLast() }
            let parts = hostPort.split(separator: ":")
            host = parts.first.map(String.init) ?? "127.0.0.1"
            if host == "localhost" { host = "127.0.0.1" }
            guard parts.count <= 2, let p = UInt16(parts.count == 2 ? String(parts[1]) : "80") else { throw Failure(description: "\(url): bad port") }
            port = p
        }
    }

    static func connect(_ t: Target, timeout: Double) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = t.port.bigEndian
        guard inet_pton(AF_INET, t.host, &addr.sin_addr) == 1 else { close(fd); throw Failure(description: "\(t.host): not an IPv4 address") }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot reach the bridge at \(t.host):\(t.port): \(e)")
        }
        return fd
    }

    /// Fetches a whole body.
    static func get(_ url: String, path: String, timeout: Double = 5) throws -> (status: Int, body: String) {
        try request(url, path: path, timeout: timeout)
    }

    /// A request without a body (GET, or POST for admin actions) with extra headers; the whole response body.
    static func request(_ url: String, method: String = "GET", path: String, headers: [String: String] = [:],
                        timeout: Double = 5) throws -> (status: Int, body: String) {
        var body: [UInt8] = []
        let status = try stream(url, method: method, path: path, headers: headers, timeout: timeout) { body += $0; return true }
        return (status, String(decoding: body, as: UTF8.self))
    }

    /// Streams the body to `chunk` (return false to stop). Returns the status code.
    @discardableResult
    static func stream(_ url: String, method: String = "GET", path: String, headers: [String: String] = [:], timeout: Double,
                       _ chunk: ([UInt8]) -> Bool) throws -> Int {
        let t = try Target(url: url)
        let fd = try connect(t, timeout: timeout)
        defer { close(fd) }
        let extra = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\r\n" }.joined()
        let req = "\(method) \(t.basePath)\(path) HTTP/1.1\r\nHost: \(t.host):\(t.port)\r\nConnection: close\r\nAccept: */*\r\n\(extra)\r\n"
        _ = req.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var buf = [UInt8](repeating: 0, count: 65536)
        var data: [UInt8] = []
        func readMore() throws -> Bool {
            let n = recv(fd, &buf, buf.count, 0)
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return true }
                throw Failure(description: "read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return false }
            data += buf[0..<n]
            return true
        }
        var headerEnd: Int?
        while headerEnd == nil {
            guard try readMore() else { throw Failure(description: "connection closed before the response") }
            if let r = find(data, [13, 10, 13, 10]) { headerEnd = r }
        }
        let head = String(decoding: data[0..<headerEnd!], as: UTF8.self)
        data.removeFirst(headerEnd! + 4)
        let lines = head.split(separator: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let headers = lines.dropFirst().reduce(into: [String: String]()) { d, l in
            if let c = l.firstIndex(of: ":") { d[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces) }
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                while find(data, [13, 10]) == nil { guard try readMore() else { return status } }
                let le = find(data, [13, 10])!
                let size = Int(String(decoding: data[0..<le], as: UTF8.self).split(separator: ";").first ?? "", radix: 16) ?? 0
                data.removeFirst(le + 2)
                if size == 0 { return status }
                while data.count < size + 2 { guard try readMore() else { return status } }
                let piece = Array(data[0..<size])
                data.removeFirst(size + 2)
                if !chunk(piece) { return status }
            }
        }
        let length = headers["content-length"].flatMap { Int($0) }
        if !data.isEmpty { if !chunk(data) { return status } }
        var got = data.count
        data = []
        while length.map({ got < $0 }) ?? true {
            guard try readMore() else { break }
            got += data.count
            if !chunk(data) { break }
            data = []
        }
        return status
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<i + needle.count]) == needle { return i }
        }
        return nil
    }
}

/// One sample of a Prometheus text page.
struct MetricSample {
    var name: String
    var labels: [String: String]
    var value: Double

    static func parse(_ text: String) -> [MetricSample] {
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
