#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import Synchronization

/// The few serial queues that every session's own queue targets: one per core.
///
/// Each session keeps its own serial queue (its state is confined to it). Targeting the
/// global pool on its own, each would make Dispatch wake a thread per readable socket
/// and per ack hop; sharing a target per core lets one thread drain the events of
/// several sessions that arrive together, Apple's advice for queue hierarchies
/// ("Modernizing Grand Central Dispatch Usage", WWDC 2017; measured in
/// docs/performance-history/README.md, "End to end"). Nothing runs
/// blocking work on a session queue (name resolution is on a utility queue) and no
/// session waits synchronously for another, so sessions sharing a target cannot stall
/// or deadlock each other.
enum SessionQueues {
    static let targets: [DispatchQueue] = {
        let n = max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 16))
        return (0..<n).map { DispatchQueue(label: "smpp.session.io.\($0)") }
    }()
    private static let nextIndex = Atomic<Int>(0)

    /// Round robin: binds spread evenly over the cores.
    static func next() -> DispatchQueue {
        let i = nextIndex.add(1, ordering: .relaxed).oldValue
        return targets[i % targets.count]
    }
}
