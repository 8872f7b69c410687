import ArgumentParser
import Foundation
import HALBConsole
import HALBCore
import HALBDemo
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// `halb demo`: a whole demo site on this machine, no root and no file needed.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Run a demo site on this machine: a console, three gateways and two devices with failover, on loopback.",
        discussion: """
            Starts a console on --console-listen (default 127.0.0.1:8440) with the site "demo", three small HTTP \
            gateways on 127.0.0.1:18081-18083 (each answers with its own name) and two devices, lb1 and lb2, \
            enrolled with the console, that serve http://127.0.0.10:8080/ with failover between them (VRRP over UDP \
            on loopback; the primary listens on the VIP). It prints the console's URL, the admin's password \
            (HALB_ADMIN_PASSWORD, or a random one) and a token for the admin commands. Needs no root and no file; \
            the console's store lives in a temporary directory removed on exit. Stop it with Ctrl-C.
            """
    )

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: ArgumentHelp("Where the demo's console listens.", valueName: "host:port"))
    var consoleListen: String = "127.0.0.1:8440"

    func validate() throws {
        guard RunOptions.hostPort(self.consoleListen) != nil else {
            throw ValidationError("--console-listen \(self.consoleListen) is not HOST:PORT (like 127.0.0.1:8440)")
        }
    }

    func run() async throws {
        let logger = self.options.makeLogger()
        let site = try SiteReader.load(yaml: DemoSite.yaml)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-demo-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let console: DemoConsole
        do {
            console = try await DemoConsole.create(in: directory.appendingPathComponent("console"))
        } catch {
            throw CommandFailure.exit("cannot set up the demo console in \(directory.path): \(error)")
        }

        let group = MultiThreadedEventLoopGroup.singleton
        let gateways = DemoGateways(
            gateways: site.gateways.map { .init(name: $0.name, host: $0.address, port: $0.ports.gateway) },
            group: group,
            logger: logger
        )
        do {
            try await gateways.startAll()
        } catch {
            throw CommandFailure.exit("cannot start the demo gateways on 127.0.0.1:18081-18083: \(error)")
        }
        let (consoleURL, consoleListening) = AsyncStream.makeStream(of: String.self)
        let devices = DemoDevices(
            stateDirectory: directory,
            joinTokens: console.joinTokens,
            consoleURL: consoleURL,
            logLevel: self.options.logLevel
        )
        let vs = site.virtualServers[0]
        let listen = "\(vs.vip.ipv4.split(separator: "/")[0]):\(vs.payload(.gateway)!.port)"

        let router = DemoControl.router(gateways: gateways, devices: devices)
        let admin = self.options.adminHostPort
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        // The instructions name both listening addresses (either may be port 0), so they are printed once both
        // servers run, and the devices start then.
        let addresses = NIOLockedValueBox<(admin: String?, console: String?, announced: Bool)>((nil, nil, false))
        let password = console.password
        let token = console.token
        let announce: @Sendable () -> Void = {
            let ready = addresses.withLockedValue { state -> (admin: String, console: String)? in
                guard let admin = state.admin, let console = state.console, !state.announced else { return nil }
                state.announced = true
                return (admin, console)
            }
            guard let (admin, console) = ready else { return }
            let instructions = DemoControl.instructions(
                listen: listen,
                admin: admin,
                console: console,
                password: password,
                token: token
            )
            FileHandle.standardOutput.write(Data(instructions.utf8))
            consoleListening.yield(console)
            consoleListening.finish()
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(admin.host, port: admin.port), serverName: "halb-demo"),
            onServerRunning: { channel in
                let address = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                logger.notice("Admin endpoint listening", metadata: ["admin.address": "\(address)"])
                addresses.withLockedValue { $0.admin = address }
                announce()
            },
            eventLoopGroupProvider: .shared(group),
            logger: quiet
        )
        let consoleHost = RunOptions.hostPort(self.consoleListen)!
        let connections = ConnectionGuard(
            limits: ConnectionGuard.defaultLimits(descriptorLimit: ConsoleConnectionOptions.descriptorLimit()),
            logger: logger
        )
        let consoleApp = ConsoleServer.application(
            store: console.store,
            host: consoleHost.host,
            port: consoleHost.port,
            server: .http1(configuration: .init(additionalChannelHandlers: [connections.handler()])),
            secureCookies: false,
            eventLoopGroup: .shared(group),
            logger: quiet
        ) { address in
            logger.notice("Console listening", metadata: ["console.address": "\(address)"])
            addresses.withLockedValue { $0.console = "http://\(address)" }
            announce()
        }
        // A graceful shutdown stops the services in reverse order: the devices first, the console after them.
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: gateways), .init(service: app), .init(service: consoleApp), .init(service: devices),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await services.run()
        } catch let error as IOError {
            throw CommandFailure.exit(
                "cannot listen on \(admin.host):\(admin.port) (demo admin endpoint) or \(self.consoleListen) (console): \(error)"
            )
        }
    }
}
