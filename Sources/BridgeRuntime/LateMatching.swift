import Dispatch
package import Logging
package import Routing
import Store

/// Late matching for the running bridge (`LateMatcher`), on a queue and a database
/// connection of its own, so that neither the lease sync nor a session waits for it.
package final class LateMatching: @unchecked Sendable {
    package let url: String
    package let lookbackSeconds: Int
    /// How long after a lease change to look once more: a message routed against the
    /// table just before the lease reached it may still be in the writer, and is
    /// committed (or answered with a temporary error) within the commit deadline.
    package let settleSeconds: Double
    package let metrics: MetricsRegistry
    package let logger: Logger
    package let extractor: @Sendable () -> OTPExtractor
    private let queue = DispatchQueue(label: "smpp.bridge.late-match")
    private var db: PostgresConnection?

    package init(url: String, lookbackSeconds: Int, settleSeconds: Double, metrics: MetricsRegistry, logger: Logger,
         extractor: @escaping @Sendable () -> OTPExtractor) {
        self.url = url
        self.lookbackSeconds = lookbackSeconds
        self.settleSeconds = settleSeconds
        self.metrics = metrics
        self.logger = logger
        self.extractor = extractor
    }

    /// From the lease sync: these numbers' leases changed (nil: any number's may have).
    package func leasesApplied(_ msisdns: [String]?) {
        guard lookbackSeconds > 0 else { return }
        queue.async { self.run(msisdns) }
        queue.asyncAfter(deadline: .now() + settleSeconds) { self.run(msisdns) }
    }

    /// Waits for what is queued (tests, shutdown).
    package func drain() { queue.sync {} }

    private func run(_ msisdns: [String]?) {
        do {
            if db?.isHealthy != true { db = try PostgresConnection(url, applicationName: "smpp-bridge-late-match") }
            let routed = try LateMatcher.run(db!, msisdns: msisdns.map { Array(Set($0)) }, lookbackSeconds: lookbackSeconds,
                                             extractor: extractor())
            for m in routed {
                metrics.inc(M.lateMatches, [("carrier", m.carrier)])
                logger.info("late match", metadata: ["message_id": "\(m.messageID)", "order_id": "\(m.orderID)"])
            }
        } catch {
            db = nil
            logger.warning("late matching failed; the next lease change or reconcile tries again", metadata: ["error": "\(error)"])
        }
    }
}
