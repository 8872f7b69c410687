import ArgumentParser

/// The `halb` command: one binary for the device, the console, the demo and (later) the console's CLI.
@main
struct HALBCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "halb",
        abstract: "HALB: a high-availability load balancer for a site's gateways.",
        discussion: """
            A device (`halb device`) accepts client connections on each virtual server's VIP and spreads them over \
            the site's healthy gateways. `halb demo` runs a whole demo site on this machine without root.
            """,
        version: HALBCommand.version,
        subcommands: [ConsoleCommand.self, DemoCommand.self, DeviceCommand.self, ValidateCommand.self]
    )
}
