/// An SMPP 3.4 PDU, owned: the form used to build PDUs to send and to inspect
/// received ones off the hot path. The hot path (deliver_sm, data_sm) uses the
/// zero-copy views instead; `PDU.decode` of those goes through the same views,
/// so both apply the same validation.
///
/// TLVs are kept on the PDU, in wire order, for every command: SMPP 3.4 only
/// defines optional parameters for some commands, but peers append them to
/// others, and dropping them would break `encode(decode(x)) == x`.
public struct PDU: Hashable, Sendable {
    public var commandID: CommandID
    public var commandStatus: CommandStatus
    public var sequenceNumber: UInt32
    public var body: Body
    public var tlvs: [TLV]

    public init(
        _ commandID: CommandID, status: CommandStatus = .ok, sequenceNumber: UInt32, body: Body = .empty,
        tlvs: [TLV] = []
    ) {
        self.commandID = commandID
        self.commandStatus = status
        self.sequenceNumber = sequenceNumber
        self.body = body
        self.tlvs = tlvs
    }

    public enum Body: Hashable, Sendable {
        /// No mandatory body: generic_nack, unbind(_resp), enquire_link(_resp),
        /// cancel_sm_resp, replace_sm_resp, and any response sent with an error and no body.
        case empty
        case bind(Bind)
        case bindResp(BindResp)
        case outbind(Outbind)
        /// submit_sm and deliver_sm.
        case shortMessage(ShortMessage)
        /// submit_sm_resp, deliver_sm_resp and data_sm_resp.
        case messageIDResp(MessageIDResp)
        case dataSM(DataSM)
        case querySM(QuerySM)
        case querySMResp(QuerySMResp)
        case cancelSM(CancelSM)
        case replaceSM(ReplaceSM)
        case submitMulti(SubmitMulti)
        case submitMultiResp(SubmitMultiResp)
        case alertNotification(AlertNotification)
    }
}

/// bind_transmitter / bind_receiver / bind_transceiver (SMPP 3.4 §4.1).
public struct Bind: Hashable, Sendable {
    public var systemID: COctetString
    public var password: COctetString
    public var systemType: COctetString
    public var interfaceVersion: UInt8
    public var addrTON: TON
    public var addrNPI: NPI
    public var addressRange: COctetString
    public init(
        systemID: COctetString, password: COctetString, systemType: COctetString = .empty,
        interfaceVersion: UInt8 = 0x34, addrTON: TON = .unknown, addrNPI: NPI = .unknown,
        addressRange: COctetString = .empty
    ) {
        self.systemID = systemID
        self.password = password
        self.systemType = systemType
        self.interfaceVersion = interfaceVersion
        self.addrTON = addrTON
        self.addrNPI = addrNPI
        self.addressRange = addressRange
    }
}

/// bind_*_resp (SMPP 3.4 §4.1.2): the SMSC's system_id; sc_interface_version travels as a TLV.
public struct BindResp: Hashable, Sendable {
    public var systemID: COctetString
    public init(systemID: COctetString) { self.systemID = systemID }
}

/// outbind (SMPP 3.4 §4.1.7).
public struct Outbind: Hashable, Sendable {
    public var systemID: COctetString
    public var password: COctetString
    public init(systemID: COctetString, password: COctetString) {
        self.systemID = systemID
        self.password = password
    }
}

/// submit_sm / deliver_sm (SMPP 3.4 §4.4.1, §4.6.1).
public struct ShortMessage: Hashable, Sendable {
    public var serviceType: COctetString = .empty
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public var destAddrTON: TON = .unknown
    public var destAddrNPI: NPI = .unknown
    public var destinationAddr: COctetString = .empty
    public var esmClass: ESMClass = ESMClass(0)
    public var protocolID: UInt8 = 0
    public var priorityFlag: UInt8 = 0
    public var scheduleDeliveryTime: COctetString = .empty
    public var validityPeriod: COctetString = .empty
    public var registeredDelivery: RegisteredDelivery = RegisteredDelivery(0)
    public var replaceIfPresentFlag: UInt8 = 0
    public var dataCoding: DataCoding = .smscDefault
    public var smDefaultMsgID: UInt8 = 0
    public var shortMessage: [UInt8] = []
    public init() {}
}

/// submit_sm_resp / deliver_sm_resp / data_sm_resp: a message_id (unused, empty, in deliver_sm_resp).
public struct MessageIDResp: Hashable, Sendable {
    public var messageID: COctetString
    public init(messageID: COctetString = .empty) { self.messageID = messageID }
}

/// data_sm (SMPP 3.4 §4.7.1). The content travels in the message_payload TLV.
public struct DataSM: Hashable, Sendable {
    public var serviceType: COctetString = .empty
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public var destAddrTON: TON = .unknown
    public var destAddrNPI: NPI = .unknown
    public var destinationAddr: COctetString = .empty
    public var esmClass: ESMClass = ESMClass(0)
    public var registeredDelivery: RegisteredDelivery = RegisteredDelivery(0)
    public var dataCoding: DataCoding = .smscDefault
    public init() {}
}

/// query_sm (SMPP 3.4 §4.8.1).
public struct QuerySM: Hashable, Sendable {
    public var messageID: COctetString = .empty
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public init() {}
}

/// query_sm_resp (SMPP 3.4 §4.8.2).
public struct QuerySMResp: Hashable, Sendable {
    public var messageID: COctetString = .empty
    public var finalDate: COctetString = .empty
    public var messageState: MessageState = .unknown
    public var errorCode: UInt8 = 0
    public init() {}
}

/// cancel_sm (SMPP 3.4 §4.9.1).
public struct CancelSM: Hashable, Sendable {
    public var serviceType: COctetString = .empty
    public var messageID: COctetString = .empty
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public var destAddrTON: TON = .unknown
    public var destAddrNPI: NPI = .unknown
    public var destinationAddr: COctetString = .empty
    public init() {}
}

/// replace_sm (SMPP 3.4 §4.10.1).
public struct ReplaceSM: Hashable, Sendable {
    public var messageID: COctetString = .empty
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public var scheduleDeliveryTime: COctetString = .empty
    public var validityPeriod: COctetString = .empty
    public var registeredDelivery: RegisteredDelivery = RegisteredDelivery(0)
    public var smDefaultMsgID: UInt8 = 0
    public var shortMessage: [UInt8] = []
    public init() {}
}

/// One destination of a submit_multi (SMPP 3.4 §4.5.1.1): an SME address or a distribution list.
public enum DestAddress: Hashable, Sendable {
    case sme(ton: TON, npi: NPI, address: COctetString)
    case distributionList(name: COctetString)
}

/// submit_multi (SMPP 3.4 §4.5.1).
public struct SubmitMulti: Hashable, Sendable {
    public var serviceType: COctetString = .empty
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public var destAddresses: [DestAddress] = []
    public var esmClass: ESMClass = ESMClass(0)
    public var protocolID: UInt8 = 0
    public var priorityFlag: UInt8 = 0
    public var scheduleDeliveryTime: COctetString = .empty
    public var validityPeriod: COctetString = .empty
    public var registeredDelivery: RegisteredDelivery = RegisteredDelivery(0)
    public var replaceIfPresentFlag: UInt8 = 0
    public var dataCoding: DataCoding = .smscDefault
    public var smDefaultMsgID: UInt8 = 0
    public var shortMessage: [UInt8] = []
    public init() {}
}

/// One failed destination in a submit_multi_resp (SMPP 3.4 §4.5.2.1).
public struct UnsuccessSME: Hashable, Sendable {
    public var destAddrTON: TON
    public var destAddrNPI: NPI
    public var destinationAddr: COctetString
    public var errorStatusCode: CommandStatus
    public init(destAddrTON: TON, destAddrNPI: NPI, destinationAddr: COctetString, errorStatusCode: CommandStatus) {
        self.destAddrTON = destAddrTON
        self.destAddrNPI = destAddrNPI
        self.destinationAddr = destinationAddr
        self.errorStatusCode = errorStatusCode
    }
}

/// submit_multi_resp (SMPP 3.4 §4.5.2).
public struct SubmitMultiResp: Hashable, Sendable {
    public var messageID: COctetString = .empty
    public var unsuccessSMEs: [UnsuccessSME] = []
    public init() {}
}

/// alert_notification (SMPP 3.4 §4.12.1).
public struct AlertNotification: Hashable, Sendable {
    public var sourceAddrTON: TON = .unknown
    public var sourceAddrNPI: NPI = .unknown
    public var sourceAddr: COctetString = .empty
    public var esmeAddrTON: TON = .unknown
    public var esmeAddrNPI: NPI = .unknown
    public var esmeAddr: COctetString = .empty
    public init() {}
}
