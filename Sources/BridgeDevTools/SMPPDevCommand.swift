import BridgeRuntime
public import ArgumentParser

/// `smpp-dev`: the development tools, apart from the production binary as Kannel ships
/// `fakesmsc` apart: the SMSC simulator (its release build skips the runtime exclusivity
/// checks), the end-to-end demo and the delivery audit.
public struct SMPPDevCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "smpp-dev",
        abstract: "Development tools for smpp-bridge: the SMSC simulator, the end-to-end demo, the delivery audit.",
        subcommands: [SimCommand.self, DemoCommand.self, AuditCommand.self]
    )
    public init() {}
}
