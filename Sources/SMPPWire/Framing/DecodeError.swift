/// A mandatory field, named as the SMPP 3.4 spec names it, so that an error reads
/// like the spec ("source_addr at offset 23 has no NUL").
public enum Field: String, Sendable, Hashable {
    case commandLength = "command_length"
    case serviceType = "service_type"
    case sourceAddrTON = "source_addr_ton"
    case sourceAddrNPI = "source_addr_npi"
    case sourceAddr = "source_addr"
    case destAddrTON = "dest_addr_ton"
    case destAddrNPI = "dest_addr_npi"
    case destinationAddr = "destination_addr"
    case esmClass = "esm_class"
    case protocolID = "protocol_id"
    case priorityFlag = "priority_flag"
    case scheduleDeliveryTime = "schedule_delivery_time"
    case validityPeriod = "validity_period"
    case registeredDelivery = "registered_delivery"
    case replaceIfPresentFlag = "replace_if_present_flag"
    case dataCoding = "data_coding"
    case smDefaultMsgID = "sm_default_msg_id"
    case smLength = "sm_length"
    case shortMessage = "short_message"
    case systemID = "system_id"
    case password = "password"
    case systemType = "system_type"
    case interfaceVersion = "interface_version"
    case addrTON = "addr_ton"
    case addrNPI = "addr_npi"
    case addressRange = "address_range"
    case messageID = "message_id"
    case finalDate = "final_date"
    case messageState = "message_state"
    case errorCode = "error_code"
    case numberOfDests = "number_of_dests"
    case destFlag = "dest_flag"
    case dlName = "dl_name"
    case noUnsuccess = "no_unsuccess"
    case errorStatusCode = "error_status_code"
    case esmeAddrTON = "esme_addr_ton"
    case esmeAddrNPI = "esme_addr_npi"
    case esmeAddr = "esme_addr"
    case tlv = "tlv"

    /// The command_status that answers a bad value in this field, where the spec
    /// has a specific one; nil means the generic length/parameter status applies.
    var specificStatus: CommandStatus? {
        switch self {
        case .sourceAddr, .esmeAddr: .invalidSourceAddress
        case .destinationAddr: .invalidDestinationAddress
        case .serviceType: .invalidServiceType
        case .messageID: .invalidMessageID
        case .systemID: .invalidSystemID
        case .password: .invalidPassword
        case .systemType: .invalidSystemType
        case .scheduleDeliveryTime: .invalidScheduledDeliveryTime
        case .validityPeriod: .invalidExpiry
        case .dlName: .invalidDistributionListName
        default: nil
        }
    }
}

/// Why a PDU could not be decoded, and where (the byte offset from the start of the PDU).
///
/// Every case maps to the command_status the session answers with, so the
/// session can send generic_nack or an error response and keep the bind while
/// framing is intact. `isFramingFatal` tells the cases where it is not.
public enum DecodeError: Error, Hashable, Sendable {
    /// command_length is below the 16-byte header. The stream cannot be resynchronised.
    case commandLengthTooSmall(UInt32, offset: Int)
    /// command_length is above the configured maximum. The stream cannot be trusted.
    case commandLengthTooLarge(UInt32, limit: Int, offset: Int)
    /// command_length disagrees with the number of bytes handed to the decoder.
    case commandLengthMismatch(declared: UInt32, actual: Int, offset: Int)
    /// The command_id is not an SMPP 3.4 command.
    case unknownCommandID(CommandID, offset: Int)
    /// The body ended inside a fixed-size mandatory field.
    case truncated(Field, offset: Int)
    /// A C-Octet String ran to the end of the body without its NUL.
    case missingNUL(Field, offset: Int)
    /// A C-Octet String is longer than the spec allows (maximum includes the NUL).
    case stringTooLong(Field, maximum: Int, offset: Int)
    /// sm_length points past the end of the body.
    case shortMessageOverrun(smLength: Int, available: Int, offset: Int)
    /// Fewer than 4 bytes remain where a TLV header should start.
    case tlvHeaderTruncated(remaining: Int, offset: Int)
    /// A TLV's length runs past the end of the PDU.
    case tlvOverrun(TLVTag, length: Int, available: Int, offset: Int)
    /// A TLV's length is outside what the spec allows for its tag.
    case tlvInvalidLength(TLVTag, length: Int, allowed: ClosedRange<Int>, offset: Int)
    /// A TLV that must accompany another one is missing (e.g. sar_total_segments without sar_msg_ref_num).
    case missingTLV(TLVTag, offset: Int)
    /// A submit_multi dest_flag that is neither 1 (SME address) nor 2 (distribution list).
    case invalidDestFlag(UInt8, offset: Int)

    /// Byte offset, from the start of the PDU, where the fault was found.
    public var offset: Int {
        switch self {
        case .commandLengthTooSmall(_, let o), .commandLengthTooLarge(_, _, let o),
            .commandLengthMismatch(_, _, let o), .unknownCommandID(_, let o), .truncated(_, let o),
            .missingNUL(_, let o), .stringTooLong(_, _, let o), .shortMessageOverrun(_, _, let o),
            .tlvHeaderTruncated(_, let o), .tlvOverrun(_, _, _, let o), .tlvInvalidLength(_, _, _, let o),
            .missingTLV(_, let o), .invalidDestFlag(_, let o):
            return o
        }
    }

    /// The command_status that answers this fault.
    public var commandStatus: CommandStatus {
        switch self {
        case .commandLengthTooSmall, .commandLengthTooLarge, .commandLengthMismatch, .truncated:
            return .invalidCommandLength
        case .unknownCommandID: return .invalidCommandID
        case .missingNUL(let f, _): return f == .shortMessage ? .invalidMessageLength : .invalidCommandLength
        case .stringTooLong(let f, _, _): return f.specificStatus ?? .invalidParameterLength
        case .shortMessageOverrun: return .invalidMessageLength
        case .tlvHeaderTruncated: return .invalidTLVStream
        case .tlvOverrun, .tlvInvalidLength: return .invalidParameterLength
        case .missingTLV: return .missingTLV
        case .invalidDestFlag: return .invalidDestinationFlag
        }
    }

    /// True when the byte stream itself can no longer be trusted: the session must
    /// close the connection instead of answering and reading on.
    public var isFramingFatal: Bool {
        switch self {
        case .commandLengthTooSmall, .commandLengthTooLarge: true
        default: false
        }
    }

    /// Every `code`, one instance of each case: metrics create their series at 0 from the
    /// start with it (a counter that appears only at its first event hides it from `increase()`).
    public static let allCodes: [String] = [
        DecodeError.commandLengthTooSmall(0, offset: 0), .commandLengthTooLarge(0, limit: 0, offset: 0),
        .commandLengthMismatch(declared: 0, actual: 0, offset: 0), .unknownCommandID(CommandID(rawValue: 0), offset: 0),
        .truncated(.commandLength, offset: 0), .missingNUL(.commandLength, offset: 0), .stringTooLong(.commandLength, maximum: 0, offset: 0),
        .shortMessageOverrun(smLength: 0, available: 0, offset: 0), .tlvHeaderTruncated(remaining: 0, offset: 0),
        .tlvOverrun(TLVTag(rawValue: 0), length: 0, available: 0, offset: 0), .tlvInvalidLength(TLVTag(rawValue: 0), length: 0, allowed: 0...0, offset: 0),
        .missingTLV(TLVTag(rawValue: 0), offset: 0), .invalidDestFlag(0, offset: 0),
    ].map(\.code)

    /// A stable machine name for the fault (metrics labels, JSON, fixtures).
    public var code: String {
        switch self {
        case .commandLengthTooSmall: "command_length_too_small"
        case .commandLengthTooLarge: "command_length_too_large"
        case .commandLengthMismatch: "command_length_mismatch"
        case .unknownCommandID: "unknown_command_id"
        case .truncated: "truncated"
        case .missingNUL: "missing_nul"
        case .stringTooLong: "string_too_long"
        case .shortMessageOverrun: "sm_length_overrun"
        case .tlvHeaderTruncated: "tlv_header_truncated"
        case .tlvOverrun: "tlv_overrun"
        case .tlvInvalidLength: "tlv_invalid_length"
        case .missingTLV: "missing_tlv"
        case .invalidDestFlag: "invalid_dest_flag"
        }
    }
}

extension DecodeError: CustomStringConvertible {
    /// A sentence an operator can act on. It never contains field values, only
    /// names, lengths and offsets, so it is safe to log (no numbers, no codes).
    public var description: String {
        let what: String
        switch self {
        case .commandLengthTooSmall(let l, _): what = "command_length \(l) is below the 16-byte header"
        case .commandLengthTooLarge(let l, let limit, _): what = "command_length \(l) exceeds the limit of \(limit)"
        case .commandLengthMismatch(let d, let a, _): what = "command_length \(d) but \(a) bytes were given"
        case .unknownCommandID(let id, _): what = "command_id 0x\(hex32(id.rawValue)) is not an SMPP 3.4 command"
        case .truncated(let f, _): what = "body ends inside \(f.rawValue)"
        case .missingNUL(let f, _): what = "\(f.rawValue) has no terminating NUL before the end of the body"
        case .stringTooLong(let f, let m, _): what = "\(f.rawValue) is longer than its maximum of \(m) octets"
        case .shortMessageOverrun(let l, let a, _): what = "sm_length \(l) but only \(a) bytes remain"
        case .tlvHeaderTruncated(let r, _): what = "\(r) trailing bytes are too few for a TLV header"
        case .tlvOverrun(let t, let l, let a, _): what = "TLV \(t) length \(l) overruns the PDU (\(a) bytes remain)"
        case .tlvInvalidLength(let t, let l, let r, _):
            what = "TLV \(t) length \(l) is outside \(r.lowerBound)...\(r.upperBound)"
        case .missingTLV(let t, _): what = "TLV \(t) is required here but missing"
        case .invalidDestFlag(let f, _): what = "dest_flag \(f) is neither 1 nor 2"
        }
        return "\(what) at offset \(offset) (\(commandStatus))"
    }
}
