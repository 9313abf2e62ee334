/// Type of Number (`addr_ton`, `source_addr_ton`, `dest_addr_ton`), SMPP 3.4 §5.2.5.
///
/// Needed by number normalization: an international number and a national
/// number with the same digits are different subscribers.
public struct TON: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    /// Unknown (0).
    public static let unknown = TON(0)
    /// International (1): the digits start with the country code.
    public static let international = TON(1)
    /// National (2): the digits need the carrier's country code.
    public static let national = TON(2)
    /// Network specific (3).
    public static let networkSpecific = TON(3)
    /// Subscriber number (4).
    public static let subscriberNumber = TON(4)
    /// Alphanumeric (5): a sender name such as "WhatsApp", not digits.
    public static let alphanumeric = TON(5)
    /// Abbreviated (6).
    public static let abbreviated = TON(6)

    public var name: String? {
        switch rawValue {
        case 0: "unknown"; case 1: "international"; case 2: "national"; case 3: "network_specific"
        case 4: "subscriber_number"; case 5: "alphanumeric"; case 6: "abbreviated"
        default: nil
        }
    }
}

/// Numbering Plan Indicator (`addr_npi`), SMPP 3.4 §5.2.6.
public struct NPI: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    /// Unknown (0).
    public static let unknown = NPI(0)
    /// ISDN, E.163/E.164 (1): telephone numbers.
    public static let isdn = NPI(1)
    /// Data, X.121 (3).
    public static let data = NPI(3)
    /// Telex, F.69 (4).
    public static let telex = NPI(4)
    /// Land Mobile, E.212 (6).
    public static let landMobile = NPI(6)
    /// National (8).
    public static let national = NPI(8)
    /// Private (9).
    public static let `private` = NPI(9)
    /// ERMES (10).
    public static let ermes = NPI(10)
    /// Internet, IP (14).
    public static let internet = NPI(14)
    /// WAP Client Id (18).
    public static let wapClientID = NPI(18)

    public var name: String? {
        switch rawValue {
        case 0: "unknown"; case 1: "isdn"; case 3: "data"; case 4: "telex"; case 6: "land_mobile"
        case 8: "national"; case 9: "private"; case 10: "ermes"; case 14: "internet"; case 18: "wap_client_id"
        default: nil
        }
    }
}

/// `esm_class`, SMPP 3.4 §5.2.12: messaging mode, message type and GSM features packed in one octet.
///
/// The two bits this bridge acts on are UDHI (the short_message starts with a
/// User Data Header, so concatenation and language shifts must be read from it)
/// and the message type (a delivery receipt is not an OTP).
public struct ESMClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// Bits 1-0: messaging mode (submit_sm only; 0 in deliver_sm).
    @inlinable public var messagingMode: UInt8 { rawValue & 0x03 }
    /// Bits 5-2: message type.
    @inlinable public var messageType: MessageType { MessageType(rawValue: rawValue & 0x3C) }
    /// Bit 6: UDHI, a User Data Header leads the short_message.
    @inlinable public var udhi: Bool { rawValue & 0x40 != 0 }
    /// Bit 7: reply path.
    @inlinable public var replyPath: Bool { rawValue & 0x80 != 0 }
    /// Is this a delivery receipt (an SMSC receipt or an SME acknowledgement)?
    @inlinable public var isDeliveryReceipt: Bool {
        let t = messageType
        return t == .smscDeliveryReceipt || t == .smeDeliveryAcknowledgement || t == .smeManualAcknowledgement
            || t == .intermediateDeliveryNotification
    }

    public static let udhIndicator = ESMClass(0x40)

    /// The message type bits (5-2) of esm_class, as they apply to deliver_sm.
    public struct MessageType: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// A normal message (xx0000xx).
        public static let `default` = MessageType(rawValue: 0x00)
        /// SMSC delivery receipt (xx0001xx).
        public static let smscDeliveryReceipt = MessageType(rawValue: 0x04)
        /// SME delivery acknowledgement (xx0010xx).
        public static let smeDeliveryAcknowledgement = MessageType(rawValue: 0x08)
        /// SME manual/user acknowledgement (xx0100xx).
        public static let smeManualAcknowledgement = MessageType(rawValue: 0x10)
        /// Conversation abort, Korean CDMA (xx0110xx).
        public static let conversationAbort = MessageType(rawValue: 0x18)
        /// Intermediate delivery notification (xx1000xx).
        public static let intermediateDeliveryNotification = MessageType(rawValue: 0x20)
    }
}

/// `registered_delivery`, SMPP 3.4 §5.2.17.
public struct RegisteredDelivery: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    /// Bits 1-0: SMSC delivery receipt requested (1: on success or failure, 2: on failure).
    @inlinable public var smscDeliveryReceipt: UInt8 { rawValue & 0x03 }
    /// Bits 3-2: SME originated acknowledgement.
    @inlinable public var smeAcknowledgement: UInt8 { (rawValue >> 2) & 0x03 }
    /// Bit 4: intermediate notification.
    @inlinable public var intermediateNotification: Bool { rawValue & 0x10 != 0 }
}

/// `message_state`, SMPP 3.4 §5.2.28, carried by query_sm_resp and the message_state TLV of receipts.
public struct MessageState: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    public static let enroute = MessageState(1)
    public static let delivered = MessageState(2)
    public static let expired = MessageState(3)
    public static let deleted = MessageState(4)
    public static let undeliverable = MessageState(5)
    public static let accepted = MessageState(6)
    public static let unknown = MessageState(7)
    public static let rejected = MessageState(8)

    /// The spec's name (`DELIVERED`), as receipts spell the `stat:` field.
    public var name: String? {
        switch rawValue {
        case 1: "ENROUTE"; case 2: "DELIVERED"; case 3: "EXPIRED"; case 4: "DELETED"
        case 5: "UNDELIVERABLE"; case 6: "ACCEPTED"; case 7: "UNKNOWN"; case 8: "REJECTED"
        default: nil
        }
    }
}

extension MessageState {
    @available(*, unavailable, renamed: "delivered") public static var DELIVERED: MessageState { .delivered }
    @available(*, unavailable, renamed: "undeliverable") public static var UNDELIVERABLE: MessageState { .undeliverable }
}
