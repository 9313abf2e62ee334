import BridgeRuntime
public import ArgumentParser

/// `smpp-bridge`: the TrueOTP SMPP carrier gateway bridge.
public struct SMPPBridgeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "smpp-bridge",
        abstract: "TrueOTP SMPP 3.4 carrier gateway bridge: receives SMS from carriers and routes OTP codes.",
        version: "smpp-bridge \(BuildStamp.version) (commit \(BuildStamp.commit))",
        groupedSubcommands: [
            CommandGroup(name: "Operations", subcommands: [RunCommand.self, CheckConfigCommand.self, CtlCommand.self, TopCommand.self, TailCommand.self,
                                                            ReadyCommand.self, MigrateCommand.self, RetentionCommand.self, RerouteCommand.self]),
            CommandGroup(name: "Diagnostics", subcommands: [DecodeCommand.self, ExtractCommand.self, ProbeCommand.self]),
        ]
    )
    public init() {}
}
