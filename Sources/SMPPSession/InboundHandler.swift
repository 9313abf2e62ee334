public import SMPPWire

/// Identifies an inbound message to acknowledge later. An ack for a connection
/// that has since gone away is dropped: the SMSC redelivers what it never saw acked.
public struct AckToken: Hashable, Sendable {
    public let connection: UInt64
    public let sequenceNumber: UInt32
    public let commandID: CommandID
    /// When the PDU arrived (monotonic nanoseconds), for ack latency.
    public let receivedAt: UInt64
}

/// Receives deliver_sm and data_sm on the session's queue, as the view the session
/// validated (valid only during the call). The handler routes it and later answers
/// `token` from any thread: `session.ack(token, committed:)` once it is stored,
/// `session.refuse(token, status:)` otherwise.
public protocol InboundHandler: AnyObject, Sendable {
    func session(_ session: ESMESession, received message: Inbound, token: AckToken)
    /// A PDU that failed to decode; the session has already answered it.
    func session(_ session: ESMESession, rejected frame: PDUFrame, error: DecodeError)
    /// A deliver_sm or data_sm that frames correctly but fails body validation, on a
    /// bound session. Returning true keeps it: the handler stores it as evidence and
    /// acks `token` itself, as for a valid one. False: the session answers it with
    /// the error's status (and then calls `rejected`).
    func session(_ session: ESMESession, invalid frame: PDUFrame, error: DecodeError, token: AckToken) -> Bool
}

extension InboundHandler {
    public func session(_ session: ESMESession, rejected frame: PDUFrame, error: DecodeError) {}
    public func session(_ session: ESMESession, invalid frame: PDUFrame, error: DecodeError, token: AckToken) -> Bool { false }
}

/// Counters and timestamps for the metrics layer. Read with `session.snapshot`.
public struct SessionStats: Sendable, Hashable {
    public var state: SessionState = .idle
    public var pdusIn = 0
    public var pdusOut = 0
    public var deliverSM = 0
    public var acksSent = 0
    public var unackedInbound = 0
    public var windowInUse = 0
    public var backpressurePauses = 0
    public var reconnects = 0
    public var reconnectReasons: [String: Int] = [:]
    public var genericNacksSent = 0
    public var malformed = 0
    public var unknownCommands = 0
    public var unmatchedResponses = 0
    public var alertNotifications = 0
    public var enquireLinksSent = 0
    public var lastBindError: CommandStatus?
    /// The last connection failure or close reason, for operators.
    public var lastError: String?
    public var boundSince: UInt64?
    public var lastReceivedAt: UInt64?
    /// When the last deliver_sm or data_sm arrived (monotonic ns), nil before the first.
    public var lastDeliverSMAt: UInt64?
}
