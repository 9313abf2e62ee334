import Dispatch
package import Foundation
import SMPPSession
#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP/1.1 server behind `/metrics`, `/healthz`, `/readyz` and `/events`: GET
/// only, on one Dispatch queue, with every bound explicit (docs/operations.md,
/// "Limits"). FlyingFox served these before and has none of the bounds: no cap on
/// connections, no read or idle timeout, and a request head read without limit
/// (docs/decisions/003-bounded-http-server.md).
package final class BoundedHTTPServer: @unchecked Sendable {
    package struct Limits: Sendable {
        /// Open connections at most; one more is answered 503 and closed.
        package var maxConnections = 32
        /// A request line and its headers, at most; a longer head is answered 431 and closed.
        package var maxHeadBytes = 8192
        /// A request head must arrive whole within this of the connection opening or its last response.
        package var idleTimeout: Double = 10
        /// Output that has not moved for this long (a client that stopped reading) closes the connection.
        package var writeTimeout: Double = 10
        /// Output queued for one streamed response at most; a subscriber past it is dropped.
        package var maxStreamBacklog = 256 << 10
    }

    package struct Request: Sendable {
        package var method: String
        package var path: String
        package var query: [(String, String)]
        /// The Authorization header as sent (admin actions), if any.
        package var authorization: String? = nil
        /// The client's address ("127.0.0.1:40512"), and whether it is on loopback.
        package var peer: String = "-"
        package var peerIsLoopback = false
    }

    package enum Response: Sendable {
        case full(status: Int, contentType: String, body: String)
        /// Lines as they come, chunked, until the stream ends or the client goes.
        case stream(contentType: String, lines: AsyncStream<String>)
    }

    /// Why a connection was refused or closed early, for `smpp_bridge_http_refused_total{reason}`.
    package enum Refusal: String, CaseIterable, Sendable {
        case capacity, headTooLarge = "head_too_large", idleTimeout = "idle_timeout", writeStalled = "write_stalled",
             badRequest = "bad_request", slowSubscriber = "slow_subscriber"
    }

    package let limits: Limits
    private let queue = DispatchQueue(label: "smpp.bridge.http")
    private let handler: @Sendable (Request) -> Response
    private let onRefusal: @Sendable (Refusal) -> Void
    private let onConnections: @Sendable (Int) -> Void
    private var listener: Int32 = -1
    private var acceptSource: (any DispatchSourceRead)?
    private var sweeper: (any DispatchSourceTimer)?
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private(set) var boundPort = 0

    package init(limits: Limits = Limits(), onRefusal: @escaping @Sendable (Refusal) -> Void = { _ in },
         onConnections: @escaping @Sendable (Int) -> Void = { _ in }, handler: @escaping @Sendable (Request) -> Response) {
        self.limits = limits
        self.handler = handler
        self.onRefusal = onRefusal
        self.onConnections = onConnections
    }

    package var openConnections: Int { queue.sync { connections.count } }

    /// Listens on host:port and serves until `stop`.
    package func start(host: String, port: Int) throws {
        let (fd, bound) = try Socket.listen(host: host, port: port)
        try queue.sync {
            guard listener < 0 else { close(fd); throw Socket.Failure(operation: "http: started twice", errno: EINVAL) }
            listener = fd
            boundPort = bound
            let s = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            s.setEventHandler { [unowned self] in acceptAll() }
            s.setCancelHandler { close(fd) }
            s.resume()
            acceptSource = s
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now() + 1, repeating: 1, leeway: .milliseconds(200))
            t.setEventHandler { [unowned self] in sweep() }
            t.resume()
            sweeper = t
        }
    }

    package func stop() {
        queue.sync {
            acceptSource?.cancel()
            acceptSource = nil
            sweeper?.cancel()
            sweeper = nil
            for c in connections.values { c.close() }
            connections.removeAll()
            listener = -1
        }
    }

    private func acceptAll() {
        while true {
            var addr = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &len) } }
            if fd < 0 { return }  // EAGAIN: all taken; anything else: the next event retries
            Socket.setNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard connections.count < limits.maxConnections else {
                onRefusal(.capacity)  // counted before the answer: whoever reads the 503 sees the count
                let msg = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n"
                _ = msg.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(fd)
                continue
            }
            let c = HTTPConnection(fd: fd, server: self, peer: Self.describe(addr))
            connections[ObjectIdentifier(c)] = c
            onConnections(connections.count)
            c.start()
        }
    }

    /// Once a second: timeouts. A connection waiting for a request head past the idle
    /// timeout, or whose output has not moved for the write timeout, is closed.
    private func sweep() {
        let now = DispatchTime.now().uptimeNanoseconds
        for c in connections.values {
            if let reason = c.expired(now: now, limits: limits) {
                onRefusal(reason)
                c.close()
            }
        }
    }

    /// "host:port" and whether the address is loopback (127/8, ::1, or IPv4-mapped 127/8).
    package static func describe(_ addr: sockaddr_storage) -> (text: String, loopback: Bool) {
        var a = addr
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let len = socklen_t(a.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, len, &host, socklen_t(host.count), &serv, socklen_t(serv.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard rc == 0 else { return ("-", false) }
        let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let p = String(decoding: serv.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let loopback = h.hasPrefix("127.") || h == "::1" || h.hasPrefix("::ffff:127.")
        return (h.contains(":") ? "[\(h)]:\(p)" : "\(h):\(p)", loopback)
    }

    fileprivate func closed(_ c: HTTPConnection) {
        connections.removeValue(forKey: ObjectIdentifier(c))
        onConnections(connections.count)
    }
    fileprivate func refused(_ r: Refusal) { onRefusal(r) }
    fileprivate func handle(_ r: Request) -> Response { handler(r) }
    fileprivate var serverQueue: DispatchQueue { queue }
}

/// One client connection. Every member is touched on the server's queue only.
private final class HTTPConnection: @unchecked Sendable {
    package let fd: Int32
    unowned package let server: BoundedHTTPServer
    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    private var writePaused = true
    private let fdUsers = DispatchGroup()
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var outputHead = 0
    /// When the connection last became idle (opened or answered): the head must come by `idleSince + idleTimeout`.
    private var idleSince: UInt64
    /// When output was last written, or nil while none is pending.
    private var stalledSince: UInt64?
    private var streaming: Task<Void, Never>?
    private var closeAfterFlush = false
    private var isClosed = false

    package let peer: (text: String, loopback: Bool)

    package init(fd: Int32, server: BoundedHTTPServer, peer: (text: String, loopback: Bool)) {
        self.fd = fd
        self.server = server
        self.peer = peer
        idleSince = DispatchTime.now().uptimeNanoseconds
    }

    package func start() {
        let q = server.serverQueue
        let r = DispatchSource.makeReadSource(fileDescriptor: fd, queue: q)
        r.setEventHandler { [self] in readable() }
        let fd = fd
        // The fd closes once every source made for it is cancelled (Dispatch requires it stay open until then).
        fdUsers.enter()
        r.setCancelHandler { [fdUsers] in fdUsers.leave() }
        r.resume()
        readSource = r
        fdUsers.notify(queue: q) { Glibc.close(fd) }
    }

    /// Watches for writability, the source made the first time output is pending: a
    /// source resumed only to be cancelled at once races libdispatch's registration
    /// against the cancel (the double free `make fuzz-session` found in the session's
    /// Connection; Tests/FuzzSession/crashes/README.md).
    private func armWrite() {
        guard writePaused, !isClosed else { return }
        writePaused = false
        if let w = writeSource { w.resume(); return }
        let w = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: server.serverQueue)
        w.setEventHandler { [self] in flush() }
        fdUsers.enter()
        w.setCancelHandler { [fdUsers] in fdUsers.leave() }
        writeSource = w
        w.resume()
    }

    package func expired(now: UInt64, limits: BoundedHTTPServer.Limits) -> BoundedHTTPServer.Refusal? {
        if let since = stalledSince, now &- since > UInt64(limits.writeTimeout * 1e9) { return .writeStalled }
        if streaming == nil, stalledSince == nil, now &- idleSince > UInt64(limits.idleTimeout * 1e9) { return .idleTimeout }
        return nil
    }

    private func readable() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !isClosed {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                if streaming == nil && !closeAfterFlush { input.append(contentsOf: chunk[0..<n]) }  // after a response that closes, input is ignored
                if input.count > server.limits.maxHeadBytes + 4096 { break }  // enough to judge: stop reading
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { close(); return }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
        }
        processRequests()
    }

    /// Answers every whole request head in the input, in order (pipelining), until one streams or closes.
    private func processRequests() {
        let limit = server.limits.maxHeadBytes
        while !isClosed, streaming == nil, !closeAfterFlush {
            guard let end = headEnd() else {
                if input.count > limit {
                    server.refused(.headTooLarge)
                    respond(status: 431, body: "request head larger than \(limit) bytes\n", close: true)
                }
                return
            }
            guard end <= limit else {
                server.refused(.headTooLarge)
                respond(status: 431, body: "request head larger than \(limit) bytes\n", close: true)
                return
            }
            let head = String(decoding: input[0..<end], as: UTF8.self)
            input.removeFirst(end + 4)
            switch HTTPRequestHead.parse(head) {
            case .failure(let problem):
                server.refused(.badRequest)
                respond(status: problem.status, body: problem.message + "\n", close: true)
            case .success(let head):
                idleSince = DispatchTime.now().uptimeNanoseconds
                let response = server.handle(BoundedHTTPServer.Request(method: head.method, path: head.path, query: head.query,
                                                                       authorization: head.authorization, peer: peer.text, peerIsLoopback: peer.loopback))
                switch response {
                case .full(let status, let type, let body):
                    respond(status: status, contentType: type, body: head.method == "HEAD" ? "" : body, close: !head.keepAlive,
                            length: body.utf8.count)
                case .stream(let type, let lines):
                    startStream(type, lines)
                }
            }
        }
    }

    private func headEnd() -> Int? {
        guard input.count >= 4 else { return nil }
        for i in 0...(input.count - 4) where input[i] == 13 && input[i + 1] == 10 && input[i + 2] == 13 && input[i + 3] == 10 { return i }
        return nil
    }

    private func respond(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, close: Bool, length: Int? = nil) {
        var h = "HTTP/1.1 \(status) \(HTTPRequestHead.reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(length ?? body.utf8.count)\r\n"
        h += close ? "Connection: close\r\n\r\n" : "\r\n"
        if close { closeAfterFlush = true }  // flush closes once all is written
        write(Array(h.utf8) + Array(body.utf8))
    }

    private func startStream(_ type: String, _ lines: AsyncStream<String>) {
        write(Array("HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8))
        let q = server.serverQueue
        // The task holds the connection until its stream ends; close() cancels it, which ends the stream.
        streaming = Task { [self] in
            for await line in lines {
                let chunk = Array((String(line.utf8.count + 1, radix: 16) + "\r\n" + line + "\n\r\n").utf8)
                q.async { self.streamed(chunk) }
            }
            q.async { self.streamed(Array("0\r\n\r\n".utf8), last: true) }
        }
    }

    private func streamed(_ chunk: [UInt8], last: Bool = false) {
        guard !isClosed else { return }
        if output.count - outputHead > server.limits.maxStreamBacklog {
            server.refused(.slowSubscriber)
            close()
            return
        }
        if last { closeAfterFlush = true }
        write(chunk)
    }

    private func write(_ bytes: [UInt8]) {
        output.append(contentsOf: bytes)
        flush()
    }

    private func flush() {
        while outputHead < output.count, !isClosed {
            let n = output.withUnsafeBytes { send(fd, $0.baseAddress! + outputHead, output.count - outputHead, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                outputHead += n
                stalledSince = DispatchTime.now().uptimeNanoseconds
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                armWrite()
                return
            }
            if n < 0 && errno == EINTR { continue }
            close()
            return
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 << 10)
        outputHead = 0
        stalledSince = nil
        if !writePaused { writeSource?.suspend(); writePaused = true }
        if closeAfterFlush { close() }
    }

    package func close() {
        guard !isClosed else { return }
        isClosed = true
        streaming?.cancel()  // ends the subscription: EventHub drops it
        streaming = nil
        readSource?.cancel()
        if writePaused { writeSource?.resume() }  // a suspended source cannot be cancelled
        writeSource?.cancel()
        server.closed(self)
    }
}

/// A request head, parsed and checked: GET and HEAD only, no body, a path and a query.
package struct HTTPRequestHead: Sendable, Equatable {
    package var method: String
    package var path: String
    package var query: [(String, String)]
    package var keepAlive: Bool
    package var authorization: String? = nil

    package struct Problem: Error, Equatable {
        package var status: Int
        package var message: String
    }

    package static func == (a: Self, b: Self) -> Bool {
        a.method == b.method && a.path == b.path && a.keepAlive == b.keepAlive && a.query.map { "\($0)=\($1)" } == b.query.map { "\($0)=\($1)" }
    }

    package static func parse(_ head: String) -> Result<HTTPRequestHead, Problem> {
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let parts = lines.first?.split(separator: " ", omittingEmptySubsequences: false) ?? []
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return .failure(Problem(status: 400, message: "bad request line")) }
        let method = String(parts[0])
        // POST only for admin actions, which take no body either (their arguments are in the path and query).
        guard method == "GET" || method == "HEAD" || method == "POST" else { return .failure(Problem(status: 405, message: "only GET, HEAD and POST")) }
        var keepAlive = parts[2] == "HTTP/1.1"
        var authorization: String?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return .failure(Problem(status: 400, message: "bad header line")) }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).lowercased()
            switch name {
            case "content-length" where value != "0", "transfer-encoding":
                return .failure(Problem(status: 413, message: "no request body is accepted"))
            case "connection":
                if value.contains("close") { keepAlive = false }
                if value.contains("keep-alive") { keepAlive = true }
            case "authorization":
                authorization = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            default: break
            }
        }
        let target = parts[1]
        guard target.hasPrefix("/") else { return .failure(Problem(status: 400, message: "bad request target")) }
        let pieces = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard let path = String(pieces[0]).removingPercentEncoding else { return .failure(Problem(status: 400, message: "bad path")) }
        var query: [(String, String)] = []
        if pieces.count == 2 {
            for item in pieces[1].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let plus = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
                guard let k = plus(kv[0]), let v = kv.count == 2 ? plus(kv[1]) : "" else {
                    return .failure(Problem(status: 400, message: "bad query encoding"))
                }
                query.append((k, v))
            }
        }
        return .success(HTTPRequestHead(method: method, path: path, query: query, keepAlive: keepAlive, authorization: authorization))
    }

    package static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 409: "Conflict"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
