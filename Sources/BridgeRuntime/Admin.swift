package import Foundation
package import Logging
import Synchronization

/// What an operator can do to a running bridge without editing files (`smpp-bridge ctl`).
package enum AdminAction: Sendable, Equatable {
    case stopCarrier(String)
    case startCarrier(String)
    case restartCarrier(String)
    case setLogLevel(Logger.Level)

    /// The `action` label of smpp_bridge_admin_requests_total.
    package var name: String {
        switch self {
        case .stopCarrier: "carrier_stop"
        case .startCarrier: "carrier_start"
        case .restartCarrier: "carrier_restart"
        case .setLogLevel: "log_level"
        }
    }

    /// Every `name`, one action of each kind (their metric series exist at 0 from the start).
    package static let names = [AdminAction.stopCarrier(""), .startCarrier(""), .restartCarrier(""), .setLogLevel(.info)].map(\.name)

    /// The action a `POST` path names: `/admin/carriers/<name>/stop|start|restart` or
    /// `/admin/log-level?level=<level>`. Nil: no such action (404); a bad level is a 400.
    package static func parse(path: String, query: [(String, String)]) -> Result<AdminAction, AdminError>? {
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

package struct AdminError: Error, Sendable, Equatable {
    package var status: Int
    package var message: String
}

/// The outcome of an action, as the client gets it (one JSON object).
package struct AdminResult: Codable, Sendable, Equatable {
    package var action: String
    package var carrier: String?
    package var result: String
    package init(action: String, carrier: String?, result: String) {
        self.action = action
        self.carrier = carrier
        self.result = result
    }
}

/// What the metrics server needs from the service to answer `/status` and `/admin/...`.
package struct AdminHooks: Sendable {
    /// The admin token, or nil when admin actions are off.
    package var token: @Sendable () -> String?
    package var status: @Sendable () -> BridgeStatus
    /// Checks the action now (an unknown carrier is a 404); runs it later, off the HTTP queue, and calls back.
    package var check: @Sendable (AdminAction) -> AdminError?
    package var perform: @Sendable (AdminAction, @escaping @Sendable (AdminResult) -> Void) -> Void

    package init(token: @escaping @Sendable () -> String?, status: @escaping @Sendable () -> BridgeStatus,
                 check: @escaping @Sendable (AdminAction) -> AdminError?,
                 perform: @escaping @Sendable (AdminAction, @escaping @Sendable (AdminResult) -> Void) -> Void) {
        self.token = token
        self.status = status
        self.check = check
        self.perform = perform
    }

    /// Constant time in the token's length: a wrong guess takes as long wherever it differs.
    package static func tokenMatches(_ header: String?, _ token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst("Bearer ".count).utf8), want = Array(token.utf8)
        var diff = UInt8(given.count == want.count ? 0 : 1)
        for i in 0..<want.count { diff |= want[i] ^ (i < given.count ? given[i] : 0) }
        return diff == 0
    }
}

/// `GET /status`: the bridge's state as JSON, for `top`, `ctl status` and scripts. Counters
/// and latencies stay in /metrics; this says what is up, where and why.
package struct BridgeStatus: Codable, Sendable, Equatable {
    package struct Bind: Codable, Sendable, Equatable {
        package var name: String
        package var state: String
        package var windowInUse: Int
        package var unackedInbound: Int
        package var pdusIn: UInt64
        package var pdusOut: UInt64
        package var reconnects: Int
    }
    package struct Carrier: Codable, Sendable, Equatable {
        package var name: String
        /// "running", or "stopped" by an admin action (kept across SIGHUP until started again).
        package var state: String
        package var binds: [Bind]
        /// Seconds since the carrier's last deliver_sm or data_sm (since start if none).
        package var silentSeconds: Double
    }
    package struct Writer: Codable, Sendable, Equatable {
        package var server: String?
        package var role: String?
        package var queueDepth: Int
        package var lastCommitSecondsAgo: Double?
        package var rowsCommitted: Int
        package var failing: Bool
    }
    package struct Leases: Codable, Sendable, Equatable {
        package var entries: Int
        package var loaded: Bool
        package var listening: Bool
    }
    package var instance: String
    package var version: String
    package var commit: String
    package var uptimeSeconds: Double
    package var stage: String
    package var ready: Bool
    package var readiness: String
    package var logLevel: String
    package var adminEnabled: Bool
    package var carriers: [Carrier]
    package var writer: Writer?
    package var leases: Leases?
    package var reassemblyPending: Int

    package static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    package static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()
}

/// The log level, changed at run time by `ctl log-level`: every copy of the logger reads it.
package final class LogLevelBox: Sendable {
    private let raw: Atomic<Int>
    package init(_ level: Logger.Level) { raw = Atomic(Self.index(level)) }
    package var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Self.index(newValue), ordering: .relaxed) }
    }
    private static func index(_ l: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: l) ?? 2 }
}
