#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A pthread mutex around a value, for state off the lookup paths (the lease table's
/// writer side, reassembly, the writer's stats, a session's ack inbox). Its own module,
/// below the layers that share it (package access), not inside the wire codec.
/// pthread rather than `Synchronization.Mutex` because ThreadSanitizer understands
/// pthread mutexes and reports false races through the stdlib's futex-based one, and
/// `make tsan` runs the table's stress test and the session tests under it.
package final class Locked<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    package init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
