public import ArgumentParser

/// `smpp-bridge`: the TrueOTP SMPP carrier gateway bridge.
public struct SMPPBridgeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "smpp-bridge",
        abstract: "TrueOTP SMPP 3.4 carrier gateway bridge: receives SMS from carriers and routes OTP codes.",
        version: "smpp-bridge \(BuildStamp.version) (commit \(BuildStamp.commit))",
        subcommands: [RunCommand.self, CheckConfigCommand.self, TopCommand.self, TailCommand.self, AuditCommand.self, DecodeCommand.self, ExtractCommand.self, SimCommand.self, ProbeCommand.self, MigrateCommand.self, RetentionCommand.self, RerouteCommand.self, ReadyCommand.self, DemoCommand.self]
    )
    public init() {}
}
