import ArgumentParser
import Foundation

/// `halb device`: runs a load-balancer device from a site file.
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Run a load-balancer device from a site file.",
        discussion: """
            Serves every enabled payload of every virtual server that lists the device, on VIP:port, and spreads \
            connections over the healthy gateways. For a virtual server with two or more devices it runs VRRP \
            failover: the primary holds the VIP (needs root). Reloads on SIGHUP and when the file changes (a bad \
            file is rejected and the running configuration keeps serving). SIGTERM or SIGINT resign the VIPs, stop \
            accepting and let open connections finish for up to --drain-timeout.
            """
    )

    @Option(name: .long, help: "The site file (YAML).")
    var config: String

    @Option(name: .long, help: "This device's name in the site file.")
    var name: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A command to run on each failover transition, as COMMAND <virtual server> <MASTER|BACKUP|STOP> <priority> <ipv4|ipv6>.",
            valueName: "path"
        )
    )
    var notify: String?

    @Option(name: .long, help: .hidden)
    var loopbackFailover: Int?

    @OptionGroup var options: DeviceOptions

    func validate() throws {
        if let notify = self.notify, !FileManager.default.isExecutableFile(atPath: notify) {
            throw ValidationError("--notify \(notify) is not an executable file")
        }
    }

    func run() async throws {
        let logger = self.options.makeLogger()
        let admin = self.options.adminHostPort
        try await DeviceRuntime(
            source: .file(self.config),
            device: self.name,
            adminHost: admin.host,
            adminPort: admin.port,
            drainTimeout: self.options.drain,
            threads: self.options.threadCount,
            logger: logger,
            notify: self.notify,
            loopbackFailoverPort: self.loopbackFailover
        ).run()
    }
}
