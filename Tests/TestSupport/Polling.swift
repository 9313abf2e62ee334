import Foundation

/// Polls `cond` every 20 ms until it holds or `timeout` seconds pass; its last answer.
package func waitUntil(_ timeout: Double = 20, _ cond: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end { if cond() { return true }; usleep(20_000) }
    return cond()
}
