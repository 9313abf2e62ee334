/// The `command_id` of an SMPP PDU (SMPP 3.4 §5.1.2.1).
///
/// A struct rather than an enum so that an id this codebase does not know is
/// carried through unchanged: a peer that speaks a vendor extension or SMPP 5.0
/// must get a generic_nack that echoes its id, never a trap.
public struct CommandID: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// Responses carry bit 31 set (the "response" flag); this is how the spec pairs them.
    @inlinable public var isResponse: Bool { rawValue & 0x8000_0000 != 0 }
    /// The response id matching this request id.
    @inlinable public var response: CommandID { CommandID(rawValue: rawValue | 0x8000_0000) }
    /// The request id matching this response id.
    @inlinable public var request: CommandID { CommandID(rawValue: rawValue & 0x7FFF_FFFF) }

    /// generic_nack (0x80000000).
    public static let genericNack = CommandID(0x8000_0000)
    /// bind_receiver (0x00000001).
    public static let bindReceiver = CommandID(0x0000_0001)
    /// bind_receiver_resp (0x80000001).
    public static let bindReceiverResp = CommandID(0x8000_0001)
    /// bind_transmitter (0x00000002).
    public static let bindTransmitter = CommandID(0x0000_0002)
    /// bind_transmitter_resp (0x80000002).
    public static let bindTransmitterResp = CommandID(0x8000_0002)
    /// query_sm (0x00000003).
    public static let querySM = CommandID(0x0000_0003)
    /// query_sm_resp (0x80000003).
    public static let querySMResp = CommandID(0x8000_0003)
    /// submit_sm (0x00000004).
    public static let submitSM = CommandID(0x0000_0004)
    /// submit_sm_resp (0x80000004).
    public static let submitSMResp = CommandID(0x8000_0004)
    /// deliver_sm (0x00000005).
    public static let deliverSM = CommandID(0x0000_0005)
    /// deliver_sm_resp (0x80000005).
    public static let deliverSMResp = CommandID(0x8000_0005)
    /// unbind (0x00000006).
    public static let unbind = CommandID(0x0000_0006)
    /// unbind_resp (0x80000006).
    public static let unbindResp = CommandID(0x8000_0006)
    /// replace_sm (0x00000007).
    public static let replaceSM = CommandID(0x0000_0007)
    /// replace_sm_resp (0x80000007).
    public static let replaceSMResp = CommandID(0x8000_0007)
    /// cancel_sm (0x00000008).
    public static let cancelSM = CommandID(0x0000_0008)
    /// cancel_sm_resp (0x80000008).
    public static let cancelSMResp = CommandID(0x8000_0008)
    /// bind_transceiver (0x00000009).
    public static let bindTransceiver = CommandID(0x0000_0009)
    /// bind_transceiver_resp (0x80000009).
    public static let bindTransceiverResp = CommandID(0x8000_0009)
    /// outbind (0x0000000B).
    public static let outbind = CommandID(0x0000_000B)
    /// enquire_link (0x00000015).
    public static let enquireLink = CommandID(0x0000_0015)
    /// enquire_link_resp (0x80000015).
    public static let enquireLinkResp = CommandID(0x8000_0015)
    /// submit_multi (0x00000021).
    public static let submitMulti = CommandID(0x0000_0021)
    /// submit_multi_resp (0x80000021).
    public static let submitMultiResp = CommandID(0x8000_0021)
    /// alert_notification (0x00000102). It has no response.
    public static let alertNotification = CommandID(0x0000_0102)
    /// data_sm (0x00000103).
    public static let dataSM = CommandID(0x0000_0103)
    /// data_sm_resp (0x80000103).
    public static let dataSMResp = CommandID(0x8000_0103)

    /// Every command_id defined by SMPP 3.4, in spec order.
    public static let allSMPP34: [CommandID] = [
        .genericNack, .bindReceiver, .bindReceiverResp, .bindTransmitter, .bindTransmitterResp,
        .querySM, .querySMResp, .submitSM, .submitSMResp, .deliverSM, .deliverSMResp,
        .unbind, .unbindResp, .replaceSM, .replaceSMResp, .cancelSM, .cancelSMResp,
        .bindTransceiver, .bindTransceiverResp, .outbind, .enquireLink, .enquireLinkResp,
        .submitMulti, .submitMultiResp, .alertNotification, .dataSM, .dataSMResp,
    ]

    /// Whether SMPP 3.4 defines this id.
    public var isKnown: Bool { name != nil }

    /// The spec's name (`deliver_sm`), or nil for an id SMPP 3.4 does not define.
    public var name: String? {
        switch rawValue {
        case 0x8000_0000: "generic_nack"
        case 0x0000_0001: "bind_receiver"
        case 0x8000_0001: "bind_receiver_resp"
        case 0x0000_0002: "bind_transmitter"
        case 0x8000_0002: "bind_transmitter_resp"
        case 0x0000_0003: "query_sm"
        case 0x8000_0003: "query_sm_resp"
        case 0x0000_0004: "submit_sm"
        case 0x8000_0004: "submit_sm_resp"
        case 0x0000_0005: "deliver_sm"
        case 0x8000_0005: "deliver_sm_resp"
        case 0x0000_0006: "unbind"
        case 0x8000_0006: "unbind_resp"
        case 0x0000_0007: "replace_sm"
        case 0x8000_0007: "replace_sm_resp"
        case 0x0000_0008: "cancel_sm"
        case 0x8000_0008: "cancel_sm_resp"
        case 0x0000_0009: "bind_transceiver"
        case 0x8000_0009: "bind_transceiver_resp"
        case 0x0000_000B: "outbind"
        case 0x0000_0015: "enquire_link"
        case 0x8000_0015: "enquire_link_resp"
        case 0x0000_0021: "submit_multi"
        case 0x8000_0021: "submit_multi_resp"
        case 0x0000_0102: "alert_notification"
        case 0x0000_0103: "data_sm"
        case 0x8000_0103: "data_sm_resp"
        default: nil
        }
    }

    /// Does a request with this id expect a response? (alert_notification and outbind do not;
    /// a generic_nack is itself a response.)
    public var expectsResponse: Bool {
        !isResponse && self != .alertNotification && self != .outbind && isKnown
    }
}

extension CommandID: CustomStringConvertible {
    public var description: String { name ?? "unknown_" + hex32(rawValue) }
}

extension CommandID {
    @available(*, unavailable, renamed: "genericNack") public static var generic_nack: CommandID { .genericNack }
    @available(*, unavailable, renamed: "bindReceiver") public static var bind_receiver: CommandID { .bindReceiver }
    @available(*, unavailable, renamed: "bindTransmitter") public static var bind_transmitter: CommandID { .bindTransmitter }
    @available(*, unavailable, renamed: "bindTransceiver") public static var bind_transceiver: CommandID { .bindTransceiver }
    @available(*, unavailable, renamed: "querySM") public static var query_sm: CommandID { .querySM }
    @available(*, unavailable, renamed: "submitSM") public static var submit_sm: CommandID { .submitSM }
    @available(*, unavailable, renamed: "deliverSM") public static var deliver_sm: CommandID { .deliverSM }
    @available(*, unavailable, renamed: "deliverSMResp") public static var deliver_sm_resp: CommandID { .deliverSMResp }
    @available(*, unavailable, renamed: "replaceSM") public static var replace_sm: CommandID { .replaceSM }
    @available(*, unavailable, renamed: "cancelSM") public static var cancel_sm: CommandID { .cancelSM }
    @available(*, unavailable, renamed: "enquireLink") public static var enquire_link: CommandID { .enquireLink }
    @available(*, unavailable, renamed: "submitMulti") public static var submit_multi: CommandID { .submitMulti }
    @available(*, unavailable, renamed: "alertNotification") public static var alert_notification: CommandID { .alertNotification }
    @available(*, unavailable, renamed: "dataSM") public static var data_sm: CommandID { .dataSM }
    @available(*, unavailable, renamed: "dataSMResp") public static var data_sm_resp: CommandID { .dataSMResp }
}

@usableFromInline
func hex32(_ v: UInt32) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    for shift in stride(from: 28, through: 0, by: -4) { s.append(digits[Int((v >> UInt32(shift)) & 0xF)]) }
    return s
}

@usableFromInline
func hex16(_ v: UInt16) -> String { String(hex32(UInt32(v)).dropFirst(4)) }

@usableFromInline
func hex8(_ v: UInt8) -> String { String(hex32(UInt32(v)).dropFirst(6)) }
