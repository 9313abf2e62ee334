import Primitives
package import Foundation
package import Logging
import SMPPWire

/// One line per event on stderr, JSON or logfmt. Values that may hold a phone
/// number or a code are masked by the code that logs them (see `Mask`); this
/// handler only formats.
package struct LineLogHandler: LogHandler {
    package var label: String
    package var format: LogFormat
    /// Shared by every copy of the logger, so that `ctl log-level` changes them all.
    package let level: LogLevelBox
    package var metadata: Logger.Metadata = [:]
    package let sink: LogSink

    package init(label: String, format: LogFormat, level: LogLevelBox, sink: LogSink) {
        self.label = label
        self.format = format
        self.level = level
        self.sink = sink
    }

    package init(label: String, format: LogFormat, logLevel: Logger.Level, sink: LogSink) {
        self.init(label: label, format: format, level: LogLevelBox(logLevel), sink: sink)
    }

    package var logLevel: Logger.Level {
        get { level.level }
        set { level.level = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", LineLogHandler.timestamp()), ("level", event.level.rawValue), ("logger", label), ("msg", event.message.description),
        ]
        var merged = metadata
        if let m = event.metadata { merged.merge(m) { _, new in new } }
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) { fields.append((k, "\(v)")) }
        sink.write(format == .json ? Self.json(fields) : Self.logfmt(fields))
    }

    package static func json(_ f: [(String, String)]) -> String {
        "{" + f.map { "\"\(jsonEscaped($0.0))\":\"\(jsonEscaped($0.1))\"" }.joined(separator: ",") + "}"
    }

    package static func logfmt(_ f: [(String, String)]) -> String {
        f.map { k, v in
            let needsQuotes = v.isEmpty || v.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline })
            return "\(k)=" + (needsQuotes ? "\"\(jsonEscaped(v))\"" : v)
        }.joined(separator: " ")
    }

    /// RFC 3339 UTC with milliseconds, formatted by hand (it runs for every routing event).
    package static func timestamp() -> String { timestamp(unixMillis: Clock.wallMillis()) }

    /// RFC 3339 UTC with milliseconds, for a Unix time in milliseconds.
    package static func timestamp(unixMillis ms: UInt64) -> String { timestamp(seconds: Int(ms / 1000), millis: Int(ms % 1000)) }

    package static func timestamp(seconds: Int, millis: Int) -> String {
        var t = time_t(seconds)
        var p = tm()
        gmtime_r(&t, &p)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        func put(_ v: Int, _ width: Int) {
            var d = [UInt8](repeating: 0x30, count: width)
            var x = v
            for i in stride(from: width - 1, through: 0, by: -1) { d[i] = 0x30 + UInt8(x % 10); x /= 10 }
            out += d
        }
        put(Int(p.tm_year) + 1900, 4); out.append(0x2D); put(Int(p.tm_mon) + 1, 2); out.append(0x2D); put(Int(p.tm_mday), 2)
        out.append(0x54); put(Int(p.tm_hour), 2); out.append(0x3A); put(Int(p.tm_min), 2); out.append(0x3A); put(Int(p.tm_sec), 2)
        out.append(0x2E); put(millis, 3); out.append(0x5A)
        return String(decoding: out, as: UTF8.self)
    }
}


/// Where log lines go (stderr, or a buffer in tests); one lock so lines never interleave.
package final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle?
    private var captured: [String]?

    package init(handle: FileHandle? = .standardError, capture: Bool = false) {
        self.handle = handle
        captured = capture ? [] : nil
    }

    package func write(_ line: String) {
        lock.withLock {
            captured?.append(line)
            handle?.write(Data((line + "\n").utf8))
        }
    }

    package var lines: [String] { lock.withLock { captured ?? [] } }
}

/// Masking for logs, events and errors: on unless the config reveals.
package struct Mask: Sendable {
    package var reveal: Bool
    package init(reveal: Bool) { self.reveal = reveal }
    package func number(_ s: String) -> String { reveal ? s : Redact.number(s) }
    package func text(_ s: String) -> String { reveal ? s : Redact.text(s) }
    package func code(_ s: String?) -> String? { s.map { reveal ? $0 : String(repeating: "*", count: $0.count) } }
}

import Routing

extension Logger.Level {
    package init(config s: String) { self = Logger.Level(rawValue: s) ?? .info }
}

/// Log lines that one bad peer could produce per PDU, limited per kind: at most
/// `burst` lines per `window` seconds; the rest are counted
/// (`smpp_bridge_log_lines_suppressed_total{kind}`) and summed up in the next line
/// let through. A malformed-PDU flood cannot fill the disk or drown other lines.
package final class LogLimiter: @unchecked Sendable {
    package let burst: Int
    package let window: Double
    private let lock = NSLock()
    private var windows: [String: (start: Double, lines: Int, suppressed: Int)] = [:]
    private let metrics: MetricsRegistry?

    /// The kinds of line limited (each a `kind` label of smpp_bridge_log_lines_suppressed_total, at 0 from the start).
    package static let kinds = ["malformed_kept", "malformed_answered"]

    package init(burst: Int = 20, window: Double = 10, metrics: MetricsRegistry? = nil) {
        self.burst = burst
        self.window = window
        self.metrics = metrics
        for kind in Self.kinds { _ = metrics?.counter(M.logSuppressed, [("kind", kind)]) }
    }

    /// Whether to log a line of `kind` now, and how many of that kind were suppressed since the last one.
    package func admit(_ kind: String, now: Double = Date().timeIntervalSince1970) -> (log: Bool, suppressed: Int) {
        let (log, suppressed) = lock.withLock { () -> (Bool, Int) in
            var w = windows[kind] ?? (now, 0, 0)
            if now - w.start >= window {
                let carried = w.suppressed
                w = (now, 1, 0)
                windows[kind] = w
                return (true, carried)
            }
            if w.lines < burst {
                w.lines += 1
                let carried = w.suppressed
                w.suppressed = 0
                windows[kind] = w
                return (true, carried)
            }
            w.suppressed += 1
            windows[kind] = w
            return (false, 0)
        }
        if !log { metrics?.inc(M.logSuppressed, [("kind", kind)]) }
        return (log, suppressed)
    }

    /// Logs through `logger` if admitted, adding `suppressed` when lines were dropped before it.
    package func warning(_ logger: Logger, kind: String, _ message: Logger.Message, metadata: Logger.Metadata = [:]) {
        let a = admit(kind)
        guard a.log else { return }
        var m = metadata
        if a.suppressed > 0 { m["suppressed"] = "\(a.suppressed)" }
        logger.warning(message, metadata: m)
    }
}
