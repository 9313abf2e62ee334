/// The tag of an optional parameter (TLV), SMPP 3.4 §5.3.2.
///
/// Unknown and vendor tags (0x1400–0x3FFF) are kept as they are: the decoder
/// never drops a TLV it does not understand, so captures and redeliveries stay
/// byte-exact.
public struct TLVTag: RawRepresentable, Hashable, Sendable, Comparable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public static func < (a: TLVTag, b: TLVTag) -> Bool { a.rawValue < b.rawValue }

    /// Tags 0x1400–0x3FFF are reserved for SMSC vendors.
    @inlinable public var isVendorSpecific: Bool { (0x1400...0x3FFF).contains(rawValue) }

    /// How the value of a TLV is shaped, which decides how it is shown and validated.
    public enum ValueKind: Sendable {
        /// A big-endian unsigned integer of the TLV's fixed length.
        case integer
        /// A C-Octet String: printable bytes ended by one NUL.
        case cString
        /// Opaque octets.
        case octets
    }

    /// dest_addr_subunit (0x0005), length 1.
    public static let destAddrSubunit = TLVTag(0x0005)
    /// dest_network_type (0x0006), length 1.
    public static let destNetworkType = TLVTag(0x0006)
    /// dest_bearer_type (0x0007), length 1.
    public static let destBearerType = TLVTag(0x0007)
    /// dest_telematics_id (0x0008), length 2.
    public static let destTelematicsID = TLVTag(0x0008)
    /// source_addr_subunit (0x000D), length 1.
    public static let sourceAddrSubunit = TLVTag(0x000D)
    /// source_network_type (0x000E), length 1.
    public static let sourceNetworkType = TLVTag(0x000E)
    /// source_bearer_type (0x000F), length 1.
    public static let sourceBearerType = TLVTag(0x000F)
    /// source_telematics_id (0x0010), length 1.
    public static let sourceTelematicsID = TLVTag(0x0010)
    /// qos_time_to_live (0x0017), length 4.
    public static let qosTimeToLive = TLVTag(0x0017)
    /// payload_type (0x0019), length 1.
    public static let payloadType = TLVTag(0x0019)
    /// additional_status_info_text (0x001D), length 1–256.
    public static let additionalStatusInfoText = TLVTag(0x001D)
    /// receipted_message_id (0x001E), length 1–65.
    public static let receiptedMessageID = TLVTag(0x001E)
    /// ms_msg_wait_facilities (0x0030), length 1.
    public static let msMsgWaitFacilities = TLVTag(0x0030)
    /// privacy_indicator (0x0201), length 1.
    public static let privacyIndicator = TLVTag(0x0201)
    /// source_subaddress (0x0202), length 2–23.
    public static let sourceSubaddress = TLVTag(0x0202)
    /// dest_subaddress (0x0203), length 2–23.
    public static let destSubaddress = TLVTag(0x0203)
    /// user_message_reference (0x0204), length 2.
    public static let userMessageReference = TLVTag(0x0204)
    /// user_response_code (0x0205), length 1.
    public static let userResponseCode = TLVTag(0x0205)
    /// source_port (0x020A), length 2.
    public static let sourcePort = TLVTag(0x020A)
    /// destination_port (0x020B), length 2.
    public static let destinationPort = TLVTag(0x020B)
    /// sar_msg_ref_num (0x020C), length 2.
    public static let sarMsgRefNum = TLVTag(0x020C)
    /// language_indicator (0x020D), length 1.
    public static let languageIndicator = TLVTag(0x020D)
    /// sar_total_segments (0x020E), length 1.
    public static let sarTotalSegments = TLVTag(0x020E)
    /// sar_segment_seqnum (0x020F), length 1.
    public static let sarSegmentSeqnum = TLVTag(0x020F)
    /// sc_interface_version (0x0210), length 1.
    public static let scInterfaceVersion = TLVTag(0x0210)
    /// callback_num_pres_ind (0x0302), length 1.
    public static let callbackNumPresInd = TLVTag(0x0302)
    /// callback_num_atag (0x0303), length 0–65.
    public static let callbackNumAtag = TLVTag(0x0303)
    /// number_of_messages (0x0304), length 1.
    public static let numberOfMessages = TLVTag(0x0304)
    /// callback_num (0x0381), length 4–19.
    public static let callbackNum = TLVTag(0x0381)
    /// dpf_result (0x0420), length 1.
    public static let dpfResult = TLVTag(0x0420)
    /// set_dpf (0x0421), length 1.
    public static let setDPF = TLVTag(0x0421)
    /// ms_availability_status (0x0422), length 1.
    public static let msAvailabilityStatus = TLVTag(0x0422)
    /// network_error_code (0x0423), length 3.
    public static let networkErrorCode = TLVTag(0x0423)
    /// message_payload (0x0424), length 0–65535.
    public static let messagePayload = TLVTag(0x0424)
    /// delivery_failure_reason (0x0425), length 1.
    public static let deliveryFailureReason = TLVTag(0x0425)
    /// more_messages_to_send (0x0426), length 1.
    public static let moreMessagesToSend = TLVTag(0x0426)
    /// message_state (0x0427), length 1.
    public static let messageState = TLVTag(0x0427)
    /// ussd_service_op (0x0501), length 1.
    public static let ussdServiceOp = TLVTag(0x0501)
    /// display_time (0x1201), length 1.
    public static let displayTime = TLVTag(0x1201)
    /// sms_signal (0x1203), length 2.
    public static let smsSignal = TLVTag(0x1203)
    /// ms_validity (0x1204), length 1.
    public static let msValidity = TLVTag(0x1204)
    /// alert_on_message_delivery (0x130C), length 0.
    public static let alertOnMessageDelivery = TLVTag(0x130C)
    /// its_reply_type (0x1380), length 1.
    public static let itsReplyType = TLVTag(0x1380)
    /// its_session_info (0x1383), length 2.
    public static let itsSessionInfo = TLVTag(0x1383)

    /// Every TLV tag SMPP 3.4 defines.
    public static let allSMPP34: [TLVTag] = [
        .destAddrSubunit,
        .destNetworkType,
        .destBearerType,
        .destTelematicsID,
        .sourceAddrSubunit,
        .sourceNetworkType,
        .sourceBearerType,
        .sourceTelematicsID,
        .qosTimeToLive,
        .payloadType,
        .additionalStatusInfoText,
        .receiptedMessageID,
        .msMsgWaitFacilities,
        .privacyIndicator,
        .sourceSubaddress,
        .destSubaddress,
        .userMessageReference,
        .userResponseCode,
        .sourcePort,
        .destinationPort,
        .sarMsgRefNum,
        .languageIndicator,
        .sarTotalSegments,
        .sarSegmentSeqnum,
        .scInterfaceVersion,
        .callbackNumPresInd,
        .callbackNumAtag,
        .numberOfMessages,
        .callbackNum,
        .dpfResult,
        .setDPF,
        .msAvailabilityStatus,
        .networkErrorCode,
        .messagePayload,
        .deliveryFailureReason,
        .moreMessagesToSend,
        .messageState,
        .ussdServiceOp,
        .displayTime,
        .smsSignal,
        .msValidity,
        .alertOnMessageDelivery,
        .itsReplyType,
        .itsSessionInfo,
    ]

    /// The spec's name (`sar_msg_ref_num`), or nil for an unknown or vendor tag.
    public var name: String? {
        switch rawValue {
        case 0x0005: "dest_addr_subunit"
        case 0x0006: "dest_network_type"
        case 0x0007: "dest_bearer_type"
        case 0x0008: "dest_telematics_id"
        case 0x000D: "source_addr_subunit"
        case 0x000E: "source_network_type"
        case 0x000F: "source_bearer_type"
        case 0x0010: "source_telematics_id"
        case 0x0017: "qos_time_to_live"
        case 0x0019: "payload_type"
        case 0x001D: "additional_status_info_text"
        case 0x001E: "receipted_message_id"
        case 0x0030: "ms_msg_wait_facilities"
        case 0x0201: "privacy_indicator"
        case 0x0202: "source_subaddress"
        case 0x0203: "dest_subaddress"
        case 0x0204: "user_message_reference"
        case 0x0205: "user_response_code"
        case 0x020A: "source_port"
        case 0x020B: "destination_port"
        case 0x020C: "sar_msg_ref_num"
        case 0x020D: "language_indicator"
        case 0x020E: "sar_total_segments"
        case 0x020F: "sar_segment_seqnum"
        case 0x0210: "sc_interface_version"
        case 0x0302: "callback_num_pres_ind"
        case 0x0303: "callback_num_atag"
        case 0x0304: "number_of_messages"
        case 0x0381: "callback_num"
        case 0x0420: "dpf_result"
        case 0x0421: "set_dpf"
        case 0x0422: "ms_availability_status"
        case 0x0423: "network_error_code"
        case 0x0424: "message_payload"
        case 0x0425: "delivery_failure_reason"
        case 0x0426: "more_messages_to_send"
        case 0x0427: "message_state"
        case 0x0501: "ussd_service_op"
        case 0x1201: "display_time"
        case 0x1203: "sms_signal"
        case 0x1204: "ms_validity"
        case 0x130C: "alert_on_message_delivery"
        case 0x1380: "its_reply_type"
        case 0x1383: "its_session_info"
        default: nil
        }
    }

    /// The value lengths SMPP 3.4 allows for this tag, or nil when the tag is not
    /// a 3.4 tag (then any length is accepted and kept).
    public var allowedLength: ClosedRange<Int>? {
        switch rawValue {
        case 0x0005: 1...1
        case 0x0006: 1...1
        case 0x0007: 1...1
        case 0x0008: 2...2
        case 0x000D: 1...1
        case 0x000E: 1...1
        case 0x000F: 1...1
        case 0x0010: 1...1
        case 0x0017: 4...4
        case 0x0019: 1...1
        case 0x001D: 1...256
        case 0x001E: 1...65
        case 0x0030: 1...1
        case 0x0201: 1...1
        case 0x0202: 2...23
        case 0x0203: 2...23
        case 0x0204: 2...2
        case 0x0205: 1...1
        case 0x020A: 2...2
        case 0x020B: 2...2
        case 0x020C: 2...2
        case 0x020D: 1...1
        case 0x020E: 1...1
        case 0x020F: 1...1
        case 0x0210: 1...1
        case 0x0302: 1...1
        case 0x0303: 0...65
        case 0x0304: 1...1
        case 0x0381: 4...19
        case 0x0420: 1...1
        case 0x0421: 1...1
        case 0x0422: 1...1
        case 0x0423: 3...3
        case 0x0424: 0...65535
        case 0x0425: 1...1
        case 0x0426: 1...1
        case 0x0427: 1...1
        case 0x0501: 1...1
        case 0x1201: 1...1
        case 0x1203: 2...2
        case 0x1204: 1...1
        case 0x130C: 0...0
        case 0x1380: 1...1
        case 0x1383: 2...2
        default: nil
        }
    }

    /// The value shape of a 3.4 tag; unknown tags are opaque octets.
    public var valueKind: ValueKind {
        switch rawValue {
        case 0x0005, 0x0006, 0x0007, 0x0008, 0x000D, 0x000E, 0x000F, 0x0010, 0x0017, 0x0019, 0x0030, 0x0201, 0x0204, 0x0205, 0x020A, 0x020B, 0x020C, 0x020D, 0x020E, 0x020F, 0x0210, 0x0302, 0x0304, 0x0420, 0x0421, 0x0422, 0x0425, 0x0426, 0x0427, 0x0501, 0x1201, 0x1203, 0x1204, 0x1380, 0x1383: .integer
        case 0x001D, 0x001E: .cString
        default: .octets
        }
    }
}

extension TLVTag: CustomStringConvertible {
    public var description: String { name ?? "0x" + hex16(rawValue) }
}

extension TLVTag {
    @available(*, unavailable, renamed: "destAddrSubunit") public static var dest_addr_subunit: TLVTag { .destAddrSubunit }
    @available(*, unavailable, renamed: "destNetworkType") public static var dest_network_type: TLVTag { .destNetworkType }
    @available(*, unavailable, renamed: "destBearerType") public static var dest_bearer_type: TLVTag { .destBearerType }
    @available(*, unavailable, renamed: "destTelematicsID") public static var dest_telematics_id: TLVTag { .destTelematicsID }
    @available(*, unavailable, renamed: "sourceAddrSubunit") public static var source_addr_subunit: TLVTag { .sourceAddrSubunit }
    @available(*, unavailable, renamed: "sourceNetworkType") public static var source_network_type: TLVTag { .sourceNetworkType }
    @available(*, unavailable, renamed: "sourceBearerType") public static var source_bearer_type: TLVTag { .sourceBearerType }
    @available(*, unavailable, renamed: "sourceTelematicsID") public static var source_telematics_id: TLVTag { .sourceTelematicsID }
    @available(*, unavailable, renamed: "qosTimeToLive") public static var qos_time_to_live: TLVTag { .qosTimeToLive }
    @available(*, unavailable, renamed: "payloadType") public static var payload_type: TLVTag { .payloadType }
    @available(*, unavailable, renamed: "additionalStatusInfoText") public static var additional_status_info_text: TLVTag { .additionalStatusInfoText }
    @available(*, unavailable, renamed: "receiptedMessageID") public static var receipted_message_id: TLVTag { .receiptedMessageID }
    @available(*, unavailable, renamed: "msMsgWaitFacilities") public static var ms_msg_wait_facilities: TLVTag { .msMsgWaitFacilities }
    @available(*, unavailable, renamed: "privacyIndicator") public static var privacy_indicator: TLVTag { .privacyIndicator }
    @available(*, unavailable, renamed: "sourceSubaddress") public static var source_subaddress: TLVTag { .sourceSubaddress }
    @available(*, unavailable, renamed: "destSubaddress") public static var dest_subaddress: TLVTag { .destSubaddress }
    @available(*, unavailable, renamed: "userMessageReference") public static var user_message_reference: TLVTag { .userMessageReference }
    @available(*, unavailable, renamed: "userResponseCode") public static var user_response_code: TLVTag { .userResponseCode }
    @available(*, unavailable, renamed: "sourcePort") public static var source_port: TLVTag { .sourcePort }
    @available(*, unavailable, renamed: "destinationPort") public static var destination_port: TLVTag { .destinationPort }
    @available(*, unavailable, renamed: "sarMsgRefNum") public static var sar_msg_ref_num: TLVTag { .sarMsgRefNum }
    @available(*, unavailable, renamed: "languageIndicator") public static var language_indicator: TLVTag { .languageIndicator }
    @available(*, unavailable, renamed: "sarTotalSegments") public static var sar_total_segments: TLVTag { .sarTotalSegments }
    @available(*, unavailable, renamed: "sarSegmentSeqnum") public static var sar_segment_seqnum: TLVTag { .sarSegmentSeqnum }
    @available(*, unavailable, renamed: "scInterfaceVersion") public static var sc_interface_version: TLVTag { .scInterfaceVersion }
    @available(*, unavailable, renamed: "callbackNumPresInd") public static var callback_num_pres_ind: TLVTag { .callbackNumPresInd }
    @available(*, unavailable, renamed: "callbackNumAtag") public static var callback_num_atag: TLVTag { .callbackNumAtag }
    @available(*, unavailable, renamed: "numberOfMessages") public static var number_of_messages: TLVTag { .numberOfMessages }
    @available(*, unavailable, renamed: "callbackNum") public static var callback_num: TLVTag { .callbackNum }
    @available(*, unavailable, renamed: "dpfResult") public static var dpf_result: TLVTag { .dpfResult }
    @available(*, unavailable, renamed: "setDPF") public static var set_dpf: TLVTag { .setDPF }
    @available(*, unavailable, renamed: "msAvailabilityStatus") public static var ms_availability_status: TLVTag { .msAvailabilityStatus }
    @available(*, unavailable, renamed: "networkErrorCode") public static var network_error_code: TLVTag { .networkErrorCode }
    @available(*, unavailable, renamed: "messagePayload") public static var message_payload: TLVTag { .messagePayload }
    @available(*, unavailable, renamed: "deliveryFailureReason") public static var delivery_failure_reason: TLVTag { .deliveryFailureReason }
    @available(*, unavailable, renamed: "moreMessagesToSend") public static var more_messages_to_send: TLVTag { .moreMessagesToSend }
    @available(*, unavailable, renamed: "messageState") public static var message_state: TLVTag { .messageState }
    @available(*, unavailable, renamed: "ussdServiceOp") public static var ussd_service_op: TLVTag { .ussdServiceOp }
    @available(*, unavailable, renamed: "displayTime") public static var display_time: TLVTag { .displayTime }
    @available(*, unavailable, renamed: "smsSignal") public static var sms_signal: TLVTag { .smsSignal }
    @available(*, unavailable, renamed: "msValidity") public static var ms_validity: TLVTag { .msValidity }
    @available(*, unavailable, renamed: "alertOnMessageDelivery") public static var alert_on_message_delivery: TLVTag { .alertOnMessageDelivery }
    @available(*, unavailable, renamed: "itsReplyType") public static var its_reply_type: TLVTag { .itsReplyType }
    @available(*, unavailable, renamed: "itsSessionInfo") public static var its_session_info: TLVTag { .itsSessionInfo }
}
