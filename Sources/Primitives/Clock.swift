#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one clock every layer reads: monotonic nanoseconds for durations and deadlines,
/// wall-clock milliseconds for what is stored or shown. `clock_gettime` through the vDSO:
/// no system call, cheap enough for every PDU.
package enum Clock {
    @inline(__always) package static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Milliseconds since the Unix epoch.
    @inline(__always) package static func wallMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    /// Seconds as nanoseconds (negative as 0).
    @inline(__always) package static func nanos(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
}
