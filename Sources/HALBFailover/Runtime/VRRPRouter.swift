import CoreMetrics
import HALBCore
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
    /// The only senders whose advertisements reach the state machine (the virtual server's devices, this one
    /// included); `nil` accepts any sender. Others are dropped and counted with reason `unknown_sender`.
    public var acceptedSenders: Set<VRRPAddress>?

    public struct VirtualAddress: Sendable, Hashable {
        public var address: VRRPAddress
        public var prefix: Int

        public init(address: VRRPAddress, prefix: Int) {
            self.address = address
            self.prefix = prefix
        }
    }

    /// Whether the addresses are IPv6: a virtual server with IPv4 and IPv6 VIPs runs one virtual router for
    /// each (RFC 5798 §5.2.5), with the same VRID.
    public var isIPv6: Bool { self.addresses.first?.address.isIPv6 ?? false }

    /// `ipv4` or `ipv6`, for logs, metrics and the notify command.
    public var family: String { self.isIPv6 ? "ipv6" : "ipv4" }

    /// Names the instance among a device's: the virtual server and the address family.
    public var key: VirtualRouterKey { VirtualRouterKey(name: self.name, isIPv6: self.isIPv6) }

    var transportKey: TransportKey { TransportKey(interface: self.interface, isIPv6: self.isIPv6) }

    /// Whether `other` can take this one's place without restarting the instance: only the configured priority
    /// (short of 255, the address owner's start), the unicast peers and the accepted senders differ.
    func canBeUpdated(to other: VirtualRouterConfiguration) -> Bool {
        var adjusted = other
        adjusted.priority = self.priority
        adjusted.unicastPeers = self.unicastPeers
        adjusted.acceptedSenders = self.acceptedSenders
        return adjusted == self && self.priority != 255 && other.priority != 255
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
        unicastPeers: [VRRPAddress] = [],
        acceptedSenders: Set<VRRPAddress>? = nil
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
        self.acceptedSenders = acceptedSenders
    }
}

/// Names one virtual router of a device: its virtual server and address family.
public struct VirtualRouterKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var name: String
    public var isIPv6: Bool

    public init(name: String, isIPv6: Bool) {
        self.name = name
        self.isIPv6 = isIPv6
    }

    public var description: String { self.isIPv6 ? "\(self.name) (IPv6)" : self.name }

    // Not as a tuple comparison: that crashes the Swift 6.3.1 optimizer here (release builds).
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.name != rhs.name ? lhs.name < rhs.name : !lhs.isIPv6 && rhs.isIPv6
    }
}

/// The socket of one interface and address family.
struct TransportKey: Sendable, Hashable, Comparable {
    var interface: String
    var isIPv6: Bool

    static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.interface != rhs.interface ? lhs.interface < rhs.interface : !lhs.isIPv6 && rhs.isIPv6
    }
}

/// Opens the transport of an interface for one address family (``RawIPv4Transport`` or ``RawIPv6Transport`` on a
/// device); `receive` is called for every packet that arrives.
public typealias VRRPTransportOpener =
    @Sendable (
        _ interface: NetworkInterface,
        _ isIPv6: Bool,
        _ receive: @escaping @Sendable (VRRPReceived) -> Void
    ) async throws -> any VRRPTransport

/// A state change of one virtual router, for a notify command.
public struct VirtualRouterTransition: Sendable, Hashable {
    /// The virtual server's name.
    public var name: String
    /// `ipv4` or `ipv6`.
    public var family: String
    public var from: VRRPStateMachine.State
    public var to: VRRPStateMachine.State
    /// The priority advertised at the time.
    public var priority: UInt8
    public var reason: String
}

/// What `/status` shows of one virtual router.
public struct VirtualRouterStatus: Sendable, Codable, Hashable {
    public var name: String
    /// `ipv4` or `ipv6`.
    public var family: String
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
/// the actions their state machines ask for (adverts, VIP add and remove, ARP and neighbour announcements).
///
/// Every instance is confined to ``eventLoop``; public methods hop onto it. Time is the event loop's monotonic
/// clock (`NIODeadline`), so a busy proxy on other loops does not delay advertisements.
public final class VRRPRouter: Sendable {
    public let eventLoop: any EventLoop
    private let logger: Logger
    private let addressManager: any VirtualAddressManager
    private let openTransport: VRRPTransportOpener
    private let instances: NIOLoopBoundBox<[VirtualRouterKey: Instance]?>
    private let transports:
        NIOLockedValueBox<[TransportKey: (interface: NetworkInterface, transport: any VRRPTransport)]>
    private let metricsFactory: any MetricsFactory
    /// `halb_vrrp_packets_dropped_total`, by reason.
    private let dropped: [DropReason: Counter]
    /// Rate limits of the per-packet lines about packets no virtual router claims, by socket.
    private let transportLogLimits: NIOLoopBoundBox<[TransportKey: LogRateLimiter]?>
    private let onTransition: @Sendable (VirtualRouterTransition) -> Void

    /// The running state of one virtual router; touched on ``eventLoop`` only.
    private final class Instance {
        /// Replaced in place by ``VRRPRouter/update(_:initialPriority:)`` when only the priority or peers change.
        var configuration: VirtualRouterConfiguration
        let interface: NetworkInterface
        let transport: any VRRPTransport
        var machine: VRRPStateMachine
        var timer: Scheduled<Void>?
        var leaseTimer: Scheduled<Void>?
        var transitions = 0
        var lastTransition: String?
        var sent = 0
        var received = 0
        /// Rate limits of the per-packet log lines of this virtual router, by kind.
        var logLimits: [PacketLog: LogRateLimiter] = [:]
        let metricState: Gauge
        let metricPriority: Gauge
        let metricTransitions: Counter

        init(
            configuration: VirtualRouterConfiguration,
            interface: NetworkInterface,
            transport: any VRRPTransport,
            metricsFactory: any MetricsFactory
        ) {
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
            let dimensions = [("virtual_server", configuration.name), ("family", configuration.family)]
            self.metricState = Gauge(label: "halb_vrrp_state", dimensions: dimensions, factory: metricsFactory)
            self.metricPriority = Gauge(label: "halb_vrrp_priority", dimensions: dimensions, factory: metricsFactory)
            self.metricTransitions = Counter(
                label: "halb_vrrp_transitions_total",
                dimensions: dimensions,
                factory: metricsFactory
            )
        }

        /// Whether to log one more `kind` line now, and how many were left out since the last one.
        func shouldLog(_ kind: PacketLog, now: Duration) -> Int? {
            guard case .log(let suppressed) = self.logLimits[kind, default: LogRateLimiter()].decide(now: now) else {
                return nil
            }
            return suppressed
        }
    }

    /// Why a received packet was dropped: the `reason` label of `halb_vrrp_packets_dropped_total`.
    enum DropReason: String, CaseIterable, Sendable {
        /// It failed a check of RFC 5798 §7.1 (TTL or hop limit, version, length, checksum).
        case invalid
        /// A non-owner's advertisement with a VIP list other than ours (RFC 5798 §7.1).
        case addressList = "address_list"
        /// An advertisement from a host that is not one of the virtual server's devices (`acceptFrom: peers`).
        case unknownSender = "unknown_sender"
    }

    /// The per-packet log lines, each limited to one a second per virtual router.
    enum PacketLog: Hashable {
        case addressList
        case unknownSender
        case intervalBounded
    }

    private init(
        eventLoop: any EventLoop,
        logger: Logger,
        addressManager: any VirtualAddressManager,
        onTransition: @escaping @Sendable (VirtualRouterTransition) -> Void,
        metricsFactory: any MetricsFactory,
        openTransport: @escaping VRRPTransportOpener
    ) {
        self.eventLoop = eventLoop
        self.metricsFactory = metricsFactory
        self.logger = logger
        self.addressManager = addressManager
        self.onTransition = onTransition
        self.openTransport = openTransport
        self.instances = .makeEmptyBox(valueType: [VirtualRouterKey: Instance].self, eventLoop: eventLoop)
        self.transports = NIOLockedValueBox([:])
        self.transportLogLimits = .makeEmptyBox(valueType: [TransportKey: LogRateLimiter].self, eventLoop: eventLoop)
        self.dropped = Dictionary(
            uniqueKeysWithValues: DropReason.allCases.map { reason in
                (
                    reason,
                    Counter(
                        label: "halb_vrrp_packets_dropped_total",
                        dimensions: [("reason", reason.rawValue)],
                        factory: metricsFactory
                    )
                )
            }
        )
    }

    /// Opens the interfaces' sockets, removes stale copies of the VIPs (left by a crash) and starts every
    /// instance in Backup (or Master for priority 255).
    ///
    /// - Parameters:
    ///   - configurations: the virtual routers; their keys are unique.
    ///   - addressManager: adds, removes and announces VIPs.
    ///   - onTransition: called on the event loop after each state change (to run a notify command); must not block.
    ///   - metricsFactory: where the VRRP metrics go; the bootstrapped one by default.
    ///   - openTransport: opens the transport of an interface and address family, now and on later updates.
    /// - Throws: ``FailoverError`` or a socket error; nothing keeps running then.
    public static func start(
        _ configurations: [VirtualRouterConfiguration],
        eventLoop: any EventLoop,
        logger: Logger,
        addressManager: any VirtualAddressManager = LinuxAddressManager(),
        onTransition: @escaping @Sendable (VirtualRouterTransition) -> Void = { _ in },
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        openTransport: @escaping VRRPTransportOpener
    ) async throws -> VRRPRouter {
        let router = VRRPRouter(
            eventLoop: eventLoop,
            logger: logger,
            addressManager: addressManager,
            onTransition: onTransition,
            metricsFactory: metricsFactory,
            openTransport: openTransport
        )
        do {
            try await router.update(configurations)
        } catch {
            await router.shutdown()
            throw error
        }
        return router
    }

    /// The configurations running now.
    public func configurations() async -> [VirtualRouterConfiguration] {
        (try? await self.eventLoop.submit {
            (self.instances.value ?? [:]).values.map(\.configuration).sorted { $0.key < $1.key }
        }.get()) ?? []
    }

    /// Runs `configurations` from now on, changing only what differs: a virtual router that is gone stops (a
    /// master resigns and releases its VIPs), a new one starts in Backup, one whose VRID, addresses, interface or
    /// timers changed restarts, and one whose priority or unicast peers changed keeps running. Not to be called
    /// concurrently.
    ///
    /// - Parameters:
    ///   - configurations: the virtual routers; their keys are unique.
    ///   - initialPriority: the effective priority a new instance starts with, by virtual server (tracking:
    ///     1 while it cannot serve yet); `nil` for the configured one.
    /// - Throws: the first socket or address error; the virtual routers it concerns do not run (a later update
    ///   tries again), all others are updated.
    public func update(
        _ configurations: [VirtualRouterConfiguration],
        initialPriority: @escaping @Sendable (String) -> UInt8? = { _ in nil }
    ) async throws {
        var firstError: (any Error)?
        var opened = self.transports.withLockedValue { $0 }
        let needed = Set(configurations.map(\.transportKey))
        for key in needed.sorted() where opened[key] == nil {
            do {
                let interface = try NetworkInterface.named(key.interface)
                let transport = try await self.openTransport(interface, key.isIPv6) { [self] received in
                    self.eventLoop.execute { self.deliver(received, from: key) }
                }
                opened[key] = (interface, transport)
            } catch {
                firstError = firstError ?? error
            }
        }
        self.transports.withLockedValue { $0 = opened }
        let running = Set(await self.configurations())
        var runnable: [VirtualRouterConfiguration] = []
        for configuration in configurations {
            guard let interface = opened[configuration.transportKey]?.interface else { continue }
            if !running.contains(where: { $0.key == configuration.key && $0.canBeUpdated(to: configuration) }) {
                // A new instance: remove a stale copy of its VIPs first (a crash left them, or another instance).
                do {
                    for vip in configuration.addresses {
                        try self.addressManager.remove(vip.address, prefix: vip.prefix, from: interface)
                    }
                } catch {
                    firstError = firstError ?? error
                    continue
                }
            }
            runnable.append(configuration)
        }
        let transports = opened
        let wanted = runnable
        try await self.eventLoop.submit {
            self.reconcile(wanted, transports: transports, initialPriority: initialPriority)
        }.get()
        let unused = self.transports.withLockedValue { transports in
            let unused = transports.filter { !needed.contains($0.key) }
            for key in unused.keys { transports[key] = nil }
            return unused
        }
        for (_, transport) in unused.values { await transport.close() }
        if let firstError { throw firstError }
    }

    /// Sets the effective priority of `name`'s virtual routers (tracking).
    public func setPriority(_ priority: UInt8, of name: String) {
        self.eventLoop.execute {
            for instance in (self.instances.value ?? [:]).values
            where instance.configuration.name == name && instance.machine.priority != priority {
                self.logger.notice(
                    "VRRP priority changed",
                    metadata: [
                        "vs.name": "\(name)",
                        "vrrp.family": "\(instance.configuration.family)",
                        "vrrp.vrid": "\(instance.configuration.vrid)",
                        "vrrp.priority": "\(priority)",
                        "vrrp.configured_priority": "\(instance.configuration.priority)",
                    ]
                )
                instance.metricPriority.record(Int(priority))
                self.handle(.priorityChanged(priority), instance: instance)
            }
        }
    }

    /// A snapshot of every virtual router, by name and family.
    public func status() async -> [VirtualRouterStatus] {
        (try? await self.eventLoop.submit {
            (self.instances.value ?? [:]).values.sorted { $0.configuration.key < $1.configuration.key }.map {
                instance in
                VirtualRouterStatus(
                    name: instance.configuration.name,
                    family: instance.configuration.family,
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
                self.stop(instance)
            }
            self.instances.value = [:]
        }.get()
        let transports = self.transports.withLockedValue { transports in
            defer { transports = [:] }
            return Array(transports.values)
        }
        for (_, transport) in transports {
            await transport.close()
        }
    }

    // MARK: - On the event loop

    private var now: Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    private func reconcile(
        _ configurations: [VirtualRouterConfiguration],
        transports: [TransportKey: (interface: NetworkInterface, transport: any VRRPTransport)],
        initialPriority: (String) -> UInt8?
    ) {
        var instances = self.instances.value ?? [:]
        let wanted = Dictionary(configurations.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (key, instance) in instances.sorted(by: { $0.key < $1.key }) {
            if let configuration = wanted[key], instance.configuration.canBeUpdated(to: configuration) {
                instance.configuration = configuration
                continue
            }
            self.stop(instance)
            instances[key] = nil
        }
        for configuration in configurations.sorted(by: { $0.key < $1.key }) where instances[configuration.key] == nil {
            guard let (interface, transport) = transports[configuration.transportKey] else { continue }
            let instance = Instance(
                configuration: configuration,
                interface: interface,
                transport: transport,
                metricsFactory: self.metricsFactory
            )
            instances[configuration.key] = instance
            if let accepted = configuration.acceptedSenders, !accepted.contains(transport.sourceAddress) {
                // The peers run the same site, so they will drop this device's advertisements and take over too.
                self.logger.warning(
                    "VRRP advertisements go out from an address the site does not list for this device",
                    metadata: [
                        "vs.name": "\(configuration.name)",
                        "vrrp.family": "\(configuration.family)",
                        "vrrp.vrid": "\(configuration.vrid)",
                        "vrrp.source": "\(transport.sourceAddress)",
                        "vrrp.accepted": "\(Self.show(accepted))",
                    ]
                )
            }
            if let priority = initialPriority(configuration.name), configuration.priority != 255 {
                _ = instance.machine.handle(.priorityChanged(priority), now: self.now)
            }
            instance.metricPriority.record(Int(instance.machine.priority))
            self.handle(.startup, instance: instance)
        }
        self.instances.value = instances
    }

    /// Shuts `instance` down (a master resigns and releases its VIPs) and cancels its timers.
    private func stop(_ instance: Instance) {
        self.handle(.shutdown, instance: instance)
        instance.timer?.cancel()
        instance.timer = nil
        instance.leaseTimer?.cancel()
        instance.leaseTimer = nil
    }

    private func deliver(_ received: VRRPReceived, from key: TransportKey) {
        switch received {
        case .dropped(let error, let sender):
            self.dropped[.invalid]?.increment()
            var limits = self.transportLogLimits.value ?? [:]
            let decision = limits[key, default: LogRateLimiter()].decide(now: self.now)
            self.transportLogLimits.value = limits
            guard case .log(let suppressed) = decision else { return }
            self.logger.debug(
                "VRRP packet dropped",
                metadata: [
                    "vrrp.interface": "\(key.interface)",
                    "vrrp.sender": "\(sender.map { "\($0)" } ?? "?")",
                    "error": "\(error)",
                    "log.suppressed": "\(suppressed)",
                ]
            )
        case .advertisement(let advertisement, let sender):
            guard
                let instance = (self.instances.value ?? [:]).values.first(where: {
                    $0.configuration.transportKey == key && $0.configuration.vrid == advertisement.vrid
                })
            else { return }  // another virtual router on the segment
            let configuration = instance.configuration
            let metadata: Logger.Metadata = [
                "vs.name": "\(configuration.name)",
                "vrrp.family": "\(configuration.family)",
                "vrrp.vrid": "\(advertisement.vrid)",
                "vrrp.sender": "\(sender)",
                "vrrp.priority": "\(advertisement.priority)",
            ]
            // Only the virtual server's devices take part in the election (unless the site says `acceptFrom: any`):
            // another host on the segment must not take the VIP, nor stretch our timers.
            if let accepted = configuration.acceptedSenders, !accepted.contains(sender) {
                self.dropped[.unknownSender]?.increment()
                if let suppressed = instance.shouldLog(.unknownSender, now: self.now) {
                    self.logger.warning(
                        "VRRP advertisement from a host that is not a device of the virtual server dropped",
                        metadata: metadata.merging(
                            ["vrrp.accepted": "\(Self.show(accepted))", "log.suppressed": "\(suppressed)"],
                            uniquingKeysWith: { $1 }
                        )
                    )
                }
                return
            }
            // RFC 5798 §7.1: a non-owner whose address list differs from ours is misconfigured; drop it.
            let ours = Set(configuration.addresses.map(\.address))
            if Set(advertisement.addresses) != ours && advertisement.priority != 255 {
                self.dropped[.addressList]?.increment()
                if let suppressed = instance.shouldLog(.addressList, now: self.now) {
                    self.logger.warning(
                        "VRRP advertisement with other addresses dropped",
                        metadata: metadata.merging(
                            [
                                "vrrp.addresses": "\(advertisement.addresses.map { "\($0)" })",
                                "log.suppressed": "\(suppressed)",
                            ],
                            uniquingKeysWith: { $1 }
                        )
                    )
                }
                return
            }
            let bound = instance.machine.maximumMasterAdvertInterval
            if advertisement.priority != 0, advertisement.maxAdvertInterval > bound,
                let suppressed = instance.shouldLog(.intervalBounded, now: self.now)
            {
                self.logger.notice(
                    "VRRP advertisement interval longer than the virtual router adopts",
                    metadata: metadata.merging(
                        [
                            "vrrp.advert_interval": "\(Int(advertisement.maxAdvertInterval) * 10)ms",
                            "vrrp.adopted_interval": "\(Int(bound) * 10)ms",
                            "log.suppressed": "\(suppressed)",
                        ],
                        uniquingKeysWith: { $1 }
                    )
                )
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

    /// The accepted senders, sorted, for a log line.
    private static func show(_ senders: Set<VRRPAddress>) -> String {
        senders.map { "\($0)" }.sorted().joined(separator: ", ")
    }

    /// How long the kernel keeps a VIP that is not renewed: a master that dies without releasing its VIPs (kill -9,
    /// a hung process) loses them within this time, so the segment does not have two holders for long.
    static let lease: Duration = .seconds(2)

    /// How often a master announces its VIPs again while it stays master, in lease renewals (half seconds): 2 s.
    static let announcementRefresh = 4

    /// While master: renews the VIPs' lease every half second (`renewal` counts them from the transition), and
    /// announces them again after the first half second, as switches and hosts may miss the first announcement,
    /// then every ``announcementRefresh`` renewals. The refresh brings back hosts whose cache another device won
    /// without this master hearing of it: a backup that took over by mistake (under packet loss, or resumed after
    /// a stop) or the other side of a healed partition announces the VIP and yields at this master's next advert,
    /// before it sends one this master would answer (found by bench/chaos.py: 8 s and longer outages).
    private func renewLease(_ instance: Instance, renewal: Int) {
        let bound = NIOLoopBound(instance, eventLoop: self.eventLoop)
        instance.leaseTimer?.cancel()
        instance.leaseTimer = self.eventLoop.scheduleTask(in: .milliseconds(500)) {
            let instance = bound.value
            guard instance.machine.state == .master else { return }
            let announce = renewal % Self.announcementRefresh == 0
            for vip in instance.configuration.addresses {
                do {
                    try self.addressManager.add(
                        vip.address,
                        prefix: vip.prefix,
                        to: instance.interface,
                        lifetime: Self.lease
                    )
                    if announce { try self.addressManager.announce(vip.address, on: instance.interface) }
                } catch {
                    self.logger.error(
                        "Cannot renew the virtual address",
                        metadata: ["vs.name": "\(instance.configuration.name)", "error": "\(error)"]
                    )
                }
            }
            self.renewLease(instance, renewal: renewal + 1)
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
                    try self.addressManager.add(
                        vip.address,
                        prefix: vip.prefix,
                        to: instance.interface,
                        lifetime: Self.lease
                    )
                    try self.addressManager.announce(vip.address, on: instance.interface)
                } catch {
                    self.logger.error(
                        "Cannot take the virtual address",
                        metadata: ["vs.name": "\(configuration.name)", "error": "\(error)"]
                    )
                }
            }
            self.renewLease(instance, renewal: 0)
        case .announceAddresses:
            for vip in configuration.addresses {
                do {
                    try self.addressManager.announce(vip.address, on: instance.interface)
                } catch {
                    self.logger.error(
                        "Cannot announce the virtual address",
                        metadata: ["vs.name": "\(configuration.name)", "error": "\(error)"]
                    )
                }
            }
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
                deadline: NIODeadline.uptimeNanoseconds(
                    UInt64(deadline.components.seconds) * 1_000_000_000
                        + UInt64(deadline.components.attoseconds / 1_000_000_000)
                )
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
                    family: configuration.family,
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
                    "vrrp.family": "\(configuration.family)",
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
