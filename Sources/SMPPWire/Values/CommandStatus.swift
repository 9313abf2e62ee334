/// The `command_status` of an SMPP PDU (SMPP 3.4 §5.1.3): the error code of a response.
///
/// Modelled on swift-system's `Errno`: a struct so that vendor-specific codes
/// (0x400–0x4FF) and codes from later versions survive a round trip, Swift names
/// for reading, and the spec spelling as a renamed alias so the spec can be
/// searched against the code.
public struct CommandStatus: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public var isOK: Bool { rawValue == 0 }
    /// No error. (ESME_ROK, 0x00000000)
    public static let ok = CommandStatus(0x00000000)
    /// Message length is invalid (sm_length, or a short_message past the body). (ESME_RINVMSGLEN, 0x00000001)
    public static let invalidMessageLength = CommandStatus(0x00000001)
    /// Command length is invalid. (ESME_RINVCMDLEN, 0x00000002)
    public static let invalidCommandLength = CommandStatus(0x00000002)
    /// Invalid command ID. (ESME_RINVCMDID, 0x00000003)
    public static let invalidCommandID = CommandStatus(0x00000003)
    /// Incorrect bind status for the given command. (ESME_RINVBNDSTS, 0x00000004)
    public static let invalidBindStatus = CommandStatus(0x00000004)
    /// ESME already in bound state. (ESME_RALYBND, 0x00000005)
    public static let alreadyBound = CommandStatus(0x00000005)
    /// Invalid priority flag. (ESME_RINVPRTFLG, 0x00000006)
    public static let invalidPriorityFlag = CommandStatus(0x00000006)
    /// Invalid registered delivery flag. (ESME_RINVREGDLVFLG, 0x00000007)
    public static let invalidRegisteredDeliveryFlag = CommandStatus(0x00000007)
    /// System error. (ESME_RSYSERR, 0x00000008)
    public static let systemError = CommandStatus(0x00000008)
    /// Invalid source address. (ESME_RINVSRCADR, 0x0000000A)
    public static let invalidSourceAddress = CommandStatus(0x0000000A)
    /// Invalid destination address. (ESME_RINVDSTADR, 0x0000000B)
    public static let invalidDestinationAddress = CommandStatus(0x0000000B)
    /// Message ID is invalid. (ESME_RINVMSGID, 0x0000000C)
    public static let invalidMessageID = CommandStatus(0x0000000C)
    /// Bind failed. (ESME_RBINDFAIL, 0x0000000D)
    public static let bindFailed = CommandStatus(0x0000000D)
    /// Invalid password. (ESME_RINVPASWD, 0x0000000E)
    public static let invalidPassword = CommandStatus(0x0000000E)
    /// Invalid system ID. (ESME_RINVSYSID, 0x0000000F)
    public static let invalidSystemID = CommandStatus(0x0000000F)
    /// cancel_sm failed. (ESME_RCANCELFAIL, 0x00000011)
    public static let cancelFailed = CommandStatus(0x00000011)
    /// replace_sm failed. (ESME_RREPLACEFAIL, 0x00000013)
    public static let replaceFailed = CommandStatus(0x00000013)
    /// Message queue full. (ESME_RMSGQFUL, 0x00000014)
    public static let messageQueueFull = CommandStatus(0x00000014)
    /// Invalid service type. (ESME_RINVSERTYP, 0x00000015)
    public static let invalidServiceType = CommandStatus(0x00000015)
    /// Invalid number of destinations. (ESME_RINVNUMDESTS, 0x00000033)
    public static let invalidNumberOfDestinations = CommandStatus(0x00000033)
    /// Invalid distribution list name. (ESME_RINVDLNAME, 0x00000034)
    public static let invalidDistributionListName = CommandStatus(0x00000034)
    /// Destination flag is invalid (submit_multi). (ESME_RINVDESTFLAG, 0x00000040)
    public static let invalidDestinationFlag = CommandStatus(0x00000040)
    /// Invalid 'submit with replace' request. (ESME_RINVSUBREP, 0x00000042)
    public static let invalidSubmitWithReplace = CommandStatus(0x00000042)
    /// Invalid esm_class field data. (ESME_RINVESMCLASS, 0x00000043)
    public static let invalidESMClass = CommandStatus(0x00000043)
    /// Cannot submit to distribution list. (ESME_RCNTSUBDL, 0x00000044)
    public static let cannotSubmitToDistributionList = CommandStatus(0x00000044)
    /// submit_sm or submit_multi failed. (ESME_RSUBMITFAIL, 0x00000045)
    public static let submitFailed = CommandStatus(0x00000045)
    /// Invalid source address TON. (ESME_RINVSRCTON, 0x00000048)
    public static let invalidSourceTON = CommandStatus(0x00000048)
    /// Invalid source address NPI. (ESME_RINVSRCNPI, 0x00000049)
    public static let invalidSourceNPI = CommandStatus(0x00000049)
    /// Invalid destination address TON. (ESME_RINVDSTTON, 0x00000050)
    public static let invalidDestinationTON = CommandStatus(0x00000050)
    /// Invalid destination address NPI. (ESME_RINVDSTNPI, 0x00000051)
    public static let invalidDestinationNPI = CommandStatus(0x00000051)
    /// Invalid system_type field. (ESME_RINVSYSTYP, 0x00000053)
    public static let invalidSystemType = CommandStatus(0x00000053)
    /// Invalid replace_if_present flag. (ESME_RINVREPFLAG, 0x00000054)
    public static let invalidReplaceIfPresentFlag = CommandStatus(0x00000054)
    /// Invalid number of messages. (ESME_RINVNUMMSGS, 0x00000055)
    public static let invalidNumberOfMessages = CommandStatus(0x00000055)
    /// Throttling error (ESME has exceeded allowed message limits). (ESME_RTHROTTLED, 0x00000058)
    public static let throttled = CommandStatus(0x00000058)
    /// Invalid scheduled delivery time. (ESME_RINVSCHED, 0x00000061)
    public static let invalidScheduledDeliveryTime = CommandStatus(0x00000061)
    /// Invalid message validity period (expiry time). (ESME_RINVEXPIRY, 0x00000062)
    public static let invalidExpiry = CommandStatus(0x00000062)
    /// Predefined message invalid or not found. (ESME_RINVDFTMSGID, 0x00000063)
    public static let invalidDefaultMessageID = CommandStatus(0x00000063)
    /// ESME receiver temporary app error code: the peer should retry later. (ESME_RX_T_APPN, 0x00000064)
    public static let temporaryAppError = CommandStatus(0x00000064)
    /// ESME receiver permanent app error code. (ESME_RX_P_APPN, 0x00000065)
    public static let permanentAppError = CommandStatus(0x00000065)
    /// ESME receiver reject message error code. (ESME_RX_R_APPN, 0x00000066)
    public static let rejectedAppError = CommandStatus(0x00000066)
    /// query_sm request failed. (ESME_RQUERYFAIL, 0x00000067)
    public static let queryFailed = CommandStatus(0x00000067)
    /// Error in the optional part of the PDU body (SMPP 5.0 spelling: ESME_RINVTLVSTREAM). (ESME_RINVOPTPARSTREAM, 0x000000C0)
    public static let invalidTLVStream = CommandStatus(0x000000C0)
    /// Optional parameter not allowed (SMPP 5.0 spelling: ESME_RTLVNOTALLWD). (ESME_ROPTPARNOTALLWD, 0x000000C1)
    public static let tlvNotAllowed = CommandStatus(0x000000C1)
    /// Invalid parameter length (SMPP 5.0 spelling: ESME_RINVTLVLEN). (ESME_RINVPARLEN, 0x000000C2)
    public static let invalidParameterLength = CommandStatus(0x000000C2)
    /// Expected optional parameter missing (SMPP 5.0 spelling: ESME_RMISSINGTLV). (ESME_RMISSINGOPTPARAM, 0x000000C3)
    public static let missingTLV = CommandStatus(0x000000C3)
    /// Invalid optional parameter value (SMPP 5.0 spelling: ESME_RINVTLVVAL). (ESME_RINVOPTPARAMVAL, 0x000000C4)
    public static let invalidTLVValue = CommandStatus(0x000000C4)
    /// Delivery failure (used for data_sm_resp). (ESME_RDELIVERYFAILURE, 0x000000FE)
    public static let deliveryFailure = CommandStatus(0x000000FE)
    /// Unknown error. (ESME_RUNKNOWNERR, 0x000000FF)
    public static let unknownError = CommandStatus(0x000000FF)

    /// Every code SMPP 3.4 defines, in spec order.
    public static let allSMPP34: [CommandStatus] = [
        .ok,
        .invalidMessageLength,
        .invalidCommandLength,
        .invalidCommandID,
        .invalidBindStatus,
        .alreadyBound,
        .invalidPriorityFlag,
        .invalidRegisteredDeliveryFlag,
        .systemError,
        .invalidSourceAddress,
        .invalidDestinationAddress,
        .invalidMessageID,
        .bindFailed,
        .invalidPassword,
        .invalidSystemID,
        .cancelFailed,
        .replaceFailed,
        .messageQueueFull,
        .invalidServiceType,
        .invalidNumberOfDestinations,
        .invalidDistributionListName,
        .invalidDestinationFlag,
        .invalidSubmitWithReplace,
        .invalidESMClass,
        .cannotSubmitToDistributionList,
        .submitFailed,
        .invalidSourceTON,
        .invalidSourceNPI,
        .invalidDestinationTON,
        .invalidDestinationNPI,
        .invalidSystemType,
        .invalidReplaceIfPresentFlag,
        .invalidNumberOfMessages,
        .throttled,
        .invalidScheduledDeliveryTime,
        .invalidExpiry,
        .invalidDefaultMessageID,
        .temporaryAppError,
        .permanentAppError,
        .rejectedAppError,
        .queryFailed,
        .invalidTLVStream,
        .tlvNotAllowed,
        .invalidParameterLength,
        .missingTLV,
        .invalidTLVValue,
        .deliveryFailure,
        .unknownError,
    ]

    /// The spec constant (`ESME_RINVPASWD`), or nil for a code SMPP 3.4 does not define.
    public var specName: String? {
        switch rawValue {
        case 0x00000000: "ESME_ROK"
        case 0x00000001: "ESME_RINVMSGLEN"
        case 0x00000002: "ESME_RINVCMDLEN"
        case 0x00000003: "ESME_RINVCMDID"
        case 0x00000004: "ESME_RINVBNDSTS"
        case 0x00000005: "ESME_RALYBND"
        case 0x00000006: "ESME_RINVPRTFLG"
        case 0x00000007: "ESME_RINVREGDLVFLG"
        case 0x00000008: "ESME_RSYSERR"
        case 0x0000000A: "ESME_RINVSRCADR"
        case 0x0000000B: "ESME_RINVDSTADR"
        case 0x0000000C: "ESME_RINVMSGID"
        case 0x0000000D: "ESME_RBINDFAIL"
        case 0x0000000E: "ESME_RINVPASWD"
        case 0x0000000F: "ESME_RINVSYSID"
        case 0x00000011: "ESME_RCANCELFAIL"
        case 0x00000013: "ESME_RREPLACEFAIL"
        case 0x00000014: "ESME_RMSGQFUL"
        case 0x00000015: "ESME_RINVSERTYP"
        case 0x00000033: "ESME_RINVNUMDESTS"
        case 0x00000034: "ESME_RINVDLNAME"
        case 0x00000040: "ESME_RINVDESTFLAG"
        case 0x00000042: "ESME_RINVSUBREP"
        case 0x00000043: "ESME_RINVESMCLASS"
        case 0x00000044: "ESME_RCNTSUBDL"
        case 0x00000045: "ESME_RSUBMITFAIL"
        case 0x00000048: "ESME_RINVSRCTON"
        case 0x00000049: "ESME_RINVSRCNPI"
        case 0x00000050: "ESME_RINVDSTTON"
        case 0x00000051: "ESME_RINVDSTNPI"
        case 0x00000053: "ESME_RINVSYSTYP"
        case 0x00000054: "ESME_RINVREPFLAG"
        case 0x00000055: "ESME_RINVNUMMSGS"
        case 0x00000058: "ESME_RTHROTTLED"
        case 0x00000061: "ESME_RINVSCHED"
        case 0x00000062: "ESME_RINVEXPIRY"
        case 0x00000063: "ESME_RINVDFTMSGID"
        case 0x00000064: "ESME_RX_T_APPN"
        case 0x00000065: "ESME_RX_P_APPN"
        case 0x00000066: "ESME_RX_R_APPN"
        case 0x00000067: "ESME_RQUERYFAIL"
        case 0x000000C0: "ESME_RINVOPTPARSTREAM"
        case 0x000000C1: "ESME_ROPTPARNOTALLWD"
        case 0x000000C2: "ESME_RINVPARLEN"
        case 0x000000C3: "ESME_RMISSINGOPTPARAM"
        case 0x000000C4: "ESME_RINVOPTPARAMVAL"
        case 0x000000FE: "ESME_RDELIVERYFAILURE"
        case 0x000000FF: "ESME_RUNKNOWNERR"
        default: nil
        }
    }

    /// Is this an error that a later retry may cure? Used to classify bind and
    /// submit failures: a bad password will not fix itself, a full queue may.
    public var isTransient: Bool {
        switch self {
        case .messageQueueFull, .throttled, .temporaryAppError, .systemError, .bindFailed, .alreadyBound: true
        default: false
        }
    }
}

extension CommandStatus: CustomStringConvertible {
    public var description: String {
        if let specName { return specName }
        if (0x400...0x4FF).contains(rawValue) { return "vendor_0x" + hex32(rawValue) }
        return "0x" + hex32(rawValue)
    }
}

extension CommandStatus {
    @available(*, unavailable, renamed: "ok") public static var ESME_ROK: CommandStatus { .ok }
    @available(*, unavailable, renamed: "invalidMessageLength") public static var ESME_RINVMSGLEN: CommandStatus { .invalidMessageLength }
    @available(*, unavailable, renamed: "invalidCommandLength") public static var ESME_RINVCMDLEN: CommandStatus { .invalidCommandLength }
    @available(*, unavailable, renamed: "invalidCommandID") public static var ESME_RINVCMDID: CommandStatus { .invalidCommandID }
    @available(*, unavailable, renamed: "invalidBindStatus") public static var ESME_RINVBNDSTS: CommandStatus { .invalidBindStatus }
    @available(*, unavailable, renamed: "alreadyBound") public static var ESME_RALYBND: CommandStatus { .alreadyBound }
    @available(*, unavailable, renamed: "invalidPriorityFlag") public static var ESME_RINVPRTFLG: CommandStatus { .invalidPriorityFlag }
    @available(*, unavailable, renamed: "invalidRegisteredDeliveryFlag") public static var ESME_RINVREGDLVFLG: CommandStatus { .invalidRegisteredDeliveryFlag }
    @available(*, unavailable, renamed: "systemError") public static var ESME_RSYSERR: CommandStatus { .systemError }
    @available(*, unavailable, renamed: "invalidSourceAddress") public static var ESME_RINVSRCADR: CommandStatus { .invalidSourceAddress }
    @available(*, unavailable, renamed: "invalidDestinationAddress") public static var ESME_RINVDSTADR: CommandStatus { .invalidDestinationAddress }
    @available(*, unavailable, renamed: "invalidMessageID") public static var ESME_RINVMSGID: CommandStatus { .invalidMessageID }
    @available(*, unavailable, renamed: "bindFailed") public static var ESME_RBINDFAIL: CommandStatus { .bindFailed }
    @available(*, unavailable, renamed: "invalidPassword") public static var ESME_RINVPASWD: CommandStatus { .invalidPassword }
    @available(*, unavailable, renamed: "invalidSystemID") public static var ESME_RINVSYSID: CommandStatus { .invalidSystemID }
    @available(*, unavailable, renamed: "cancelFailed") public static var ESME_RCANCELFAIL: CommandStatus { .cancelFailed }
    @available(*, unavailable, renamed: "replaceFailed") public static var ESME_RREPLACEFAIL: CommandStatus { .replaceFailed }
    @available(*, unavailable, renamed: "messageQueueFull") public static var ESME_RMSGQFUL: CommandStatus { .messageQueueFull }
    @available(*, unavailable, renamed: "invalidServiceType") public static var ESME_RINVSERTYP: CommandStatus { .invalidServiceType }
    @available(*, unavailable, renamed: "invalidNumberOfDestinations") public static var ESME_RINVNUMDESTS: CommandStatus { .invalidNumberOfDestinations }
    @available(*, unavailable, renamed: "invalidDistributionListName") public static var ESME_RINVDLNAME: CommandStatus { .invalidDistributionListName }
    @available(*, unavailable, renamed: "invalidDestinationFlag") public static var ESME_RINVDESTFLAG: CommandStatus { .invalidDestinationFlag }
    @available(*, unavailable, renamed: "invalidSubmitWithReplace") public static var ESME_RINVSUBREP: CommandStatus { .invalidSubmitWithReplace }
    @available(*, unavailable, renamed: "invalidESMClass") public static var ESME_RINVESMCLASS: CommandStatus { .invalidESMClass }
    @available(*, unavailable, renamed: "cannotSubmitToDistributionList") public static var ESME_RCNTSUBDL: CommandStatus { .cannotSubmitToDistributionList }
    @available(*, unavailable, renamed: "submitFailed") public static var ESME_RSUBMITFAIL: CommandStatus { .submitFailed }
    @available(*, unavailable, renamed: "invalidSourceTON") public static var ESME_RINVSRCTON: CommandStatus { .invalidSourceTON }
    @available(*, unavailable, renamed: "invalidSourceNPI") public static var ESME_RINVSRCNPI: CommandStatus { .invalidSourceNPI }
    @available(*, unavailable, renamed: "invalidDestinationTON") public static var ESME_RINVDSTTON: CommandStatus { .invalidDestinationTON }
    @available(*, unavailable, renamed: "invalidDestinationNPI") public static var ESME_RINVDSTNPI: CommandStatus { .invalidDestinationNPI }
    @available(*, unavailable, renamed: "invalidSystemType") public static var ESME_RINVSYSTYP: CommandStatus { .invalidSystemType }
    @available(*, unavailable, renamed: "invalidReplaceIfPresentFlag") public static var ESME_RINVREPFLAG: CommandStatus { .invalidReplaceIfPresentFlag }
    @available(*, unavailable, renamed: "invalidNumberOfMessages") public static var ESME_RINVNUMMSGS: CommandStatus { .invalidNumberOfMessages }
    @available(*, unavailable, renamed: "throttled") public static var ESME_RTHROTTLED: CommandStatus { .throttled }
    @available(*, unavailable, renamed: "invalidScheduledDeliveryTime") public static var ESME_RINVSCHED: CommandStatus { .invalidScheduledDeliveryTime }
    @available(*, unavailable, renamed: "invalidExpiry") public static var ESME_RINVEXPIRY: CommandStatus { .invalidExpiry }
    @available(*, unavailable, renamed: "invalidDefaultMessageID") public static var ESME_RINVDFTMSGID: CommandStatus { .invalidDefaultMessageID }
    @available(*, unavailable, renamed: "temporaryAppError") public static var ESME_RX_T_APPN: CommandStatus { .temporaryAppError }
    @available(*, unavailable, renamed: "permanentAppError") public static var ESME_RX_P_APPN: CommandStatus { .permanentAppError }
    @available(*, unavailable, renamed: "rejectedAppError") public static var ESME_RX_R_APPN: CommandStatus { .rejectedAppError }
    @available(*, unavailable, renamed: "queryFailed") public static var ESME_RQUERYFAIL: CommandStatus { .queryFailed }
    @available(*, unavailable, renamed: "invalidTLVStream") public static var ESME_RINVOPTPARSTREAM: CommandStatus { .invalidTLVStream }
    @available(*, unavailable, renamed: "invalidTLVStream") public static var ESME_RINVTLVSTREAM: CommandStatus { .invalidTLVStream }
    @available(*, unavailable, renamed: "tlvNotAllowed") public static var ESME_ROPTPARNOTALLWD: CommandStatus { .tlvNotAllowed }
    @available(*, unavailable, renamed: "tlvNotAllowed") public static var ESME_RTLVNOTALLWD: CommandStatus { .tlvNotAllowed }
    @available(*, unavailable, renamed: "invalidParameterLength") public static var ESME_RINVPARLEN: CommandStatus { .invalidParameterLength }
    @available(*, unavailable, renamed: "invalidParameterLength") public static var ESME_RINVTLVLEN: CommandStatus { .invalidParameterLength }
    @available(*, unavailable, renamed: "missingTLV") public static var ESME_RMISSINGOPTPARAM: CommandStatus { .missingTLV }
    @available(*, unavailable, renamed: "missingTLV") public static var ESME_RMISSINGTLV: CommandStatus { .missingTLV }
    @available(*, unavailable, renamed: "invalidTLVValue") public static var ESME_RINVOPTPARAMVAL: CommandStatus { .invalidTLVValue }
    @available(*, unavailable, renamed: "invalidTLVValue") public static var ESME_RINVTLVVAL: CommandStatus { .invalidTLVValue }
    @available(*, unavailable, renamed: "deliveryFailure") public static var ESME_RDELIVERYFAILURE: CommandStatus { .deliveryFailure }
    @available(*, unavailable, renamed: "unknownError") public static var ESME_RUNKNOWNERR: CommandStatus { .unknownError }
}
