import Primitives
import DequeModule
#if canImport(Glibc)
    import Glibc
#endif

/// The writer's queue: producers push, worker threads block in `take` for a batch.
///
/// Items are kept in lanes (one per carrier) and a batch takes from the lanes in turn,
/// one item each, so a carrier that floods the writer fills its own lane and not
/// everyone's batches: another carrier's item waits for at most the batch being
/// written, never behind the flood. A batch also stops at `maxCost` (bytes), so a lane
/// of large messages cannot make one commit long.
final class WorkQueue<Element>: @unchecked Sendable {
    private struct Entry {
        var element: Element
        var cost: Int
    }

    /// Each lane's items, oldest first; a lane's slot is kept when it empties (carriers are few).
    private var lanes: [Deque<Entry>] = []
    private var laneIndex: [Int: Int] = [:]
    /// The slots of the lanes holding items, in the order a batch takes from them.
    private var turn: Deque<Int> = []
    private var total = 0
    private var closed = false
    /// When the queue last went from empty to not empty: a batch waits at most
    /// `maxWait` from then, however late a worker comes for it.
    private var firstAt: UInt64 = 0
    /// Items that make a batch worth sending without waiting longer.
    private let target: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(target: Int = 1000) {
        self.target = Swift.max(1, target)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    var count: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return total
    }

    /// Queues `e` at the back of its lane. Wakes the workers only when there is
    /// something new for them: the first item (idle workers start a batch) and the
    /// target (a filling one need not wait); a wake per item cost a futex call and a
    /// context switch per message.
    func push(_ e: Element, lane: Int = 0, cost: Int = 1) {
        pthread_mutex_lock(mutex)
        let slot: Int
        if let s = laneIndex[lane] {
            slot = s
        } else {
            slot = lanes.count
            laneIndex[lane] = slot
            lanes.append(Deque())
        }
        if lanes[slot].isEmpty { turn.append(slot) }
        lanes[slot].append(Entry(element: e, cost: cost))
        total += 1
        let n = total
        if n == 1 { firstAt = Clock.monotonicNanos() }
        pthread_mutex_unlock(mutex)
        if n == 1 || n == target { pthread_cond_broadcast(cond) }
    }

    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(cond)
    }

    /// Waits for work; returns up to `max` items (and past `maxCost` by at most one
    /// item) once `target` (or `max`, if fewer) are there or `maxWait` passed since the
    /// oldest of them arrived. Nil once closed and drained.
    func take(max: Int, maxCost: Int = .max, maxWait: Double) -> [Element]? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while total == 0 {
            if closed { return nil }
            pthread_cond_wait(cond, mutex)
        }
        let due = firstAt &+ UInt64(maxWait * 1e9)
        let enough = Swift.min(max, target)
        if total < enough, !closed, maxWait > 0, Clock.monotonicNanos() < due {
            var deadline = timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
            while total < enough, !closed {
                if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { break }
            }
        }
        var batch: [Element] = []
        batch.reserveCapacity(Swift.min(max, total))
        var cost = 0
        while batch.count < max, cost < maxCost, let slot = turn.popFirst() {
            let entry = lanes[slot].removeFirst()  // moved out: the queue keeps nothing a worker took
            batch.append(entry.element)
            cost += entry.cost
            if !lanes[slot].isEmpty { turn.append(slot) }
        }
        total -= batch.count  // what is left keeps its firstAt: it has waited already
        return batch
    }
}
