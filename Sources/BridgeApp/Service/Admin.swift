import Foundation
import Logging
import Synchronization

/// What an operator can do to a running bridge without editing files (`smpp-bridge ctl`).
enum AdminAction: Sendable, Equatable {
    case stopCarrier(String)
    case startCarrier(String)
    case restartCarrier(String)
    case setLogLevel(Logger.Level)

    /// The `action` label of smpp_bridge_admin_requests_total.
    var name: String {
        switch self {
        case .stopCarrier: "carrier_stop"
        case .startCarrier: "carrier_start"
        case .restartCarrier: "carrier_restart"
        case .setLogLevel: "log_level"
        }
    }

    /// Every `name`, one action of each kind (their metric series exist at 0 from the start).
    static let names = [AdminAction.stopCarrier(""), .startCarrier(""), .restartCarrier(""), .setLogLevel(.info)].map(\.name)

    /// The action a `POST` path names: `/admin/carriers/<name>/stop|start|restart` or
    /// `/admin/log-level?level=<level>`. Nil: no such action (404); a bad level is a 400.
    static func parse(path: String, query: [(String, String)]) -> Result<AdminAction, AdminError>? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch parts.count {
        case 2 where parts == ["admin", "log-level"]:
            guard let v = query.first(where: { $0.0 == "level" })?.1, let level = Logger.Level(rawValue: v) else {
                return .failure(AdminError(status: 400, message: "level: expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            return .success(.setLogLevel(level))
        case 4 where parts[0] == "admin" && parts[1] == "carriers":
            switch parts[3] {
            case "stop": return .success(.stopCarrier(parts[2]))
            case "start": return .success(.startCarrier(parts[2]))
            case "restart": return .success(.restartCarrier(parts[2]))
            default: return nil
            }
        default: return nil
        }
    }
}

struct AdminError: Error, Sendable, Equatable {
    var status: Int
    var message: String
}

/// The outcome of an action, as the client gets it (one JSON object).
struct AdminResult: Codable, Sendable, Equatable {
    var action: String
    var carrier: String?
    var result: String
}

/// What the metrics server needs from the service to answer `/status` and `/admin/...`.
struct AdminHooks: Sendable {
    /// The admin token, or nil when admin actions are off.
    var token: @Sendable () -> String?
    var status: @Sendable () -> BridgeStatus
    /// Checks the action now (an unknown carrier is a 404); runs it later, off the HTTP queue, and calls back.
    var check: @Sendable (AdminAction) -> AdminError?
    var perform: @Sendable (AdminAction, @escaping @Sendable (AdminResult) -> Void) -> Void

    /// Constant time in the token's length: a wrong guess takes as long wherever it differs.
    static func tokenMatches(_ header: String?, _ token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst("Bearer ".count).utf8), want = Array(token.utf8)
        var diff = UInt8(given.count == want.count ? 0 : 1)
        for i in 0..<want.count { diff |= want[i] ^ (i < given.count ? given[i] : 0) }
        return diff == 0
    }
}

/// `GET /status`: the bridge's state as JSON, for `top`, `ctl status` and scripts. Counters
/// and latencies stay in /metrics; this says what is up, where and why.
struct BridgeStatus: Codable, Sendable, Equatable {
    struct Bind: Codable, Sendable, Equatable {
        var name: String
        var state: String
        var windowInUse: Int
        var unackedInbound: Int
        var pdusIn: UInt64
        var pdusOut: UInt64
        var reconnects: Int
    }
    struct Carrier: Codable, Sendable, Equatable {
        var name: String
        /// "running", or "stopped" by an admin action (kept across SIGHUP until started again).
        var state: String
        var binds: [Bind]
        /// Seconds since the carrier's last deliver_sm or data_sm (since start if none).
        var silentSeconds: Double
    }
    struct Writer: Codable, Sendable, Equatable {
        var server: String?
        var role: String?
        var queueDepth: Int
        var lastCommitSecondsAgo: Double?
        var rowsCommitted: Int
        var failing: Bool
    }
    struct Leases: Codable, Sendable, Equatable {
        var entries: Int
        var loaded: Bool
        var listening: Bool
    }
    var instance: String
    var version: String
    var commit: String
    var uptimeSeconds: Double
    var stage: String
    var ready: Bool
    var readiness: String
    var logLevel: String
    var adminEnabled: Bool
    var carriers: [Carrier]
    var writer: Writer?
    var leases: Leases?
    var reassemblyPending: Int

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()
}

/// The log level, changed at run time by `ctl log-level`: every copy of the logger reads it.
final class LogLevelBox: Sendable {
    private let raw: Atomic<Int>
    init(_ level: Logger.Level) { raw = Atomic(Self.index(level)) }
    var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Self.index(newValue), ordering: .relaxed) }
    }
    private static func index(_ l: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: l) ?? 2 }
}
