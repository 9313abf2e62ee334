import Primitives
import Dispatch
import Logging
package import Routing
package import Store

/// The one owner of multi-part messages in the service: the reassembler's state, the
/// parts restored from the store at start, the sweep that gives up timed-out messages
/// or completes them with parts other bridges stored, and putting parts back when a
/// completed message could not be stored. Parts carry everything their message needs
/// (its types of number included), so a message rebuilt here decodes nothing again.
package final class MultipartCoordinator: @unchecked Sendable {
    package let reassembler: Reassembler
    private let queue = DispatchQueue(label: "smpp.bridge.multipart")
    private var sweeper: (any DispatchSourceTimer)?
    /// The sweep's own connection, for the parts other bridges stored (made when first needed).
    private var db: PostgresConnection?
    private var databaseURL = ""
    /// Stores a message rebuilt here, through its carrier's pipeline.
    private var store: @Sendable (InboundMessage) -> Void = { _ in }

    /// Store lookups for parts other bridges may hold, per one-second sweep.
    package static let staleLookupsPerSweep = 256

    package init(reassembler: Reassembler) { self.reassembler = reassembler }

    /// Reassembly survives restarts: pending parts come back from the store, in chunks,
    /// so the reassembler's memory cap applies as they come in (the oldest incomplete
    /// ones are given up and stored), never the whole table at once. Returns the parts
    /// restored and the messages they completed, to be stored once the carriers run.
    package func restore(from db: PostgresConnection) throws -> (parts: Int, completed: [AssembledMessage]) {
        var parts = 0
        var completed: [AssembledMessage] = []
        try PartStore.pending(db, chunk: 10_000) { chunk in
            parts += chunk.count
            completed += reassembler.restore(chunk)
        }
        return (parts, completed)
    }

    /// Stores messages completed or given up outside a session.
    private func store(_ assembled: [AssembledMessage], using router: (String) -> SessionRouter?) {
        for a in assembled {
            guard let r = router(a.key.carrier) else { continue }
            store(r.message(from: a))
        }
    }

    /// A completing part's message was not stored: its earlier parts go back, so that
    /// the SMSC's retry of the completing one completes it again.
    package func putBack(_ parts: [Part], except completing: Part) {
        let key = DedupKey.part(completing)
        _ = reassembler.restore(parts.filter { DedupKey.part($0) != key })
    }

    /// Stores what the restore completed, then each second: timed-out messages are stored
    /// with their gaps (after a look at what other bridges stored), and after 2 s a
    /// pending message is looked up in the store. `router`: the carrier's current router;
    /// `store`: stores through the carrier's pipeline.
    package func start(databaseURL: String, restored: [AssembledMessage], router: @escaping @Sendable (String) -> SessionRouter?,
               store: @escaping @Sendable (InboundMessage) -> Void) {
        self.databaseURL = databaseURL
        self.store = store
        self.store(restored, using: router)
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + 1, repeating: 1)
        t.setEventHandler { [weak self] in
            guard let self else { return }
            let now = Clock.wallMillis()
            for m in reassembler.expire(now: now) { resolveWithStore(m, timedOut: true, router: router) }
            for m in reassembler.stale(olderThan: 2000, now: now, recheck: 3000, limit: Self.staleLookupsPerSweep) {
                resolveWithStore(m, timedOut: false, router: router)
            }
        }
        sweeper = t
        t.resume()
    }

    package func stop() { sweeper?.cancel() }

    /// Completes a pending multi-part message from parts other bridges stored, holds
    /// it as redelivered when another bridge already stored it, or (timed out) stores
    /// what there is, marked with its gaps. Runs on `queue`.
    private func resolveWithStore(_ m: AssembledMessage, timedOut: Bool, router: (String) -> SessionRouter?) {
        let stored: (open: [Part], consumed: Set<DedupKey>)
        do {
            if db == nil || db?.isHealthy == false { db = try PostgresConnection(databaseURL, applicationName: "smpp-bridge-reassembly") }
            stored = try PartStore.parts(of: m.key, consumedAmong: m.parts.compactMap { $0 }.map(DedupKey.part), db!)
        } catch {
            db = nil
            if timedOut { store([m], using: router) }  // the database dedups it if it was stored after all
            return
        }
        switch m.resolve(open: stored.open, consumed: stored.consumed, timedOut: timedOut) {
        case .storedAlready:
            // Another bridge (or this one, before a restart) stored these parts. Most
            // likely the whole message; but a new message that repeats a part exactly
            // may still be coming, so they are held until the timeout, not dropped.
            if !timedOut { reassembler.markEchoes(m.key, consumed: stored.consumed) }
        case .complete(let merged):
            if !timedOut { guard reassembler.claim(m.key, now: Clock.wallMillis()) != nil else { return } }
            store([merged], using: router)
        case .incomplete(let merged):
            store([merged], using: router)
        case .wait:
            break
        }
    }
}
