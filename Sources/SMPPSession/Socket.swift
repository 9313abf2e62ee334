#if canImport(Glibc)
    import Glibc
#endif
public import Dispatch

/// Thin BSD-socket helpers: resolution, non-blocking connect with a timeout,
/// socket options, listening. Everything here is called on a connection's
/// serial queue or before one exists; nothing blocks a thread for a connection's
/// lifetime (only getaddrinfo, once per connect attempt, on a utility queue).
public enum Socket {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var errno: Int32
        public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
        public init(operation: String, errno: Int32) {
            self.operation = operation
            self.errno = errno
        }
    }

    /// Resolves host:port to addresses (IPv4 and IPv6), in getaddrinfo's order.
    public static func resolve(_ host: String, port: Int) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw Failure(operation: "resolve \(host): \(String(cString: gai_strerror(rc)))", errno: 0)
        }
        defer { freeaddrinfo(first) }
        var out: [[UInt8]] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let a = p {
            out.append(Array(UnsafeRawBufferPointer(start: a.pointee.ai_addr, count: Int(a.pointee.ai_addrlen))))
            p = a.pointee.ai_next
        }
        return out
    }

    static func family(_ addr: [UInt8]) -> Int32 {
        addr.withUnsafeBytes { Int32($0.load(as: sockaddr.self).sa_family) }
    }

    /// Writes to a socket the peer closed must fail with EPIPE, not kill the
    /// process: OpenSSL writes with plain write(2), without MSG_NOSIGNAL.
    public static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    public static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// TCP_NODELAY (SMPP is request/response: never wait for Nagle) and keepalive
    /// (detects a dead peer behind a silent NAT even when enquire_link is off).
    public static func tune(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
        var idle: Int32 = 30, intvl: Int32 = 10, cnt: Int32 = 3
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &intvl, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &cnt, socklen_t(MemoryLayout<Int32>.size))
        // SIGPIPE: Linux has no SO_NOSIGPIPE; every send passes MSG_NOSIGNAL instead.
    }

    /// Connects without blocking: tries each address in turn, each bounded by `timeout`.
    /// `completion` runs on `queue` with the connected fd or the last error.
    public static func connect(
        host: String, port: Int, timeout: Double, queue: DispatchQueue,
        completion: @escaping @Sendable (Result<Int32, Failure>) -> Void
    ) {
        DispatchQueue.global(qos: .utility).async {
            let addrs: [[UInt8]]
            do { addrs = try resolve(host, port: port) } catch let e as Failure {
                queue.async { completion(.failure(e)) }
                return
            } catch { return }
            queue.async { attempt(addrs, 0, timeout: timeout, queue: queue, last: nil, completion: completion) }
        }
    }

    private static func attempt(
        _ addrs: [[UInt8]], _ i: Int, timeout: Double, queue: DispatchQueue, last: Failure?,
        completion: @escaping @Sendable (Result<Int32, Failure>) -> Void
    ) {
        guard i < addrs.count else {
            completion(.failure(last ?? Failure(operation: "connect: no address", errno: EHOSTUNREACH)))
            return
        }
        let addr = addrs[i]
        let fd = socket(family(addr), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            attempt(addrs, i + 1, timeout: timeout, queue: queue, last: Failure(operation: "socket", errno: errno), completion: completion)
            return
        }
        setNonBlocking(fd)
        // An ESME sends responses and little else: a bounded kernel send buffer (the
        // kernel doubles this) keeps a peer that stops reading from holding megabytes
        // in the kernel, and lets the stall show within the response timeout.
        var sendBuffer: Int32 = 128 * 1024
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
        let rc = addr.withUnsafeBytes { Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(addr.count)) }
        if rc == 0 {
            tune(fd)
            completion(.success(fd))
            return
        }
        guard errno == EINPROGRESS else {
            let e = Failure(operation: "connect", errno: errno)
            close(fd)
            attempt(addrs, i + 1, timeout: timeout, queue: queue, last: e, completion: completion)
            return
        }
        // Completion (or failure) makes the socket writable.
        let ws = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let outcome = ConnectOutcome()
        ws.setEventHandler {
            guard outcome.settle(with: Self.pendingError(fd)) else { return }
            timer.cancel()
            ws.cancel()
        }
        timer.setEventHandler {
            guard outcome.settle(with: ETIMEDOUT) else { return }
            timer.cancel()
            ws.cancel()
        }
        // The descriptor is closed or handed on only here, once Dispatch has taken it
        // out of epoll. Closing it under a live source lets the next socket() reuse the
        // number while the old registration is still being torn down, which libdispatch
        // answers with a trap (found by `make fuzz-session`).
        ws.setCancelHandler {
            let err = outcome.error
            if err == 0 {
                tune(fd)
                completion(.success(fd))
                return
            }
            close(fd)
            let why = err == ETIMEDOUT ? "connect timed out" : "connect"
            attempt(addrs, i + 1, timeout: timeout, queue: queue, last: Failure(operation: why, errno: err), completion: completion)
        }
        timer.schedule(deadline: .now() + timeout)
        ws.resume()
        timer.resume()
    }

    /// The result of a non-blocking connect, read once the socket turned writable.
    private static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { return errno }
        return err
    }

    /// A listening socket on host:port (port 0 picks a free one). Returns (fd, port).
    public static func listen(host: String, port: Int, backlog: Int32 = 128) throws -> (Int32, Int) {
        let addrs = try resolve(host, port: port)
        guard let addr = addrs.first else { throw Failure(operation: "listen: no address", errno: EADDRNOTAVAIL) }
        let fd = socket(family(addr), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(operation: "socket", errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = addr.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(addr.count)) }
        guard rc == 0 else { let e = errno; close(fd); throw Failure(operation: "bind \(host):\(port)", errno: e) }
        guard Glibc.listen(fd, backlog) == 0 else { let e = errno; close(fd); throw Failure(operation: "listen", errno: e) }
        setNonBlocking(fd)
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) { getsockname(fd, UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self), &len) }
        let bound: Int = withUnsafeBytes(of: &ss) { p in
            let fam = Int32(p.load(as: sockaddr.self).sa_family)
            if fam == AF_INET6 { return Int(UInt16(bigEndian: p.load(as: sockaddr_in6.self).sin6_port)) }
            return Int(UInt16(bigEndian: p.load(as: sockaddr_in.self).sin_port))
        }
        return (fd, bound)
    }
}

/// How one connect attempt ended: set once, by whichever of the write source and
/// the timer fires first. Touched only on the connecting queue.
final class ConnectOutcome: @unchecked Sendable {
    private var settled = false
    private(set) var error: Int32 = 0
    func settle(with error: Int32) -> Bool {
        if settled { return false }
        settled = true
        self.error = error
        return true
    }
}
