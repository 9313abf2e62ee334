import BridgeRuntime
import ArgumentParser
import Foundation
import SMPPSimulator

/// `smpp-dev sim`: a real SMSC on loopback for the demo, the tests and the benchmarks.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim", abstract: "Run the SMSC simulator: accept binds and push a realistic OTP stream.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one and prints it).") var port = 2775
    @Option(help: "system_id accepted.") var systemID = "trueotp"
    @Option(help: "Environment variable holding the accepted password.") var passwordEnv = "SIM_PASSWORD"
    @Option(help: "Messages to deliver.") var count = 1000
    @Option(help: "Messages per second (0: as fast as the window allows).") var rate: Double = 0
    @Option(help: "deliver_sm outstanding per bind.") var window = 10
    @Option(help: "Share of multi-part messages (0…1).") var multipart: Double = 0.2
    @Option(help: "First destination number of the range.") var destFrom: UInt64 = 447_700_900_000
    @Option(help: "Last destination number of the range.") var destTo: UInt64 = 447_700_909_999
    @Option(help: "Seed of the message mix.") var seed: UInt64 = 1
    @Option(help: "JSON-lines log of every PDU and how it ended.") var log: String?
    @Flag(inversion: .prefixedNo, help: "Log a line per deliver_sm sent, as well as how it ended (acked lines carry sent_ms either way).")
    var logSent = true
    @Option(help: "Fault: drop the connection after N deliver_sm.") var dropAfter: Int?
    @Option(help: "Fault: a malformed deliver_sm before every Nth message.") var malformedEvery: Int?
    @Option(help: "Fault: redeliver every Nth acknowledged message.") var duplicateEvery: Int?
    @Option(help: "Fault: stall (stop reading) after N deliver_sm.") var stallAfter: Int?
    @Option(help: "Give up waiting after this many seconds.") var timeout: Double = 600

    func validate() throws {
        if destFrom > destTo { throw ValidationError("--dest-from must not exceed --dest-to") }
        if !(0...1).contains(multipart) { throw ValidationError("--multipart must be between 0 and 1") }
        if window < 1 { throw ValidationError("--window must be at least 1") }
    }

    func run() throws {
        var c = SimulatorConfig()
        c.host = host
        c.port = port
        c.systemID = systemID
        c.password = ProcessInfo.processInfo.environment[passwordEnv] ?? "secret"
        c.count = count
        c.rate = rate
        c.window = window
        c.mix = TrafficMix(destinations: destFrom...destTo, multipartRatio: multipart, seed: seed)
        c.logPath = log
        c.logSent = logSent
        c.faults = SimulatorFaults(dropAfter: dropAfter, malformedEvery: malformedEvery, duplicateEvery: duplicateEvery, stallAfter: stallAfter)
        let sim = SMSCSimulator(config: c)
        let p = try sim.start()
        FileHandle.standardError.write(Data("smpp-dev sim: listening on \(host):\(p), \(count) messages\n".utf8))
        _ = sim.waitUntilDone(timeout: timeout)
        let summary = sim.currentSummary
        sim.stop()
        print(summary.json)
    }
}

