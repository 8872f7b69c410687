import ArgumentParser
import AsyncHTTPClient
import Foundation
import HALBAgent
import HALBCore
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
            token given once it has one is ignored. It then follows the console's configuration, caches the last \
            one applied in DIR, and serves it when the console is away. Serves every enabled payload of every \
            virtual server that lists the device, on VIP:port, and spreads connections over the healthy gateways. \
            For a virtual server with two or more devices it runs VRRP failover: the primary holds the VIP (needs \
            root). Reloads on SIGHUP and when the file changes (a bad file is rejected and the running \
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

    @OptionGroup var options: DeviceOptions

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
        let logger = self.options.makeLogger()
        let admin = self.options.adminHostPort
        let http = try self.consoleClient()
        do {
            try await self.run(http: http, logger: logger, admin: admin)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try? await http.shutdown()
    }

    private func consoleClient() throws -> HTTPClient {
        do {
            return try ConsoleTLS.client(trusting: self.consoleCa)
        } catch {
            throw DeviceRuntime.fail("--console-ca \(error)")
        }
    }

    private func run(http: HTTPClient, logger: Logger, admin: (host: String, port: Int)) async throws {
        let source: ConfigSource
        if let config = self.config {
            source = .file(config)
        } else {
            source = .console(try await self.managedConfiguration(http: http, logger: logger))
        }
        try await DeviceRuntime(
            source: source,
            device: self.name,
            adminHost: admin.host,
            adminPort: admin.port,
            drainTimeout: self.options.drain,
            threads: self.options.threadCount,
            dataPath: self.options.path,
            logger: logger,
            notify: self.notify,
            loopbackFailoverPort: self.loopbackFailover
        ).run()
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
                throw DeviceRuntime.fail("cannot read the join token from \(file): \(error)")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw DeviceRuntime.fail("\(file) holds no join token") }
            return token
        }
        return environment.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Enrols if need be, then takes the cached configuration, or waits for the console's first one.
    private func managedConfiguration(http: HTTPClient, logger: Logger) async throws -> ManagedConfiguration {
        let console = self.console!
        let base = console.hasSuffix("/") ? String(console.dropLast()) : console
        let state = AgentStateDirectory(self.state!)
        let token = try self.takeJoinToken()
        var identity: AgentIdentity
        do {
            let stored = try state.identity()
            if let stored, stored.console == base, stored.device == self.name {
                // Enrolled already: the identity is what counts, and the device starts at once (from its cache when
                // the console is away); a join token given again is used up anyway.
                identity = stored
                if token != nil {
                    logger.notice(
                        "Enrolled already; the join token was not used",
                        metadata: ["state.directory": "\(self.state!)"]
                    )
                }
            } else if let token {
                identity = try await AgentClient.enrol(
                    console: console,
                    joinToken: token,
                    device: self.name,
                    http: http
                )
                try state.store(identity)
                logger.notice(
                    "Enrolled with the console",
                    metadata: ["console.url": "\(identity.console)", "site.name": "\(identity.site)"]
                )
            } else if let stored {
                throw DeviceRuntime.fail(
                    "\(self.state!) holds the identity of device \(stored.device) of console \(stored.console): give a join token (HALB_JOIN_TOKEN or --join-token-file) to enrol as \(self.name) with \(base)"
                )
            } else {
                throw AgentError.notEnrolled(self.state!)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw DeviceRuntime.fail("\(error)")
        }
        let client = AgentClient(identity: identity, http: http)
        if let cached = state.cachedConfiguration() {
            logger.notice("Starting from the cached configuration", metadata: ["site.version": "\(cached.version)"])
            return ManagedConfiguration(
                client: client,
                state: state,
                initialVersion: cached.version,
                initialText: cached.yaml,
                fetched: false
            )
        }
        // No configuration yet: wait for a usable one (the console may be down, or the site not ready for us).
        var after = 0
        var attempt = 0
        while true {
            attempt += 1
            do {
                if let update = try await client.configuration(after: after) {
                    let version = update.version
                    do {
                        let yaml = try state.materialize(update)
                        let site = try SiteReader.load(yaml: yaml)
                        if let problem = SiteFile.problem(site: site, device: self.name) {
                            throw DeviceConfigProblem(description: problem)
                        }
                        return ManagedConfiguration(
                            client: client,
                            state: state,
                            initialVersion: version,
                            initialText: yaml,
                            fetched: true
                        )
                    } catch {
                        logger.error(
                            "Configuration from the console refused; waiting for the next",
                            metadata: ["site.version": "\(version)", "error": "\(error)"]
                        )
                        try? await client.acknowledge(version: version, error: "\(error)")
                        after = version
                    }
                }
            } catch let error as AgentError where error.isCredentialRejected {
                throw DeviceRuntime.fail(
                    "\(error): enrol again with a new join token (HALB_JOIN_TOKEN or --join-token-file)"
                )
            } catch {
                if attempt == 1 || attempt % 30 == 0 {
                    logger.warning("Waiting for the console's first configuration", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(min(10, attempt)))
            }
        }
    }
}
