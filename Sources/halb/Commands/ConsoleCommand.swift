import ArgumentParser
import Foundation
import HALBCertificates
import HALBConsole
import HALBCore
import HALBDevice
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import UnixSignals

/// `halb console`: the control plane's store and REST API, and offline export and import of sites.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Run the console (the control plane), or export and import sites of its store.",
        subcommands: [Serve.self, Export.self, Import.self],
        defaultSubcommand: Serve.self
    )

    /// Where the store lives.
    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("The console's data directory (its SQLite store).", valueName: "dir"))
        var data: String

        func open() throws -> ConsoleStore {
            do {
                return try ConsoleStore(directory: URL(fileURLWithPath: self.data))
            } catch {
                throw CommandFailure.exit("cannot open the store in \(self.data): \(error)")
            }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve the web page and the REST API (the default).",
            discussion: """
                The web page is at / on the console's address; sign in with a console user. On the first start \
                the console creates the user admin, with the password in HALB_ADMIN_PASSWORD or a random one that \
                it prints once. Every API endpoint but /healthz, /api/v1/login and /api/v1/session needs \
                Authorization: Bearer <token> (or the web page's session cookie). With --tls-certificate and --tls-key it serves HTTPS; devices and \
                admin commands then trust it by the CA file given to them (--console-ca, HALB_CONSOLE_CA). See \
                docs/console.md.
                """
        )

        @OptionGroup var store: StoreOptions

        @Option(name: .long, help: ArgumentHelp("Where the API listens.", valueName: "host:port"))
        var listen: String = "127.0.0.1:8440"

        @Option(
            name: .long,
            help: ArgumentHelp(
                "A PEM certificate chain: serve HTTPS (TLS 1.2 or newer) with --tls-key.",
                valueName: "file"
            )
        )
        var tlsCertificate: String?

        @Option(name: .long, help: ArgumentHelp("The PEM private key of --tls-certificate.", valueName: "file"))
        var tlsKey: String?

        @Flag(
            name: .long,
            help: """
                With --tls-certificate and --tls-key: when neither file exists, make a self-signed certificate (this \
                host's name and the --listen address) and its key (readable by its owner only) there first. Each start \
                logs its SHA-256 fingerprint, which devices may pin (HALB_CONSOLE_CA_SHA256).
                """
        )
        var tlsSelfSigned = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "On the first start, write the admin's random password to this file (owner-only) instead of printing it.",
                valueName: "file"
            )
        )
        var firstPasswordFile: String?

        @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical.")
        var logLevel: String = "info"

        @OptionGroup var connections: ConsoleConnectionOptions

        func validate() throws {
            guard RunOptions.hostPort(self.listen) != nil else {
                throw ValidationError("--listen \(self.listen) is not HOST:PORT (like 127.0.0.1:8440)")
            }
            guard (self.tlsCertificate == nil) == (self.tlsKey == nil) else {
                throw ValidationError("--tls-certificate and --tls-key go together")
            }
            if self.tlsSelfSigned, self.tlsCertificate == nil {
                throw ValidationError("--tls-self-signed needs --tls-certificate and --tls-key (where to write them)")
            }
            guard Logger.Level(rawValue: self.logLevel) != nil else {
                throw ValidationError(
                    "--log-level \(self.logLevel) is not one of trace, debug, info, notice, warning, error, critical"
                )
            }
        }

        func run() async throws {
            EscapingLogHandler.bootstrap()
            let systemd = SystemdNotifier.fromEnvironment()
            var logger = Logger(label: "halb")
            logger.logLevel = Logger.Level(rawValue: self.logLevel)!
            let connections = ConnectionGuard(limits: self.connections.limits, logger: logger)
            let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [connections.handler()])
            var server = HTTPServerBuilder.http1(configuration: http1)
            let (host, port) = RunOptions.hostPort(self.listen)!
            if let certificate = self.tlsCertificate, let key = self.tlsKey {
                do {
                    if self.tlsSelfSigned {
                        let names = ConsoleServer.selfSignedNames(
                            hostName: ProcessInfo.processInfo.hostName,
                            listenHost: host
                        )
                        if try ConsoleServer.makeSelfSigned(certificate: certificate, key: key, names: names) {
                            logger.notice(
                                "Made a self-signed certificate for the console",
                                metadata: ["file": "\(certificate)", "names": "\(names.joined(separator: " "))"]
                            )
                        }
                        // What a device or an appliance pins (HALB_CONSOLE_CA_SHA256): the certificate is its own CA.
                        if let fingerprint = try? CertificateFingerprint.sha256(pemFile: certificate).first {
                            logger.notice(
                                "The console's self-signed certificate",
                                metadata: ["file": "\(certificate)", "sha256": "\(fingerprint)"]
                            )
                        }
                    }
                    server = try ConsoleServer.tls(certificate: certificate, key: key, http1: http1)
                } catch {
                    throw CommandFailure.exit("\(error)")
                }
            }
            let scheme = self.tlsCertificate == nil ? "http" : "https"
            let store = try self.store.open()
            let given = ProcessInfo.processInfo.environment["HALB_ADMIN_PASSWORD"]
            do {
                switch try await ConsoleServer.createFirstAdmin(
                    in: store,
                    password: given,
                    passwordFile: self.firstPasswordFile
                ) {
                case .createdWithPasswordIn(let file):
                    // The password itself never goes to the log (logs are kept and shipped).
                    logger.notice(
                        "First start: created user admin; its password is in the file",
                        metadata: ["file": "\(file)"]
                    )
                case .createdWithRandomPassword(let password):
                    // Printed, not logged: logs are kept and shipped, and must never hold a secret.
                    FileHandle.standardOutput.write(
                        Data(
                            "First start: created user admin with password \(password) (shown once; keep it safe).\n"
                                .utf8
                        )
                    )
                case .createdWithGivenPassword:
                    logger.notice("First start: created user admin with the password in HALB_ADMIN_PASSWORD")
                case .existed(passwordGiven: true):
                    logger.info("HALB_ADMIN_PASSWORD is ignored: the store has users already")
                case .existed(passwordGiven: false):
                    break
                }
            } catch {
                throw CommandFailure.exit("cannot create the first admin: \(error)")
            }
            let limits = connections.limits
            let application = ConsoleServer.application(
                store: store,
                host: host,
                port: port,
                server: server,
                secureCookies: scheme == "https",
                logger: logger
            ) { [logger] address in
                logger.notice(
                    "Console listening",
                    metadata: [
                        "console.address": "\(address)", "console.scheme": "\(scheme)",
                        "connections.max": "\(limits.total)", "connections.per_address": "\(limits.perAddress)",
                    ]
                )
                systemd?.send("READY=1\nSTATUS=Listening on \(scheme)://\(address)")
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: application)],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
            do {
                try await group.run()
            } catch {
                throw CommandFailure.exit("console: \(error)")
            }
            systemd?.send("STOPPING=1")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a site as the YAML a standalone device reads.",
            discussion: "Reads the store directly; works while the console runs."
        )

        @OptionGroup var store: StoreOptions

        @Option(name: .long, help: "The site's name.")
        var site: String

        func run() async throws {
            do {
                let stored = try await self.store.open().site(self.site)
                print(stored.yaml, terminator: "")
            } catch {
                throw CommandFailure.exit("\(error)")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a site file: a new site, or with --replace a new version of an existing one.",
            discussion: "The whole file is validated first; an invalid one changes nothing."
        )

        @OptionGroup var store: StoreOptions

        @Argument(help: "The site file (YAML or JSON).")
        var file: String

        @Flag(name: .long, help: "Replace the site of the same name (as a new version) if it exists.")
        var replace = false

        func run() async throws {
            let store = try self.store.open()
            let document: ConfigNode
            do {
                document = try ConfigNode.parse(yaml: try SiteFile.read(path: self.file))
            } catch {
                throw CommandFailure.exit("\(self.file): \(error)")
            }
            let actor = "import (\(ProcessInfo.processInfo.environment["USER"] ?? "local"))"
            do {
                let site = try SiteReader.load(document)
                let stored: StoredSite
                if self.replace, let current = try? await store.site(site.name) {
                    stored = try await store.changeSite(
                        site.name,
                        basedOn: current.version,
                        actor: actor,
                        change: "import \(self.file)"
                    ) { _ in
                        document
                    }
                } else {
                    stored = try await store.createSite(document, actor: actor)
                }
                print("Imported site \(stored.name) as version \(stored.version).")
            } catch let error as ConfigurationError {
                throw CommandFailure.exit("\(self.file): invalid\n\(error.description)")
            } catch {
                throw CommandFailure.exit("\(self.file): \(error)")
            }
        }
    }
}

/// How many connections the console keeps, and how long a request's head may take (docs/console.md).
struct ConsoleConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The most connections at once (default 1024, or the descriptor limit less 64 when lower); when full, the oldest connection still waiting for a request makes room.",
            valueName: "n"
        )
    )
    var maxConnections: Int?

    @Option(name: .long, help: ArgumentHelp("The most connections of one client address.", valueName: "n"))
    var maxConnectionsPerAddress: Int = 64

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long a connection may take to send a request's head (after opening, TLS included, or after its last response; default 10s).",
            valueName: "duration"
        ),
        transform: { text in
            guard let duration = HALBDurationParser.parse(text), duration > .zero else {
                throw ValidationError("--request-head-timeout \(text) is not a duration such as 10s")
            }
            return duration
        }
    )
    var requestHeadTimeout: Duration = .seconds(10)

    func validate() throws {
        if let total = self.maxConnections, total < 16 {
            throw ValidationError("--max-connections \(total) is below 16")
        }
        guard self.maxConnectionsPerAddress >= 1 else {
            throw ValidationError("--max-connections-per-address \(self.maxConnectionsPerAddress) is below 1")
        }
    }

    var limits: ConnectionTable<ObjectIdentifier>.Limits {
        var limits = ConnectionGuard.defaultLimits(descriptorLimit: Self.descriptorLimit())
        if let total = self.maxConnections { limits.total = total }
        limits.perAddress = self.maxConnectionsPerAddress
        limits.headTimeout = self.requestHeadTimeout
        return limits
    }

    /// The process's soft limit on open descriptors.
    static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur > UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}
