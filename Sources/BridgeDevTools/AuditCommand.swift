import BridgeApp
import BridgeRuntime
import ArgumentParser
import Foundation
import SMPPSimulator
import Store

/// `smpp-bridge audit`: compares a simulator run's log with the database (the
/// no-loss check of the benchmarks and the fault suite), as one JSON object.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Compare a simulator log with the messages table: acked, stored, lost, duplicated.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "The simulator's --log file.") var simLog: String
    @Option(help: "Messages the simulator sent (its --count).") var count: Int
    @Option(help: "The simulator's --seed.") var seed: UInt64 = 1
    @Option(help: "The simulator's --multipart.") var multipart: Double = 0.2
    @Option(help: "The simulator's --dest-from.") var destFrom: UInt64 = 447_700_900_000
    @Option(help: "The simulator's --dest-to.") var destTo: UInt64 = 447_700_909_999
    @Option(help: "The carrier name the bridge stored them under.") var carrier = "sim"

    func run() throws {
        let mix = TrafficMix(destinations: destFrom...destTo, multipartRatio: multipart, seed: seed)
        let a = try DeliveryAudit.run(simLog: simLog, mix: mix, count: count, carrier: carrier, db: PostgresConnection(try db.url()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(a), as: UTF8.self))
        if a.lost > 0 || a.duplicated > 0 || a.unexpected > 0 { throw ExitCode(1) }
    }
}
