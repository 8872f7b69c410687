import HALBAgent
import HALBBalancer
import HALBCore
import HALBFailover
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// How a device runs, apart from its configuration (the options of `halb device`).
public struct DeviceOptions: Sendable {
    /// The device's name in the site.
    public var name: String
    /// Where the admin endpoint listens (port 0: any free port).
    public var adminHost = "127.0.0.1"
    public var adminPort = 9100
    /// How long open connections may finish on shutdown.
    public var drainTimeout: Duration = .seconds(30)
    /// Which code relays plain TCP.
    public var dataPath: DataPath = .native
    /// A command to run on each VRRP transition.
    public var notify: String?
    /// The loopback demo's failover: VRRP over UDP on this port between the devices' loopback addresses, and the
    /// "VIP" is a virtual server's listeners (``LoopbackAddressManager``). `nil`: VRRP on the network.
    public var loopbackFailoverPort: Int?
    /// The version the device reports (`/status`, heartbeats).
    public var softwareVersion = HALBVersion.current
    /// Started by systemd with `Type=notify`: tell it when the device is ready, feed its watchdog, say when it stops.
    public var systemd: SystemdNotifier?

    public init(name: String) {
        self.name = name
    }
}

/// A device assembled and configured, ready to run: its ``RunningDevice`` (where configurations go in), and the services
/// that run it until graceful shutdown.
public struct DeviceApplication: Sendable {
    public let device: RunningDevice
    /// In shutdown order reversed: the admin endpoint, the configuration input, the balancer, failover. A graceful
    /// shutdown stops them last to first: failover resigns first (a backup takes the VIP while this device drains),
    /// then the balancer drains while the admin endpoint still answers (`/healthz` says "draining").
    public let services: [any Service]

    /// Runs the services until SIGTERM or SIGINT (or until one of them fails).
    public func run(logger: Logger) async throws {
        try await self.serviceGroup(logger: logger).run()
    }

    /// The services in one group that shuts down gracefully on `signals` (tests give none, and trigger it).
    public func serviceGroup(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: self.services.map { .init(service: $0) },
                gracefulShutdownSignals: signals,
                logger: logger
            )
        )
    }
}

/// Assembles a device and applies its first configuration, `site`, with ``RunningDevice/apply(_:)`` (the same call as
/// every later change). `halb device` runs what this returns; tests call it in process.
///
/// - Parameters:
///   - source: where later configurations come from (the file, or the console).
///   - startRouter: starts the VRRP router; by default raw VRRP on the network, or the loopback demo's UDP.
/// - Throws: why the first configuration cannot run (nothing is left running then).
public func buildDevice(
    site: Site,
    source: ConfigSource,
    options: DeviceOptions,
    group: any EventLoopGroup,
    registry: PrometheusCollectorRegistry,
    logger: Logger,
    startRouter: VirtualRouterStarter? = nil
) async throws -> DeviceApplication {
    var logger = logger
    logger[metadataKey: "device.name"] = "\(options.name)"
    let (healthChanges, healthChanged) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    let balancer = Balancer(
        group: group,
        logger: logger,
        dataPath: options.dataPath,
        onHealthChange: { healthChanged.yield() }
    )
    // Each VRRP transition sends a heartbeat at once (managed), so the console shows a new primary within a second.
    let (transitions, transition) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    // The device is made after its failover, which needs the loopback "VIP" that tells the device.
    let holder = DeviceHolder()
    let loopback = options.loopbackFailoverPort.map { _ in
        LoopbackAddressManager { address, holding in await holder.device?.setHolding(address, holding) }
    }
    let failover = FailoverController(
        plan: [],
        health: {
            TrackingStateMachine.Health(
                servable: await balancer.servableVirtualServers(),
                checksFinished: await balancer.firstChecksFinished()
            )
        },
        start: startRouter
            ?? defaultRouterStarter(
                options: options,
                site: site,
                loopback: loopback,
                eventLoop: group.next(),
                transitions: transition,
                logger: logger
            ),
        logger: logger
    )
    let device = RunningDevice(
        name: options.name,
        balancer: balancer,
        failover: failover,
        loopback: options.loopbackFailoverPort != nil,
        logger: logger
    )
    holder.device = device
    do {
        try await device.apply(site)
    } catch {
        await balancer.shutdown(drainTimeout: .zero)
        throw error
    }
    logger.notice(
        "Device started",
        metadata: ["site.name": "\(site.name)", "site.version": "\(site.version)", "config.source": "\(source.name)"]
    )

    let admin = AdminServer.application(
        device: device,
        options: options,
        group: group,
        registry: registry,
        logger: logger
    )
    let input: any Service
    switch source {
    case .file:
        input = ConfigReloadService(source: source, device: device, logger: logger)
    case .console(let managed):
        input = AgentService(
            client: managed.client,
            state: managed.state,
            logger: logger,
            initialVersion: managed.initialVersion,
            fetchedInitially: managed.fetched ? managed.initialSite : nil,
            apply: { site in try await device.apply(site) },
            report: { await AgentReporting.report(device: device, softwareVersion: options.softwareVersion) },
            check: { check in await ReachabilityProbe.check(check, site: await device.site, group: group) },
            reportChanges: transitions
        )
    }
    var services: [any Service] = [
        admin,
        input,
        BalancerService(balancer: balancer, drainTimeout: options.drainTimeout),
        FailoverService(failover: failover, healthChanges: healthChanges, loopback: loopback),
    ]
    if let systemd = options.systemd {
        // Last: the first to hear of a graceful shutdown, so systemd knows at once that the device stops.
        services.append(SystemdReadiness(notifier: systemd, device: device, logger: logger))
    }
    return DeviceApplication(device: device, services: services)
}

/// Starts a router with no virtual router yet: VRRP over UDP between the devices' loopback addresses (the demo),
/// or raw IP on the interfaces the configurations name.
private func defaultRouterStarter(
    options: DeviceOptions,
    site: Site,
    loopback: LoopbackAddressManager?,
    eventLoop: any EventLoop,
    transitions: AsyncStream<Void>.Continuation,
    logger: Logger
) -> VirtualRouterStarter {
    let notify = { @Sendable (transition: VirtualRouterTransition) in
        transitions.yield()
        if let command = options.notify {
            NotifyCommand.run(command, transition: transition, logger: logger)
        }
    }
    if let port = options.loopbackFailoverPort, let loopback {
        let address = site.device(named: options.name).flatMap { VRRPAddress($0.address) }
        return {
            guard let address else { throw FailoverError.noIPv4Address("device \(options.name)") }
            return try await VRRPRouter.start(
                [],
                eventLoop: eventLoop,
                logger: logger,
                addressManager: loopback,
                onTransition: notify
            ) { _, _, receive in
                try await UDPTransport.open(address: address, port: port, eventLoop: eventLoop, receive: receive)
            }
        }
    }
    return {
        try await VRRPRouter.start(
            [],
            eventLoop: eventLoop,
            logger: logger,
            onTransition: notify
        ) { interface, isIPv6, receive in
            if isIPv6 {
                return try RawIPv6Transport.open(
                    interface: interface,
                    eventLoop: eventLoop,
                    logger: logger,
                    receive: receive
                )
            }
            return try await RawIPv4Transport.open(
                interface: interface,
                eventLoop: eventLoop,
                logger: logger,
                receive: receive
            )
        }
    }
}

/// The device, once made, for the loopback "VIP" made before it.
private final class DeviceHolder: Sendable {
    private let box = Mutex<RunningDevice?>(nil)
    var device: RunningDevice? {
        get { self.box.withLock { $0 } }
        set { self.box.withLock { $0 = newValue } }
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

/// Runs failover until graceful shutdown; then, in the loopback demo, keeps listening until the new primary does.
struct FailoverService: Service {
    let failover: FailoverController
    let healthChanges: AsyncStream<Void>
    let loopback: LoopbackAddressManager?

    func run() async throws {
        try await self.failover.run(healthChanges: self.healthChanges)
        await self.loopback?.releasesFinished()
    }
}
