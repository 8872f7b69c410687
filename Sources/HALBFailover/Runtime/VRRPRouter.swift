import CoreMetrics
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// One virtual router to run: a virtual server's VRRP settings and addresses on one interface.
public struct VirtualRouterConfiguration: Sendable, Hashable {
    /// The virtual server's name, for logs, status and metrics.
    public var name: String
    public var interface: String
    public var vrid: UInt8
    /// This device's configured priority (1-255).
    public var priority: UInt8
    /// Centiseconds between advertisements.
    public var advertInterval: UInt16
    public var preempt: Bool
    public var preemptDelay: Duration
    /// The VIPs with their prefix lengths.
    public var addresses: [VirtualAddress]
    /// Where to send advertisements instead of the multicast group; empty means multicast.
    public var unicastPeers: [VRRPAddress]

    public struct VirtualAddress: Sendable, Hashable {
        public var address: VRRPAddress
        public var prefix: Int

        public init(address: VRRPAddress, prefix: Int) {
            self.address = address
            self.prefix = prefix
        }
    }

    public init(
        name: String,
        interface: String,
        vrid: UInt8,
        priority: UInt8,
        advertInterval: UInt16,
        preempt: Bool,
        preemptDelay: Duration,
        addresses: [VirtualAddress],
        unicastPeers: [VRRPAddress] = []
    ) {
        self.name = name
        self.interface = interface
        self.vrid = vrid
        self.priority = priority
        self.advertInterval = advertInterval
        self.preempt = preempt
        self.preemptDelay = preemptDelay
        self.addresses = addresses
        self.unicastPeers = unicastPeers
    }
}

/// A state change of one virtual router, for a notify command.
public struct VirtualRouterTransition: Sendable, Hashable {
    /// The virtual server's name.
    public var name: String
    public var from: VRRPStateMachine.State
    public var to: VRRPStateMachine.State
    /// The priority advertised at the time.
    public var priority: UInt8
    public var reason: String
}

/// What `/status` shows of one virtual router.
public struct VirtualRouterStatus: Sendable, Codable, Hashable {
    public var name: String
    public var interface: String
    public var vrid: Int
    public var state: String
    public var priority: Int
    public var configuredPriority: Int
    public var master: String?
    public var transitions: Int
    public var lastTransition: String?
    public var advertisementsSent: Int
    public var advertisementsReceived: Int
}

/// Runs the VRRP instances of one device: the sockets of their interfaces, their timers on one event loop, and
/// the actions their state machines ask for (adverts, VIP add and remove, ARP announcements).
///
/// Every instance is confined to ``eventLoop``; public methods hop onto it. Time is the event loop's monotonic
/// clock (`NIODeadline`), so a busy proxy on other loops does not delay advertisements.
public final class VRRPRouter: Sendable {
    public let eventLoop: any EventLoop
    private let logger: Logger
    private let addressManager: any VirtualAddressManager
    private let instances: NIOLoopBoundBox<[String: Instance]?>
    private let transports: NIOLockedValueBox<[String: any VRRPTransport]>
    private let dropped: Counter
    private let onTransition: @Sendable (VirtualRouterTransition) -> Void

    /// The running state of one virtual router; touched on ``eventLoop`` only.
    private final class Instance {
        let configuration: VirtualRouterConfiguration
        let interface: NetworkInterface
        let transport: any VRRPTransport
        var machine: VRRPStateMachine
        var timer: Scheduled<Void>?
        var leaseTimer: Scheduled<Void>?
        var transitions = 0
        var lastTransition: String?
        var sent = 0
        var received = 0
        let metricState: Gauge
        let metricPriority: Gauge
        let metricTransitions: Counter

        init(configuration: VirtualRouterConfiguration, interface: NetworkInterface, transport: any VRRPTransport) {
            self.configuration = configuration
            self.interface = interface
            self.transport = transport
            self.machine = VRRPStateMachine(
                configuration: .init(
                    vrid: configuration.vrid,
                    priority: configuration.priority,
                    advertInterval: configuration.advertInterval,
                    preempt: configuration.preempt,
                    preemptDelay: configuration.preemptDelay,
                    primaryAddress: transport.sourceAddress
                )
            )
            let dimensions = [("virtual_server", configuration.name)]
            self.metricState = Gauge(label: "halb_vrrp_state", dimensions: dimensions)
            self.metricPriority = Gauge(label: "halb_vrrp_priority", dimensions: dimensions)
            self.metricTransitions = Counter(label: "halb_vrrp_transitions_total", dimensions: dimensions)
        }
    }

    private init(
        eventLoop: any EventLoop,
        logger: Logger,
        addressManager: any VirtualAddressManager,
        onTransition: @escaping @Sendable (VirtualRouterTransition) -> Void
    ) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.addressManager = addressManager
        self.onTransition = onTransition
        self.instances = .makeEmptyBox(valueType: [String: Instance].self, eventLoop: eventLoop)
        self.transports = NIOLockedValueBox([:])
        self.dropped = Counter(label: "halb_vrrp_packets_dropped_total")
    }

    /// Opens the interfaces' sockets, removes stale copies of the VIPs (left by a crash) and starts every
    /// instance in Backup (or Master for priority 255).
    ///
    /// - Parameters:
    ///   - configurations: the virtual routers; names are unique.
    ///   - openTransport: opens the transport of an interface (``RawIPv4Transport`` on a device).
    ///   - addressManager: adds, removes and announces VIPs.
    ///   - onTransition: called on the event loop after each state change (to run a notify command); must not block.
    /// - Throws: ``FailoverError`` or a socket error; nothing keeps running then.
    public static func start(
        _ configurations: [VirtualRouterConfiguration],
        eventLoop: any EventLoop,
        logger: Logger,
        addressManager: any VirtualAddressManager = LinuxAddressManager(),
        onTransition: @escaping @Sendable (VirtualRouterTransition) -> Void = { _ in },
        openTransport: @Sendable (NetworkInterface, _ receive: @escaping @Sendable (VRRPReceived) -> Void) async throws -> any VRRPTransport
    ) async throws -> VRRPRouter {
        let router = VRRPRouter(
            eventLoop: eventLoop,
            logger: logger,
            addressManager: addressManager,
            onTransition: onTransition
        )
        var opened: [String: (NetworkInterface, any VRRPTransport)] = [:]
        do {
            for name in Set(configurations.map(\.interface)).sorted() {
                let interface = try NetworkInterface.named(name)
                let transport = try await openTransport(interface) { [router] received in
                    router.eventLoop.execute { router.deliver(received, interface: name) }
                }
                opened[name] = (interface, transport)
            }
            for configuration in configurations {
                let interface = opened[configuration.interface]!.0
                for vip in configuration.addresses {
                    try addressManager.remove(vip.address, prefix: vip.prefix, from: interface)
                }
            }
        } catch {
            for (_, transport) in opened.values { await transport.close() }
            throw error
        }
        router.transports.withLockedValue { $0 = opened.mapValues(\.1) }
        let interfaces = opened
        try await eventLoop.submit {
            var instances: [String: Instance] = [:]
            for configuration in configurations {
                let (interface, transport) = interfaces[configuration.interface]!
                instances[configuration.name] = Instance(
                    configuration: configuration,
                    interface: interface,
                    transport: transport
                )
            }
            router.instances.value = instances
            for instance in instances.values.sorted(by: { $0.configuration.name < $1.configuration.name }) {
                instance.metricPriority.record(Int(instance.machine.priority))
                router.handle(.startup, instance: instance)
            }
        }.get()
        return router
    }

    /// Sets the effective priority of `name` (tracking).
    public func setPriority(_ priority: UInt8, of name: String) {
        self.eventLoop.execute {
            guard let instance = self.instances.value?[name], instance.machine.priority != priority else { return }
            self.logger.notice(
                "VRRP priority changed",
                metadata: [
                    "vs.name": "\(name)",
                    "vrrp.vrid": "\(instance.configuration.vrid)",
                    "vrrp.priority": "\(priority)",
                    "vrrp.configured_priority": "\(instance.configuration.priority)",
                ]
            )
            instance.metricPriority.record(Int(priority))
            self.handle(.priorityChanged(priority), instance: instance)
        }
    }

    /// A snapshot of every virtual router, by name.
    public func status() async -> [VirtualRouterStatus] {
        (try? await self.eventLoop.submit {
            (self.instances.value ?? [:]).values.sorted { $0.configuration.name < $1.configuration.name }.map { instance in
                VirtualRouterStatus(
                    name: instance.configuration.name,
                    interface: instance.configuration.interface,
                    vrid: Int(instance.configuration.vrid),
                    state: instance.machine.state.rawValue,
                    priority: Int(instance.machine.priority),
                    configuredPriority: Int(instance.configuration.priority),
                    master: instance.machine.master.map(String.init(describing:)),
                    transitions: instance.transitions,
                    lastTransition: instance.lastTransition,
                    advertisementsSent: instance.sent,
                    advertisementsReceived: instance.received
                )
            }
        }.get()) ?? []
    }

    /// Stops every instance: a master resigns (priority 0) and releases its VIPs, so a backup takes over after
    /// Skew_Time. Then the sockets close.
    public func shutdown() async {
        try? await self.eventLoop.submit {
            for instance in (self.instances.value ?? [:]).values {
                self.handle(.shutdown, instance: instance)
            }
            self.instances.value = [:]
        }.get()
        for transport in self.transports.withLockedValue({ Array($0.values) }) {
            await transport.close()
        }
    }

    // MARK: - On the event loop

    private var now: Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    private func deliver(_ received: VRRPReceived, interface: String) {
        switch received {
        case .dropped(let error, let sender):
            self.dropped.increment()
            self.logger.debug(
                "VRRP packet dropped",
                metadata: ["vrrp.interface": "\(interface)", "vrrp.sender": "\(sender.map { "\($0)" } ?? "?")", "error": "\(error)"]
            )
        case .advertisement(let advertisement, let sender):
            guard
                let instance = (self.instances.value ?? [:]).values.first(where: {
                    $0.configuration.interface == interface && $0.configuration.vrid == advertisement.vrid
                })
            else { return }  // another virtual router on the segment
            // RFC 5798 §7.1: a non-owner whose address list differs from ours is misconfigured; drop it.
            let ours = Set(instance.configuration.addresses.map(\.address))
            if Set(advertisement.addresses) != ours && advertisement.priority != 255 {
                self.dropped.increment()
                self.logger.warning(
                    "VRRP advertisement with other addresses dropped",
                    metadata: [
                        "vs.name": "\(instance.configuration.name)",
                        "vrrp.vrid": "\(advertisement.vrid)",
                        "vrrp.sender": "\(sender)",
                        "vrrp.addresses": "\(advertisement.addresses.map { "\($0)" })",
                    ]
                )
                return
            }
            instance.received += 1
            self.handle(
                .advertisement(
                    priority: advertisement.priority,
                    maxAdvertInterval: advertisement.maxAdvertInterval,
                    sender: sender
                ),
                instance: instance
            )
        }
    }

    /// How long the kernel keeps a VIP that is not renewed: a master that dies without releasing its VIPs (kill -9,
    /// a hung process) loses them within this time, so the segment does not have two holders for long.
    static let lease: Duration = .seconds(2)

    /// While master: renews the VIPs' lease every half second, and announces them once more after the first
    /// half second, as switches and hosts may miss the first announcement.
    private func renewLease(_ instance: Instance, announce: Bool) {
        let bound = NIOLoopBound(instance, eventLoop: self.eventLoop)
        instance.leaseTimer?.cancel()
        instance.leaseTimer = self.eventLoop.scheduleTask(in: .milliseconds(500)) {
            let instance = bound.value
            guard instance.machine.state == .master else { return }
            for vip in instance.configuration.addresses {
                do {
                    try self.addressManager.add(vip.address, prefix: vip.prefix, to: instance.interface, lifetime: Self.lease)
                    if announce { try self.addressManager.announce(vip.address, on: instance.interface) }
                } catch {
                    self.logger.error(
                        "Cannot renew the virtual address",
                        metadata: ["vs.name": "\(instance.configuration.name)", "error": "\(error)"]
                    )
                }
            }
            self.renewLease(instance, announce: false)
        }
    }

    private func handle(_ event: VRRPStateMachine.Event, instance: Instance) {
        let actions = instance.machine.handle(event, now: self.now)
        for action in actions {
            self.perform(action, instance: instance)
        }
    }

    private func perform(_ action: VRRPStateMachine.Action, instance: Instance) {
        let configuration = instance.configuration
        switch action {
        case .sendAdvertisement(let priority):
            instance.sent += 1
            instance.transport.send(
                VRRPAdvertisement(
                    vrid: configuration.vrid,
                    priority: priority,
                    maxAdvertInterval: configuration.advertInterval,
                    addresses: configuration.addresses.map(\.address)
                ),
                to: configuration.unicastPeers
            )
        case .takeAddresses:
            for vip in configuration.addresses {
                do {
                    try self.addressManager.add(vip.address, prefix: vip.prefix, to: instance.interface, lifetime: Self.lease)
                    try self.addressManager.announce(vip.address, on: instance.interface)
                } catch {
                    self.logger.error(
                        "Cannot take the virtual address",
                        metadata: ["vs.name": "\(configuration.name)", "error": "\(error)"]
                    )
                }
            }
            self.renewLease(instance, announce: true)
        case .releaseAddresses:
            instance.leaseTimer?.cancel()
            instance.leaseTimer = nil
            for vip in configuration.addresses {
                do {
                    try self.addressManager.remove(vip.address, prefix: vip.prefix, from: instance.interface)
                } catch {
                    self.logger.error(
                        "Cannot release the virtual address",
                        metadata: ["vs.name": "\(configuration.name)", "error": "\(error)"]
                    )
                }
            }
        case .armTimer(let deadline):
            instance.timer?.cancel()
            let bound = NIOLoopBound(instance, eventLoop: self.eventLoop)
            instance.timer = self.eventLoop.scheduleTask(
                deadline: NIODeadline.uptimeNanoseconds(UInt64(deadline.components.seconds) * 1_000_000_000
                    + UInt64(deadline.components.attoseconds / 1_000_000_000))
            ) {
                self.handle(.timerFired, instance: bound.value)
            }
        case .cancelTimer:
            instance.timer?.cancel()
            instance.timer = nil
        case .transition(let from, let to, let reason):
            instance.transitions += 1
            instance.lastTransition = "\(from.rawValue) → \(to.rawValue): \(reason)"
            instance.metricTransitions.increment()
            instance.metricState.record(to == .master ? 2 : to == .backup ? 1 : 0)
            self.onTransition(
                VirtualRouterTransition(
                    name: configuration.name,
                    from: from,
                    to: to,
                    priority: instance.machine.priority,
                    reason: reason
                )
            )
            self.logger.notice(
                "VRRP transition",
                metadata: [
                    "vs.name": "\(configuration.name)",
                    "vrrp.vrid": "\(configuration.vrid)",
                    "vrrp.from": "\(from.rawValue)",
                    "vrrp.to": "\(to.rawValue)",
                    "vrrp.priority": "\(instance.machine.priority)",
                    "reason": "\(reason)",
                ]
            )
        }
    }
}
