/// The 16-byte header every PDU starts with (SMPP 3.4 §3.2).
public struct PDUHeader: Hashable, Sendable {
    public var commandLength: UInt32
    public var commandID: CommandID
    public var commandStatus: CommandStatus
    public var sequenceNumber: UInt32

    @inlinable
    public init(commandLength: UInt32, commandID: CommandID, commandStatus: CommandStatus, sequenceNumber: UInt32) {
        self.commandLength = commandLength
        self.commandID = commandID
        self.commandStatus = commandStatus
        self.sequenceNumber = sequenceNumber
    }

    /// Reads a header from the first 16 bytes. The caller guarantees `bytes.count >= 16`.
    @inlinable
    init(unchecked bytes: UnsafeRawBufferPointer) {
        commandLength = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        commandID = CommandID(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        commandStatus = CommandStatus(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        sequenceNumber = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    }
}

/// Limits on what the framer accepts. The maximum protects memory: a peer that
/// announces a 2 GiB PDU is not buffered, it is disconnected.
public struct FrameLimits: Hashable, Sendable {
    /// The header alone is 16 bytes; anything shorter is not SMPP.
    public static let minimumCommandLength = 16
    /// The largest command_length accepted. Default 64 KiB, which holds the largest
    /// message_payload a carrier sends with room to spare.
    public var maximumCommandLength: Int

    public init(maximumCommandLength: Int = 64 * 1024) {
        self.maximumCommandLength = max(Self.minimumCommandLength, maximumCommandLength)
    }

    public static let `default` = FrameLimits()
}

/// One complete PDU as a view into the receive buffer: no bytes are copied.
///
/// Valid only while the buffer it came from is not mutated; the framer hands it
/// to a closure to make that lifetime plain.
public struct PDUFrame {
    /// Exactly `command_length` bytes, header included.
    public let bytes: UnsafeRawBufferPointer

    /// Wraps bytes that already passed `PDUFrame.scan` (count == command_length >= 16).
    @inlinable public init(unchecked bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Wraps one complete PDU, checking that command_length matches the bytes.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, limits: FrameLimits = .default) throws(DecodeError) {
        switch PDUFrame.scan(bytes, limits: limits) {
        case .frame(let length):
            guard length == bytes.count else {
                throw .commandLengthMismatch(declared: UInt32(length), actual: bytes.count, offset: 0)
            }
        case .incomplete:
            if bytes.count >= 4 {
                let declared = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                throw .commandLengthMismatch(declared: declared, actual: bytes.count, offset: 0)
            }
            throw .truncated(.commandLength, offset: 0)
        case .invalid(let e):
            throw e
        }
        self.bytes = bytes
    }

    @inlinable public var header: PDUHeader { PDUHeader(unchecked: bytes) }
    @inlinable public var commandLength: Int { bytes.count }
    @inlinable public var commandID: CommandID {
        CommandID(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
    }
    @inlinable public var commandStatus: CommandStatus {
        CommandStatus(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
    }
    @inlinable public var sequenceNumber: UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    }

    /// What the start of a byte stream holds.
    public enum Scan: Hashable, Sendable {
        /// A whole PDU of this many bytes is at the start.
        case frame(length: Int)
        /// More bytes are needed; `needed` is the total the next PDU requires, when known.
        case incomplete(needed: Int?)
        /// The stream announces an impossible length; the connection must be closed.
        case invalid(DecodeError)
    }

    /// Looks at the start of `bytes` for one PDU. Pure and allocation-free, so the
    /// session framer and the capture tool (`decode --summary`) share it.
    @inlinable
    public static func scan(_ bytes: UnsafeRawBufferPointer, limits: FrameLimits = .default) -> Scan {
        guard bytes.count >= 4 else { return .incomplete(needed: nil) }
        let length = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        if length < UInt32(FrameLimits.minimumCommandLength) {
            return .invalid(.commandLengthTooSmall(length, offset: 0))
        }
        if length > UInt32(limits.maximumCommandLength) {
            return .invalid(.commandLengthTooLarge(length, limit: limits.maximumCommandLength, offset: 0))
        }
        let n = Int(length)
        return bytes.count >= n ? .frame(length: n) : .incomplete(needed: n)
    }
}

/// Cuts PDUs out of a byte stream that arrives in arbitrary pieces: several PDUs
/// in one read, or one PDU over many reads.
///
/// The socket reads straight into the buffer's free tail (`readInto`), and each
/// complete PDU is handed out as a `PDUFrame` over that same storage, so a PDU
/// is never copied between the kernel and the decoder. Space is reclaimed by
/// sliding the unread remainder to the front only when the tail runs short.
public struct FrameDecoder: Sendable {
    public let limits: FrameLimits
    @usableFromInline var storage: [UInt8]
    @usableFromInline var readIndex = 0
    @usableFromInline var writeIndex = 0
    /// Set once framing failed; the stream is then unusable.
    @usableFromInline var _failed: DecodeError?
    public var failed: DecodeError? { _failed }

    public init(limits: FrameLimits = .default, initialCapacity: Int = 16 * 1024) {
        self.limits = limits
        storage = [UInt8](repeating: 0, count: max(initialCapacity, 64))
    }

    /// Bytes received but not yet handed out as frames.
    @inlinable public var bufferedByteCount: Int { writeIndex - readIndex }

    /// Makes room for at least `minimum` bytes at the tail.
    @usableFromInline
    mutating func reserveTail(_ minimum: Int) {
        if storage.count - writeIndex >= minimum { return }
        let pending = writeIndex - readIndex
        if readIndex > 0 {
            if pending > 0 {
                storage.withUnsafeMutableBytes { p in
                    let base = p.baseAddress!
                    (base).copyMemory(from: base + readIndex, byteCount: pending)
                }
            }
            readIndex = 0
            writeIndex = pending
        }
        if storage.count - writeIndex < minimum {
            var newCount = storage.count * 2
            while newCount - writeIndex < minimum { newCount *= 2 }
            storage.append(contentsOf: repeatElement(0, count: newCount - storage.count))
        }
    }

    /// Appends bytes that were read elsewhere.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        reserveTail(bytes.count)
        storage.withUnsafeMutableBytes { p in
            UnsafeMutableRawBufferPointer(rebasing: p[writeIndex..<(writeIndex + bytes.count)]).copyMemory(from: bytes)
        }
        writeIndex += bytes.count
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Lets a reader (a socket `read`, `SSL_read`) fill the free tail directly.
    /// `body` returns how many bytes it wrote (0 or negative: none).
    public mutating func readInto(minimumCapacity: Int = 4096, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        // Grow to hold the PDU being assembled in one piece, when its size is known.
        reserveTail(minimumCapacity)
        let start = writeIndex
        let n = storage.withUnsafeMutableBytes { p in
            body(UnsafeMutableRawBufferPointer(rebasing: p[start..<p.count]))
        }
        if n > 0 { writeIndex += n }
        return n
    }

    /// Hands the next complete PDU to `body`, or returns nil when more bytes are needed.
    ///
    /// Throws the framing error (command_length below 16 or above the limit) once the
    /// stream is insane; afterwards every call throws it again.
    @inlinable
    public mutating func nextFrame<R>(_ body: (PDUFrame) throws -> R) throws -> R? {
        if let f = _failed { throw f }
        let start = readIndex
        let available = writeIndex - readIndex
        let scan = storage.withUnsafeBytes { p in
            PDUFrame.scan(UnsafeRawBufferPointer(rebasing: p[start..<(start + available)]), limits: limits)
        }
        switch scan {
        case .incomplete:
            if available == 0 { readIndex = 0; writeIndex = 0 }
            return nil
        case .invalid(let e):
            _failed = e
            throw e
        case .frame(let length):
            readIndex += length
            return try storage.withUnsafeBytes { p in
                try body(PDUFrame(unchecked: UnsafeRawBufferPointer(rebasing: p[start..<(start + length)])))
            }
        }
    }
}
