import Routing
import SMPPWire
@testable import Store
import Testing

/// The writer's statement builder, without PostgreSQL: what a batch writes and which
/// statement each result belongs to.
@Suite struct BatchPlanTests {
    static let traffic = Traffic()

    static func pending(_ m: StoredMessage) -> Pending { Pending.make(.message(m), completion: { _ in }, enqueuedAt: 0) }

    static func part(_ seq: UInt8, of total: UInt8 = 3, reference: UInt16 = 7) -> Part {
        Part(key: PartKey(carrier: "c1", source: "Bank", destination: "447700900123", reference: reference, referenceBits: 8, total: total),
             sequence: seq, dataCoding: 0, body: Array("part \(seq)".utf8), rawPDU: [1, 2, 3], receivedAt: 1_765_000_000_000,
             sourceTON: 5, destTON: 1)
    }

    static func pending(_ p: Part) -> Pending { Pending.make(.part(p, dedupKey: DedupKey.part(p)), completion: { _ in }, enqueuedAt: 0) }

    @Test func messagesAreOnePerKeyInKeyOrderWithTheirCopiesCounted() {
        let a = Self.traffic.message(1), b = Self.traffic.message(2)
        let plan = BatchPlan([Self.pending(b), Self.pending(a), Self.pending(b), Self.pending(b)])
        #expect(plan.messages.map(\.key) == [a.decision.dedupKey, b.decision.dedupKey].sorted())
        #expect(plan.extraCopies == [b.decision.dedupKey: 2])
        #expect(plan.months.count == 1)
    }

    @Test func theLeanInsertUnlessTheBatchNeedsTheRareColumns() {
        let plain = BatchPlan([Self.pending(Self.traffic.message(1))])
        let lean = plain.statements(onConflict: false)
        #expect(lean.names == [.begin, .messages, .commit])
        #expect(lean[.messages]?.sql == PreparedStatement.insertNewMessages.rawValue)
        #expect(lean[.messages]?.params.count == BatchSQL.messageRowColumns.count + 1)
        #expect(plain.statements(onConflict: true)[.messages]?.sql == PreparedStatement.insertMessages.rawValue)
        // A copy within the batch needs the extra columns (the redelivery count).
        let m = Self.traffic.message(3)
        let copies = BatchPlan([Self.pending(m), Self.pending(m)]).statements(onConflict: false)
        #expect(copies[.messages]?.sql == PreparedStatement.insertNewMessagesFull.rawValue)
        #expect(copies[.messages]?.params.count == BatchSQL.rawsParameter(full: true))
    }

    @Test func aPartWhoseMessageCompletesInTheBatchIsWrittenOnceAsConsumed() {
        let parts = [Self.part(1), Self.part(2), Self.part(3)]
        var m = Self.traffic.message(4)
        m.parts = parts
        let plan = BatchPlan([Self.pending(parts[0]), Self.pending(parts[1]), Self.pending(m), Self.pending(Self.part(1, of: 2, reference: 9))])
        #expect(plan.partRows.count == 4)
        #expect(plan.partRows.filter { $0.consumedBy == m.decision.dedupKey }.count == 3)
        #expect(plan.partRows.filter { $0.consumedBy == nil }.map(\.part.key.reference) == [9])
        #expect(plan.partRows.map(\.key) == plan.partRows.map(\.key).sorted(), "part rows are locked in key order")
        #expect(plan.statements(onConflict: false).names == [.begin, .messages, .parts, .commit])
    }

    @Test func aBatchOfPartsAloneHasNoMessageStatement() {
        let plan = BatchPlan([Self.pending(Self.part(1)), Self.pending(Self.part(1))])
        #expect(plan.messages.isEmpty && plan.months.isEmpty)
        #expect(plan.partRows.count == 1)
        #expect(plan.statements(onConflict: false).names == [.begin, .parts, .commit])
    }

    @Test func duplicatesAreReadFromTheResultsByName() {
        let k1 = DedupKey(high: 1, low: 2), k2 = DedupKey(high: 3, low: 4)
        let row = { (v: String?) in PostgresRows(columns: ["notified", "duplicates"], rows: [["0", v]], affected: 1) }
        var s = BatchStatements()
        s.append(.begin, .sql("BEGIN"))
        s.append(.messages, .sql("m"))
        s.append(.parts, .sql("p"))
        s.append(.commit, .sql("COMMIT"))
        let empty = PostgresRows(columns: [], rows: [], affected: 0)
        let results = s.results([empty, row("{\(k1.hex)}"), row("{\(k2.hex)}"), empty])
        #expect(BatchPlan.duplicates(in: results) == [k1, k2])
        #expect(BatchPlan.duplicates(in: s.results([empty, row(nil), row(nil), empty])).isEmpty)
    }
}
