/// A cursor over a PDU's bytes that checks every bound once, on the way in.
///
/// All validation of a PDU happens here; the views built from it afterwards read
/// without checking again (postgres-nio's `DataRow` is the model). Offsets are
/// relative to the start of the PDU so that errors point at the byte on the wire.
@usableFromInline
struct ByteReader {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var offset: Int
    @usableFromInline let end: Int

    @inlinable
    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 16) {
        self.bytes = bytes
        self.offset = offset
        self.end = bytes.count
    }

    @inlinable var remaining: Int { end - offset }

    @inlinable
    mutating func u8(_ field: Field) throws(DecodeError) -> UInt8 {
        guard offset < end else { throw .truncated(field, offset: offset) }
        let v = bytes[offset]
        offset += 1
        return v
    }

    @inlinable
    mutating func u32(_ field: Field) throws(DecodeError) -> UInt32 {
        guard end - offset >= 4 else { throw .truncated(field, offset: offset) }
        let v = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        offset += 4
        return v
    }

    /// Steps over fixed one-octet fields, naming the first one that is missing.
    @inlinable
    mutating func skip(_ a: Field, _ b: Field, _ c: Field? = nil) throws(DecodeError) {
        let n = c == nil ? 2 : 3
        guard end - offset >= n else {
            let missing = end - offset
            throw .truncated(missing == 0 ? a : (missing == 1 ? b : c!), offset: end)
        }
        offset += n
    }

    /// Reads a C-Octet String and returns the range of its bytes, NUL excluded.
    /// `maximum` counts the NUL, as the spec's field sizes do.
    @inlinable
    mutating func cString(_ field: Field, maximum: Int) throws(DecodeError) -> Range<Int> {
        let start = offset
        let limit = min(end, start + maximum)
        var i = start
        while i < limit {
            if bytes[i] == 0 {
                offset = i + 1
                return start..<i
            }
            i += 1
        }
        if limit < end { throw .stringTooLong(field, maximum: maximum, offset: start) }
        throw .missingNUL(field, offset: start)
    }

    @inlinable
    mutating func octets(_ count: Int, smLengthAt: Int) throws(DecodeError) -> Range<Int> {
        guard end - offset >= count else {
            throw .shortMessageOverrun(smLength: count, available: end - offset, offset: smLengthAt)
        }
        defer { offset += count }
        return offset..<(offset + count)
    }
}

/// Appends wire bytes for the encoders. Kept tiny on purpose: encoding is a
/// memcpy of fields in spec order, nothing more.
public struct ByteWriter: Sendable {
    public var bytes: [UInt8]

    @inlinable public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inlinable public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inlinable public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inlinable public mutating func cString(_ s: COctetString) {
        bytes.append(contentsOf: s.bytes)
        bytes.append(0)
    }
    @inlinable public mutating func octets(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

    /// Writes the 16-byte header with a placeholder length; `finish` patches it.
    @inlinable public mutating func header(_ id: CommandID, _ status: CommandStatus, _ seq: UInt32) {
        u32(0)
        u32(id.rawValue)
        u32(status.rawValue)
        u32(seq)
    }

    /// Patches command_length at `start` to cover everything written since.
    @inlinable public mutating func finish(from start: Int = 0) {
        let len = UInt32(bytes.count - start)
        bytes[start] = UInt8(truncatingIfNeeded: len >> 24)
        bytes[start + 1] = UInt8(truncatingIfNeeded: len >> 16)
        bytes[start + 2] = UInt8(truncatingIfNeeded: len >> 8)
        bytes[start + 3] = UInt8(truncatingIfNeeded: len)
    }
}
