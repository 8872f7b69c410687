import ArgumentParser
import Foundation
import HALBAgent
import HALBBalancer
import HALBCore
import HALBFailover
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Runs one device until SIGTERM/SIGINT: the balancer, the reloader and the admin endpoint, in one service group.
struct DeviceRuntime {
    var source: ConfigSource
    var device: String
    var adminHost: String
    var adminPort: Int
    var drainTimeout: Duration
    var threads: Int
    /// Which code relays plain TCP (`--data-path`).
    var dataPath: DataPath = .native
    var logger: Logger
    /// A command to run on each VRRP transition (`--notify`).
    var notify: String? = nil
    /// The loopback demo's failover: VRRP over UDP on this port, listeners as the VIP (see ``FailoverService``).
    var loopbackFailoverPort: Int? = nil

    func run() async throws {
        // A SIGHUP before the reload service traps it must not end the process (its default action); the file
        // check still picks up a change.
        signal(SIGHUP, SIG_IGN)
        let text: String
        let site: Site
        do {
            text = try self.source.read()
            site = try SiteReader.load(yaml: text)
        } catch let error as ConfigurationError {
            throw Self.fail("\(self.source.name): invalid\n\(error.description)")
        } catch {
            throw Self.fail("cannot read \(self.source.name): \(error)")
        }
        if let problem = SiteFile.problem(site: site, device: self.device) {
            throw Self.fail("\(self.source.name): \(problem)")
        }

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        do {
            try await self.run(site: site, text: text, group: group, registry: registry)
            try? await group.shutdownGracefully()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(
        site: Site,
        text: String,
        group: MultiThreadedEventLoopGroup,
        registry: PrometheusCollectorRegistry
    ) async throws {

        var logger = self.logger
        logger[metadataKey: "device.name"] = "\(self.device)"
        // The loopback demo's devices share their listeners' ports for the hand-over (see ListenerAddressManager).
        let balancer = Balancer(
            group: group,
            logger: logger,
            dataPath: self.dataPath,
            sharedPorts: self.loopbackFailoverPort != nil
        )
        let failoverPlan = FailoverPlan.configurations(
            site: site,
            device: self.device,
            unicast: self.loopbackFailoverPort != nil
        )
        if self.loopbackFailoverPort != nil {
            // The secondary does not listen on the "VIP" until it becomes primary.
            await balancer.setStandby(Set(failoverPlan.map(\.name)))
            Self.stopWithParent()
        }
        do {
            try await balancer.apply(BalancerConfiguration(site: site, device: self.device))
        } catch {
            throw Self.fail("\(error)")
        }
        logger.notice(
            "Device started",
            metadata: [
                "site.name": "\(site.name)", "site.version": "\(site.version)", "config.source": "\(self.source.name)",
            ]
        )

        let failover = FailoverHandle(plan: failoverPlan)
        let router = AdminServer.router(device: self.device, balancer: balancer, failover: failover, registry: registry)
        let adminLogger = logger
        var adminLoggerQuiet = logger
        adminLoggerQuiet.logLevel = max(logger.logLevel, .notice)
        let admin = Application(
            router: router,
            configuration: .init(address: .hostname(self.adminHost, port: self.adminPort), serverName: "halb"),
            onServerRunning: { channel in
                let address = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                adminLogger.notice("Admin endpoint listening", metadata: ["admin.address": "\(address)"])
                if let ip = channel.localAddress?.ipAddress, !Self.isLoopback(ip) {
                    adminLogger.warning(
                        "The admin endpoint has no authentication and listens beyond loopback: keep its port behind a firewall or a management network",
                        metadata: ["admin.address": "\(address)"]
                    )
                }
            },
            eventLoopGroupProvider: .shared(group),
            logger: adminLoggerQuiet
        )
        let applier = DeviceConfigApplier(
            device: self.device,
            balancer: balancer,
            failover: failover,
            loopbackFailover: self.loopbackFailoverPort != nil,
            logger: logger
        )
        let reloader: any Service
        switch self.source {
        case .file:
            reloader = ConfigReloadService(source: self.source, applier: applier, logger: logger, applied: text)
        case .console(let managed):
            reloader = AgentService(
                client: managed.client,
                state: managed.state,
                logger: logger,
                initialVersion: managed.initialVersion,
                fetchedInitially: managed.fetched ? managed.initialText : nil,
                apply: { text in _ = try await applier.apply(text) },
                report: { await AgentReporting.report(balancer: balancer, failover: failover) }
            )
        }
        // A graceful shutdown stops services in reverse order: the balancer drains first, while the admin
        // endpoint still answers (/healthz says "draining").
        // Failover comes last, so that on shutdown it resigns first: a backup takes the VIP while this device drains.
        // It runs even with no virtual router yet, as a reload may add one.
        let services: [any Service] = [
            admin,
            reloader,
            BalancerService(balancer: balancer, drainTimeout: self.drainTimeout),
            FailoverService(
                balancer: balancer,
                eventLoop: group.next(),
                logger: logger,
                handle: failover,
                notify: self.notify,
                loopbackPort: self.loopbackFailoverPort,
                deviceAddress: site.devices.first { $0.name == self.device }?.address ?? ""
            ),
        ]
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await serviceGroup.run()
        } catch let error as IOError {
            // The listeners are bound before the group runs, so a socket error here is the admin endpoint's.
            let address = BalancerError.cannotListen(address: "\(self.adminHost):\(self.adminPort)", error: error)
            throw Self.fail("\(address) (admin endpoint)")
        } catch {
            throw Self.fail("\(error)")
        }
        logger.notice("Device stopped")
    }

    /// A demo device is a child of `halb demo`: when that parent goes away (even killed), stop gracefully too.
    private static func stopWithParent() {
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { usleep(200_000) }
            kill(getpid(), SIGTERM)
        }
    }

    /// Whether `ip` is a loopback address (127.0.0.0/8, ::1).
    static func isLoopback(_ ip: String) -> Bool {
        ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("halb: \(message)\n".utf8))
        return ExitCode(1)
    }
}

/// Keeps the balancer running until graceful shutdown, then drains it.
struct BalancerService: Service {
    let balancer: Balancer
    let drainTimeout: Duration

    func run() async throws {
        try? await gracefulShutdown()
        await self.balancer.shutdown(drainTimeout: self.drainTimeout)
    }
}
