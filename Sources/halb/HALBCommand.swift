import ArgumentParser
import HALBCore

/// The `halb` command: one binary for the device, the console, the demo and the admin commands.
@main
struct HALBCommand: AsyncParsableCommand {
    static let version = HALBVersion.current

    static let configuration = CommandConfiguration(
        commandName: "halb",
        abstract: "HALB: a high-availability load balancer for a site's gateways.",
        discussion: """
            A device (`halb device`) accepts client connections on each virtual server's VIP and spreads them over \
            the site's healthy gateways. The console (`halb console`) stores sites and configures devices; the \
            admin commands (login, site, gateway, devices, vs, join-token, token, user, status, versions, rollback, \
            export, import, certificate) use its API. \
            `halb demo` runs a whole demo site on this machine without root.
            """,
        version: HALBCommand.version,
        subcommands: [
            ConsoleCommand.self, DemoCommand.self, DeviceCommand.self, ValidateCommand.self, LoginCommand.self,
            SiteCommand.self, GatewayCommand.self, DevicesCommand.self, VirtualServerCommand.self,
            JoinTokenCommand.self, TokenCommand.self, UserCommand.self, StatusCommand.self, VersionsCommand.self,
            RollbackCommand.self, ExportCommand.self, ImportCommand.self, CertificateCommand.self,
            ApplianceCommand.self,
        ]
    )
}
