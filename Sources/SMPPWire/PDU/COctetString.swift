/// A C-Octet String field (SMPP 3.4 §3.1): bytes without the NUL.
///
/// Kept as bytes, not `String`: SMSCs put Latin-1 and worse into system_id and
/// addresses, and a lossless round trip (decode then encode gives the same
/// bytes) matters more than convenience. `string` reads it as Latin-1, which
/// maps every byte to one character and loses nothing.
public struct COctetString: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = Array(bytes) }

    public static let empty = COctetString(bytes: [])

    public var isEmpty: Bool { bytes.isEmpty }
    /// The bytes as text. ASCII and Latin-1 read exactly; other bytes become the
    /// Latin-1 character of the same value.
    public var string: String { latin1String(bytes) }
    public var description: String { string }
}

@usableFromInline
func latin1String(_ bytes: [UInt8]) -> String {
    // ASCII (nearly every address and system_id) is already UTF-8.
    if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
    var s = ""
    for b in bytes { s.unicodeScalars.append(Unicode.Scalar(b)) }
    return s
}
