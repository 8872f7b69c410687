import ArgumentParser
import AsyncHTTPClient
import Foundation
import HALBAgent
import HALBClient
import HALBCore
import HALBDevice
import Logging

/// `halb devices`: lists and edits the devices of a site on the console (`halb device` runs one).
struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List, show, create, update or delete the devices of a site on the console (halb device runs one).",
        subcommands: [
            ListItems<DeviceList>.self, ShowItem<DeviceList>.self, CreateItem<DeviceList>.self,
            UpdateItem<DeviceList>.self, DeleteItem<DeviceList>.self,
        ]
    )
}

/// `halb device`: runs a load-balancer device from a site file or from its console.
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Run a load-balancer device from a site file or from its console.",
        discussion: """
            Standalone, from a site file:
              halb device --config site.yaml --name lb1
            Managed by a console (the join token only the first time):
              HALB_JOIN_TOKEN=TOKEN halb device --console URL --name lb1 --state DIR

            Managed: the join token comes from HALB_JOIN_TOKEN or --join-token-file FILE (never on the command line, \
            where every user of the machine can read it); the device enrols and keeps its credential in DIR, and a \
            token given once it has one is ignored; the token file is removed once the device is enrolled. It then \
            follows the console's configuration, caches the last one applied in DIR, and serves it when the console \
            is away. Serves every enabled payload of every virtual server that lists the device, on VIP:port, and \
            spreads connections over the healthy gateways. For a virtual server with two or more devices it runs \
            VRRP failover: the primary holds the VIP (needs root, or CAP_NET_ADMIN and CAP_NET_RAW as the \
            halb-device service gives). Under systemd (Type=notify) it says when it is ready and feeds the \
            watchdog. Reloads on SIGHUP and when the file changes (a bad file is rejected and the running \
            configuration keeps serving). SIGTERM or SIGINT resign the VIPs, stop accepting and let open \
            connections finish for up to --drain-timeout. The site's device records are edited with halb devices.
            """
    )

    @Option(name: .long, help: "The site file (YAML), for a standalone device.")
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The console's URL, for a managed device.", valueName: "url"))
    var console: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A file holding a one-time join token from the console, to enrol (or HALB_JOIN_TOKEN).",
            valueName: "file"
        )
    )
    var joinTokenFile: String?

    /// Refused: a token on the command line is in /proc/PID/cmdline for the device's life.
    @Option(name: .long, help: .hidden)
    var joinToken: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A managed device's state directory (credential, cached configuration).", valueName: "dir")
    )
    var state: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For an https:// console: trust only the CA certificates in this PEM file (default: the system's).",
            valueName: "file"
        )
    )
    var consoleCa: String?

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

    @OptionGroup var options: RunOptions

    func validate() throws {
        if self.joinToken != nil {
            throw ValidationError(
                "--join-token puts the token on the command line, where every user of this machine can read it: give it in HALB_JOIN_TOKEN or --join-token-file FILE"
            )
        }
        switch (self.config, self.console) {
        case (nil, nil): throw ValidationError("give --config FILE (standalone) or --console URL (managed)")
        case (.some, .some): throw ValidationError("--config and --console exclude each other")
        case (.some, nil):
            if self.joinTokenFile != nil || self.state != nil || self.consoleCa != nil {
                throw ValidationError(
                    "--join-token-file, --state and --console-ca are for a managed device (--console)"
                )
            }
        case (nil, .some(let url)):
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw ValidationError("--console \(url) is not an http:// or https:// URL")
            }
            guard self.state != nil else { throw ValidationError("a managed device needs --state DIR") }
        }
        if let notify = self.notify, !FileManager.default.isExecutableFile(atPath: notify) {
            throw ValidationError("--notify \(notify) is not an executable file")
        }
    }

    func run() async throws {
        if self.loopbackFailover != nil {
            // A demo device is a child of `halb demo`: when that parent goes away (even killed), stop too, also while
            // it waits for the demo console's first configuration.
            DeviceRuntime.stopWithParent()
        }
        let logger = self.options.makeLogger()
        let admin = self.options.adminHostPort
        // Only a managed device talks to a console (a standalone one makes no client).
        let http = self.config == nil ? try self.consoleClient() : nil
        do {
            try await self.run(http: http, logger: logger, admin: admin)
        } catch {
            try? await http?.shutdown()
            throw error
        }
        try? await http?.shutdown()
    }

    private func consoleClient() throws -> HTTPClient {
        do {
            return try ConsoleTLS.client(trusting: self.consoleCa)
        } catch {
            throw CommandFailure.exit("--console-ca \(error)")
        }
    }

    private func run(http: HTTPClient?, logger: Logger, admin: (host: String, port: Int)) async throws {
        let source: ConfigSource
        if let config = self.config {
            source = .file(config)
        } else if let http {
            do {
                source = .console(
                    try await ManagedConfiguration.prepare(
                        console: self.console!,
                        stateDirectory: self.state!,
                        device: self.name,
                        joinToken: try self.takeJoinToken(),
                        http: http,
                        logger: logger
                    )
                )
            } catch let error as DeviceStartError {
                throw CommandFailure.exit(error.description)
            }
            // The device has its credential now: the one-time token has no use left, and is a secret lying about.
            if let file = self.joinTokenFile {
                do {
                    try FileManager.default.removeItem(atPath: file)
                    logger.notice("Removed the join token file: the device is enrolled", metadata: ["file": "\(file)"])
                } catch {
                    logger.warning(
                        "Cannot remove the join token file; remove it by hand",
                        metadata: ["file": "\(file)", "error": "\(error)"]
                    )
                }
            }
        } else {
            throw CommandFailure.exit("--console needs a client for the console")  // run() made one: not reached
        }
        var options = HALBDevice.DeviceOptions(name: self.name)
        (options.adminHost, options.adminPort) = admin
        options.drainTimeout = self.options.drain
        options.dataPath = self.options.path
        options.notify = self.notify
        options.loopbackFailoverPort = self.loopbackFailover
        options.systemd = SystemdNotifier.fromEnvironment()
        // HALB_REPORTED_VERSION pretends another version, to see Needs update without building an old HALB.
        options.softwareVersion = ProcessInfo.processInfo.environment["HALB_REPORTED_VERSION"] ?? HALBCommand.version
        try await DeviceRuntime(source: source, options: options, threads: self.options.threadCount, logger: logger)
            .run()
    }

    /// The join token from `--join-token-file` or `HALB_JOIN_TOKEN`, if given. The variable is removed from the
    /// environment once read, so that notify commands and other children do not inherit it.
    private func takeJoinToken() throws -> String? {
        let environment = ProcessInfo.processInfo.environment["HALB_JOIN_TOKEN"]
        unsetenv("HALB_JOIN_TOKEN")
        if let file = self.joinTokenFile {
            let text: String
            do {
                text = try SiteFile.read(path: file, limit: 4096)
            } catch {
                throw CommandFailure.exit("cannot read the join token from \(file): \(error)")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw CommandFailure.exit("\(file) holds no join token") }
            return token
        }
        return environment.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
