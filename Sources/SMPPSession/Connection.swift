#if canImport(Glibc)
    import Glibc
#endif
import Primitives
import COpenSSL
public import Dispatch
public import SMPPWire

/// Why a connection ended.
public enum CloseReason: Hashable, Sendable, CustomStringConvertible {
    case peerClosed
    case readError(Int32)
    case writeError(Int32)
    /// command_length below 16 or above the limit: the stream cannot be trusted.
    case framing(DecodeError)
    /// TLS handshake or record failure (certificate verification included).
    case tls(String)
    case local(String)

    public var description: String {
        switch self {
        case .peerClosed: "peer closed the connection"
        case .readError(let e): "read error: \(String(cString: strerror(e)))"
        case .writeError(let e): "write error: \(String(cString: strerror(e)))"
        case .framing(let e): "insane framing: \(e)"
        case .tls(let why): why
        case .local(let why): why
        }
    }

    /// A short label for metrics ("reconnects with their reasons").
    public var label: String {
        switch self {
        case .peerClosed: "peer_closed"
        case .readError: "read_error"
        case .writeError: "write_error"
        case .framing: "framing"
        case .tls: "tls"
        case .local(let why): why.split(separator: " ").first.map(String.init) ?? "local"
        }
    }
}

/// One SMPP byte stream over a non-blocking socket, driven by Dispatch read and
/// write sources on one serial queue.
///
/// Confinement: every member is touched only on `queue` (the class is
/// `@unchecked Sendable` for that reason; there is no lock). Frames are handed to
/// `onFrame` as views into the receive buffer, valid only during the call.
public final class Connection: @unchecked Sendable {
    public let queue: DispatchQueue
    public let fd: Int32
    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    private var writeArmed = false
    /// The read source is suspended: by the owner (`pauseReading`), or because output is backed up.
    private var readPaused = false
    private var ownerPaused = false
    private var outputPaused = false
    /// Queued output past which reading stops: a peer that does not read our responses
    /// gets no more requests read from it (each would add a response), so memory stays
    /// bounded by this plus one read. It resumes under half of it.
    public var maxPendingOutput = 256 * 1024
    /// When queued output last moved (monotonic ns): the owner closes a connection whose
    /// output has not moved for its response timeout (`outputStalledNanos`).
    private var lastOutputProgress: UInt64 = 0
    private var framer: FrameDecoder
    private var outbox: [UInt8] = []
    private var outboxSent = 0
    public private(set) var isClosed = false
    public private(set) var bytesIn = 0
    public private(set) var bytesOut = 0

    /// Called on `queue` for every complete PDU.
    public var onFrame: ((PDUFrame) -> Void)?
    /// Called once, on `queue`, when the connection ends.
    public var onClose: ((CloseReason) -> Void)?
    /// Called on `queue` when the TLS handshake completed (TLS connections only).
    public var onEstablished: ((String) -> Void)?

    private var tls: TLSChannel?
    /// While > 0, `send` only queues: the bytes go out in one write when the batch
    /// ends (a read batch's acks, a burst of deliver_sm).
    private var batchDepth = 0
    private var closing = false
    private var handshaking = false
    /// SSL_write asked to read first (renegotiation): flush again once readable.
    private var writeWaitsForRead = false

    public init(fd: Int32, queue: DispatchQueue, limits: FrameLimits = .default) {
        self.fd = fd
        self.queue = queue
        framer = FrameDecoder(limits: limits, initialCapacity: 64 * 1024)
        Socket.ignoreSIGPIPE
        Socket.setNonBlocking(fd)
    }

    /// A connection dropped without `close` (its owner went away) still must not
    /// release suspended Dispatch sources, and must close its descriptor.
    deinit {
        guard !isClosed else { return }
        let users = (readSource == nil ? 0 : 1) + (writeSource == nil ? 0 : 1)
        if users == 0 {
            Glibc.close(fd)
            return
        }
        let closer = FDCloser(fd: fd, users: users)
        if let rs = readSource {
            rs.setCancelHandler { closer.release() }
            if readPaused { rs.resume() }
            rs.cancel()
        }
        if let ws = writeSource {
            ws.setCancelHandler { closer.release() }
            if !writeArmed { ws.resume() }
            ws.cancel()
        }
    }

    /// Starts reading. Call on `queue`.
    public func start() {
        dispatchPrecondition(condition: .onQueue(queue))
        let rs = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        rs.setEventHandler { [weak self] in self?.readable() }
        readSource = rs
        rs.resume()
    }

    /// Watches for writability. The write source is made the first time it is needed,
    /// not at start: a source activated only to be cancelled at once (a connection closed
    /// before it ever filled its socket) raced libdispatch's registration against its
    /// cancellation (a double free in `_dispatch_unote_unregister_muxed`, found by
    /// `make fuzz-session` after 231,801 inputs; Tests/FuzzSession/crashes/README.md).
    private func armWrite() {
        guard !writeArmed, !isClosed else { return }
        writeArmed = true
        if let ws = writeSource {
            ws.resume()
        } else {
            let ws = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
            ws.setEventHandler { [weak self] in self?.flush() }
            writeSource = ws
            ws.resume()
        }
    }

    /// Starts reading over TLS: the handshake runs first, driven by the same sources.
    public func startTLS(_ context: TLSContext, host: String) {
        dispatchPrecondition(condition: .onQueue(queue))
        do {
            tls = try TLSChannel(context: context, fd: fd, host: host)
        } catch {
            start()
            close(.tls("\(error)"))
            return
        }
        handshaking = true
        start()
        driveHandshake()
    }

    private func driveHandshake() {
        guard let tls, handshaking, !isClosed else { return }
        switch tls.handshake() {
        case .done:
            handshaking = false
            if writeArmed, outboxSent >= outbox.count {
                writeArmed = false
                writeSource?.suspend()
            }
            onEstablished?(tls.protocolVersion)
            flush()
            queue.async { [weak self] in self?.readable() }
        case .wantRead:
            if writeArmed {
                writeArmed = false
                writeSource?.suspend()
            }
        case .wantWrite:
            armWrite()
        case .closed:
            close(.tls("peer closed the connection during the TLS handshake"))
        case .failed(let why):
            close(.tls(why))
        }
    }

    // MARK: Reading

    private func readable() {
        guard !isClosed else { return }
        batchDepth += 1
        defer {
            batchDepth -= 1
            if batchDepth == 0, !isClosed, pendingOutput > 0 { flush() }
        }
        if handshaking {
            driveHandshake()
            return
        }
        if tls != nil {
            readTLS()
            return
        }
        // A bounded number of reads per event keeps one busy peer from starving the queue.
        for _ in 0..<16 {
            let n = framer.readInto(minimumCapacity: 16 * 1024) { buf in
                read(fd, buf.baseAddress, buf.count)
            }
            if n > 0 {
                bytesIn += n
                if !deliverFrames() { return }
                if readPaused { return }
                continue
            }
            if n == 0 { close(.peerClosed); return }
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
            close(.readError(e))
            return
        }
    }

    private func readTLS() {
        guard let tls else { return }
        if writeWaitsForRead {
            writeWaitsForRead = false
            flush()
        }
        // Drain everything OpenSSL can give: decrypted bytes may sit in its buffer
        // with nothing left on the socket to wake the read source.
        var failure: CloseReason?
        while !isClosed && !readPaused {
            var outcome = 0
            let n = framer.readInto(minimumCapacity: 16 * 1024) { buf in
                switch tls.read(buf) {
                case .done(let n): return n
                case .wantRead: outcome = 1; return 0
                case .wantWrite: outcome = 2; return 0
                case .closed: outcome = 3; return 0
                case .failed(let why): failure = .tls(why); outcome = 4; return 0
                }
            }
            if n > 0 {
                bytesIn += n
                if !deliverFrames() { return }
                continue
            }
            switch outcome {
            case 2:
                armWrite()
                return
            case 3: close(.peerClosed); return
            case 4: close(failure ?? .tls("TLS read failed")); return
            default: return
            }
        }
    }

    /// Hands buffered frames out while reading is not paused. False once closed.
    @discardableResult
    private func deliverFrames() -> Bool {
        while !isClosed && !readPaused {
            do {
                let got: Bool? = try framer.nextFrame { frame in
                    self.onFrame?(frame)
                    return true
                }
                if got == nil { break }
            } catch let e as DecodeError {
                close(.framing(e))
                return false
            } catch {
                close(.local("unexpected framing error"))
                return false
            }
        }
        return !isClosed
    }

    /// Backpressure: stop reading the socket (TCP then slows the peer) and stop
    /// handing out already-buffered frames.
    public func pauseReading() {
        dispatchPrecondition(condition: .onQueue(queue))
        ownerPaused = true
        applyReadState()
    }

    public func resumeReading() {
        dispatchPrecondition(condition: .onQueue(queue))
        ownerPaused = false
        applyReadState()
    }

    /// Whether the owner paused reading (output backpressure is the connection's own).
    public var isReadingPaused: Bool { ownerPaused }
    /// Whether reading stopped because the peer is not reading its responses.
    public var isOutputBackedUp: Bool { outputPaused }

    /// How long our output has not moved, in nanoseconds (0 with nothing outstanding).
    /// Outstanding counts the kernel's send queue too: a peer that stops reading (and
    /// so stops acknowledging) can hold everything there while our own queue is empty.
    /// Movement is the peer acknowledging bytes (TCP_INFO's bytes_acked).
    public func outputStalledNanos(now: UInt64) -> UInt64 {
        let acked = Self.bytesAcked(fd)
        if acked != lastBytesAcked {
            lastBytesAcked = acked
            lastOutputProgress = now
        }
        var kernelQueued: Int32 = 0
        _ = ioctl(fd, UInt(0x5411), &kernelQueued)  // TIOCOUTQ (SIOCOUTQ): not yet acknowledged by the peer
        if pendingOutput == 0 && kernelQueued == 0 {
            lastOutputProgress = now
            return 0
        }
        return now > lastOutputProgress ? now - lastOutputProgress : 0
    }

    private var lastBytesAcked: UInt64 = 0

    /// `tcpi_bytes_acked` of Linux's `struct tcp_info` (offset 120 since Linux 4.1; the
    /// struct only grows). Glibc's `tcp_info` predates the field.
    static func bytesAcked(_ fd: Int32) -> UInt64 {
        var buf = [UInt8](repeating: 0, count: 256)
        var len = socklen_t(buf.count)
        let rc = buf.withUnsafeMutableBytes { getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, $0.baseAddress, &len) }
        guard rc == 0, len >= 128 else { return 0 }
        return buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 120, as: UInt64.self) }
    }

    private func applyReadState() {
        guard !isClosed else { return }
        let pause = ownerPaused || outputPaused
        if pause, !readPaused {
            readPaused = true
            readSource?.suspend()
        } else if !pause, readPaused {
            readPaused = false
            readSource?.resume()
            // Frames that arrived before the pause are still buffered.
            if deliverFrames() { queue.async { [weak self] in self?.readable() } }
        }
    }

    /// Output over `maxPendingOutput` stops reading; under half of it, reading goes on.
    private func checkOutput() {
        if !outputPaused, pendingOutput > maxPendingOutput {
            outputPaused = true
            applyReadState()
        } else if outputPaused, pendingOutput <= maxPendingOutput / 2 {
            outputPaused = false
            applyReadState()
        }
    }

    // MARK: Writing

    /// Queues bytes and writes as much as the socket takes now.
    public func send(_ bytes: UnsafeRawBufferPointer) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed else { return }
        if pendingOutput == 0 { lastOutputProgress = Clock.monotonicNanos() }
        outbox.append(contentsOf: bytes)
        if batchDepth == 0 { flush() }
        checkOutput()
    }

    /// Starts coalescing writes until the matching `endBatch`.
    public func beginBatch() {
        dispatchPrecondition(condition: .onQueue(queue))
        batchDepth += 1
    }

    public func endBatch() {
        dispatchPrecondition(condition: .onQueue(queue))
        batchDepth -= 1
        if batchDepth == 0, !isClosed, pendingOutput > 0 { flush() }
    }

    /// Runs `body` with writes coalesced into one flush at the end.
    public func batch(_ body: () -> Void) {
        dispatchPrecondition(condition: .onQueue(queue))
        batchDepth += 1
        body()
        batchDepth -= 1
        if batchDepth == 0, !isClosed, pendingOutput > 0 { flush() }
    }

    public func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { send($0) } }
    public func send(_ pdu: PDU) { send(pdu.encode()) }

    public var pendingOutput: Int { outbox.count - outboxSent }

    private func flush() {
        guard !isClosed else { return }
        if handshaking {
            driveHandshake()
            return
        }
        if let tls {
            flushTLS(tls)
            return
        }
        while outboxSent < outbox.count {
            let n = outbox.withUnsafeBytes { p in
                Glibc.send(fd, p.baseAddress! + outboxSent, p.count - outboxSent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outboxSent += n
                bytesOut += n
                lastOutputProgress = Clock.monotonicNanos()
                continue
            }
            let e = errno
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) {
                compactOutbox()
                checkOutput()
                armWrite()
                return
            }
            if n < 0 && e == EINTR { continue }
            close(.writeError(e))
            return
        }
        outboxDrained()
    }

    private func flushTLS(_ tls: TLSChannel) {
        while outboxSent < outbox.count {
            let r = outbox.withUnsafeBytes { p in tls.write(UnsafeRawBufferPointer(rebasing: p[outboxSent...])) }
            switch r {
            case .done(let n):
                outboxSent += n
                bytesOut += n
                lastOutputProgress = Clock.monotonicNanos()
            case .wantWrite:
                compactOutbox()
                checkOutput()
                armWrite()
                return
            case .wantRead:
                writeWaitsForRead = true
                return
            case .closed:
                close(.peerClosed)
                return
            case .failed(let why):
                close(.tls(why))
                return
            }
        }
        outboxDrained()
    }

    /// A peer that reads slowly but never lets the outbox empty: what was sent is
    /// dropped from its front once it is most of it.
    private func compactOutbox() {
        if outboxSent > 64 * 1024, outboxSent * 2 > outbox.count {
            outbox.removeFirst(outboxSent)
            outboxSent = 0
        }
    }

    /// Everything was written: reset the outbox and stop watching for writability.
    private func outboxDrained() {
        outbox.removeAll(keepingCapacity: outbox.capacity < 1 << 20)
        outboxSent = 0
        if outputPaused { checkOutput() }
        if writeArmed {
            writeArmed = false
            writeSource?.suspend()
        }
    }

    // MARK: Closing

    /// Closes the socket and reports `reason` once. Sources are resumed before
    /// being cancelled (Dispatch must not release a suspended source).
    public func close(_ reason: CloseReason) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed else { return }
        // Whatever was queued in the current batch (an unbind_resp before a close)
        // goes out first, best effort and without blocking.
        if !closing, pendingOutput > 0, !handshaking {
            closing = true
            batchDepth = 0
            flush()
            if isClosed { return }
        }
        isClosed = true
        if let tls, tls.established { _ = SSL_shutdown(tls.ssl) }  // best-effort close_notify
        let rs = readSource, ws = writeSource
        // The fd is closed once both sources have finished cancelling, never under them.
        if readSource == nil && writeSource == nil {
            Glibc.close(fd)
        } else {
            let closer = FDCloser(fd: fd, users: (readSource == nil ? 0 : 1) + (writeSource == nil ? 0 : 1))
            readSource?.setCancelHandler { closer.release() }
            writeSource?.setCancelHandler { closer.release() }
        }
        readSource = nil
        writeSource = nil
        if let rs {
            if readPaused { rs.resume() }
            rs.cancel()
        }
        if let ws {
            if !writeArmed { ws.resume() }
            ws.cancel()
        }
        let cb = onClose
        onClose = nil
        onFrame = nil
        cb?(reason)
    }
}

/// Closes a descriptor after its last Dispatch source has cancelled.
final class FDCloser: @unchecked Sendable {
    private let fd: Int32
    private var users: Int
    init(fd: Int32, users: Int) {
        self.fd = fd
        self.users = users
    }
    /// Called from the sources' cancel handlers, which run on the connection's serial queue.
    func release() {
        users -= 1
        if users == 0 { Glibc.close(fd) }
    }
}
