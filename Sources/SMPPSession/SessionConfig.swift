#if canImport(Glibc)
    import Glibc
#endif
public import SMPPWire

/// How to bind.
public enum BindType: String, Sendable, Hashable, CaseIterable {
    case receiver, transceiver, transmitter
    var commandID: CommandID {
        switch self {
        case .receiver: .bindReceiver
        case .transceiver: .bindTransceiver
        case .transmitter: .bindTransmitter
        }
    }
}

/// Exponential backoff with full jitter and a cap.
public struct Backoff: Hashable, Sendable {
    public var initial: Double
    public var maximum: Double
    public var multiplier: Double
    public init(initial: Double = 1, maximum: Double = 60, multiplier: Double = 2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
    }
    /// Delay before attempt `n` (0-based): uniform in [base/2, base], base = min(max, initial·mᶰ).
    public func delay(attempt n: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let base = min(maximum, initial * pow(multiplier, Double(min(n, 30))))
        return base / 2 + base / 2 * random
    }
}

/// One bind to one SMSC.
public struct SessionConfig: Sendable {
    public var name: String
    public var host: String
    public var port: Int
    public var systemID: String
    public var password: String
    public var systemType: String = ""
    public var bindType: BindType = .receiver
    public var addrTON: TON = .unknown
    public var addrNPI: NPI = .unknown
    public var addressRange: String = ""
    public var connectTimeout: Double = 10
    /// Send enquire_link after this many idle seconds.
    public var enquireLinkInterval: Double = 30
    /// A request without a response after this long has failed (enquire_link: the link is dead).
    public var responseTimeout: Double = 10
    /// Outstanding requests we send.
    public var window: Int = 10
    /// Unacknowledged inbound messages before the session stops reading (backpressure).
    public var maxUnackedInbound: Int = 256
    public var backoff = Backoff()
    /// Bad credentials (ESME_RINVPASWD, ESME_RINVSYSID) back off long: hammering
    /// an SMSC with a wrong password gets an account locked.
    public var authFailureBackoff = Backoff(initial: 60, maximum: 900, multiplier: 2)
    public var limits: FrameLimits = .default
    /// TLS to the SMSC; nil: plain TCP.
    public var tls: TLSConfig?
    /// First sequence_number used (tests start near 0x7FFFFFFF to exercise the wrap).
    public var firstSequenceNumber: UInt32 = 1

    public init(name: String, host: String, port: Int, systemID: String, password: String) {
        self.name = name
        self.host = host
        self.port = port
        self.systemID = systemID
        self.password = password
    }
}

public enum SessionState: String, Sendable, Hashable {
    case idle, connecting, binding, bound, unbinding, backoff, stopped
}
