import BridgeRuntime
import Foundation
import Routing
import SMPPSimulator
import SMPPWire
import Store

/// Compares what the simulator saw acknowledged with what PostgreSQL holds: the
/// promise is that every message the SMSC saw acked is stored exactly once.
/// The expected dedup key of each simulated message is computed by running its
/// PDUs through the same routing code the bridge uses.
struct DeliveryAudit: Sendable, Encodable {
    enum CodingKeys: String, CodingKey {
        case sent, acked, stored, lost, duplicated, unexpected, neverAcked = "never_acked", lostIDs = "lost_ids"
        case contentDuplicates = "content_duplicates"
    }

    var sent = 0
    var acked = 0
    var stored = 0
    var lost = 0
    var duplicated = 0
    var unexpected = 0
    var neverAcked = 0
    var lostIDs: [Int] = []
    /// Simulated messages identical in content (carrier, sender, number, text) to an
    /// earlier one. The simulator sends them seconds apart, inside the dedup window,
    /// where they cannot be told from a redelivery: stored once, the repeat recorded
    /// on the stored row (`redelivery_count`).
    var contentDuplicates = 0

    /// Messages whose last part the simulator withheld, and how many of them are stored
    /// as incomplete (with `missing_parts`).
    var withheld = 0
    var incompleteStored = 0

    static func run(simLog: String, mix: TrafficMix, count: Int, carrier: String, db: PostgresConnection,
                    faults: SimulatorFaults = SimulatorFaults()) throws -> DeliveryAudit {
        var a = DeliveryAudit()
        a.sent = count
        // Parts acked with ESME_ROK, per message.
        var okParts: [Int: Set<Int>] = [:]
        let text = (try? String(contentsOfFile: simLog, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.contains("\"event\":\"acked\"") {
            let f = FlatFields(line)
            guard let msg = f.int("msg"), msg >= 0, let part = f.int("part") else { continue }
            okParts[msg, default: []].insert(part)
        }
        var idsByKey: [String: [Int]] = [:]
        let router = SessionRouter(carrier: CarrierProfile(name: carrier, plan: .uk), table: LeaseTable(), reassembler: Reassembler(), extractor: OTPExtractor())
        var ackedIDs: Set<Int> = []
        var withheldIDs: Set<Int> = []
        for id in 0..<count {
            var m = mix.message(id)
            if faults.omitsLastPart(of: id, parts: m.parts.count) {
                m.parts.removeLast()
                withheldIDs.insert(id)
            }
            if okParts[id]?.count == m.parts.count { ackedIDs.insert(id) }
            let k = withheldIDs.contains(id) ? incompleteKey(m, carrier: carrier) : expectedKey(m, router: router)
            if let k { idsByKey[k, default: []].append(id) }
        }
        a.withheld = withheldIDs.count
        a.contentDuplicates = idsByKey.values.reduce(0) { $0 + $1.count - 1 }
        a.acked = ackedIDs.count
        a.neverAcked = count - a.acked
        // PDUs kept as evidence of a malformed body (`invalid_reason`) are the injected faults, not simulated messages.
        let rows = try db.execute("""
            SELECT replace(dedup_key::text, '-', ''), count(*), bool_or(missing_parts <> '{}') FROM messages
            WHERE carrier = $1 AND invalid_reason IS NULL GROUP BY 1
            """, [.text(carrier)]).rows
        var storedIDs: Set<Int> = []
        for r in rows {
            guard let k = r[0], let n = r[1].flatMap({ Int($0) }) else { continue }
            if n > 1 { a.duplicated += n - 1 }
            if let ids = idsByKey[k] {
                storedIDs.formUnion(ids)
                if r[2] == "t" { a.incompleteStored += ids.filter(withheldIDs.contains).count }
            } else { a.unexpected += 1 }
        }
        a.stored = storedIDs.count
        let lost = ackedIDs.subtracting(storedIDs)
        a.lost = lost.count
        a.lostIDs = Array(lost.sorted().prefix(20))
        return a
    }

    /// The key of a message given up with parts missing: what the reassembler's timeout produces.
    static func incompleteKey(_ m: TrafficMix.Message, carrier: String) -> String? {
        let reassembler = Reassembler(timeoutMillis: 1)
        let router = SessionRouter(carrier: CarrierProfile(name: carrier, plan: .uk), table: LeaseTable(), reassembler: reassembler, extractor: OTPExtractor())
        var ev: [InboundMessage] = []
        for pdu in m.parts {
            _ = pdu.withUnsafeBytes { b -> Accepted? in
                guard let f = try? PDUFrame(b), let v = try? ShortMessageView(f) else { return nil }
                return router.accept(v, receivedAt: 0, evicted: &ev)
            }
        }
        guard let given = reassembler.expire(now: .max / 2).first else { return nil }
        return router.message(from: given).dedupKey.hex
    }

    static func expectedKey(_ m: TrafficMix.Message, router: SessionRouter) -> String? {
        var ev: [InboundMessage] = []
        for (i, pdu) in m.parts.enumerated() {
            let r: Accepted? = pdu.withUnsafeBytes { b in
                guard let f = try? PDUFrame(b) else { return nil }
                if f.commandID == .dataSM, let v = try? DataSMView(f) { return router.accept(v, receivedAt: 0, evicted: &ev) }
                guard let v = try? ShortMessageView(f) else { return nil }
                return router.accept(v, receivedAt: 0, evicted: &ev)
            }
            switch r {
            case .message(let msg)?: return msg.dedupKey.hex
            case .part(_, _, let done?)?: return done.dedupKey.hex
            default: if i == m.parts.count - 1 { return nil }
            }
        }
        return nil
    }
}

/// Reads the simulator's flat JSON lines (numbers and strings, no nesting).
struct FlatFields {
    let line: Substring
    init(_ l: Substring) { line = l }
    func raw(_ key: String) -> Substring? {
        guard let r = line.range(of: "\"\(key)\":") else { return nil }
        let rest = line[r.upperBound...]
        let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) ?? rest.endIndex
        return rest[..<end]
    }
    func int(_ key: String) -> Int? { raw(key).flatMap { Int($0) } }
}
