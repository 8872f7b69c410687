import Foundation
import HALBBalancer
import HALBCore
import HALBFailover
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// Which virtual servers of a site this device runs VRRP for: the enabled ones that list it among two or more
/// devices. A virtual server with one device is served without failover.
enum FailoverPlan {
    /// The other devices' addresses, for unicast advertisements.
    static func peers(of device: String, in vs: VirtualServer, site: Site) -> [VRRPAddress] {
        vs.devices.compactMap { assignment in
            guard assignment.name != device else { return nil }
            return site.devices.first { $0.name == assignment.name }.flatMap { VRRPAddress($0.address) }
        }
    }

    /// The devices' addresses, this one's included, whose IPv4 advertisements the virtual server's router obeys
    /// with `acceptFrom: peers` (the validator makes them IPv4 literals).
    static func acceptedSenders(in vs: VirtualServer, site: Site) -> Set<VRRPAddress> {
        Set(
            vs.devices.compactMap { assignment in
                site.devices.first { $0.name == assignment.name }.flatMap { VRRPAddress($0.address) }
            }
        )
    }

    /// The virtual routers of `device`: one per virtual server and address family (IPv4, and IPv6 when the
    /// virtual server has an IPv6 VIP), with the same VRID.
    ///
    /// With `acceptFrom: peers` an IPv4 router obeys only the devices' addresses. An IPv6 router obeys any sender
    /// that passes RFC 5798's checks (hop limit 255, so on the link): IPv6 advertisements come from the sender's
    /// link-local address, which the site does not know (it names IPv4 or global addresses).
    ///
    /// - Parameter unicast: send advertisements to the other devices whatever the site says (the loopback demo).
    static func configurations(site: Site, device: String, unicast: Bool = false) -> [VirtualRouterConfiguration] {
        guard let me = site.devices.first(where: { $0.name == device }) else { return [] }
        return site.virtualServers.indices.flatMap { index -> [VirtualRouterConfiguration] in
            let vs = site.virtualServers[index]
            guard vs.enabled, vs.devices.count >= 2,
                let priority = site.vrrpPriority(of: device, inVirtualServerAt: index)
            else { return [] }
            let vips = [(vs.vip.ipv4, 4), (vs.vip.ipv6, 6)].compactMap {
                text,
                family -> VirtualRouterConfiguration.VirtualAddress? in
                guard let text, let (address, prefix) = AddressText.cidr(text, family: family),
                    let vip = VRRPAddress(address)
                else { return nil }
                return .init(address: vip, prefix: prefix)
            }
            // The loopback demo's transport is IPv4 only.
            return vips.filter { !(unicast && $0.address.isIPv6) }.map { vip in
                VirtualRouterConfiguration(
                    name: vs.name,
                    interface: vs.vip.interface ?? me.interface,
                    vrid: UInt8(site.routerID(ofVirtualServerAt: index)),
                    priority: UInt8(priority),
                    advertInterval: UInt16(vs.vrrp.advertInterval.milliseconds / 10),
                    preempt: vs.vrrp.preempt,
                    preemptDelay: vs.vrrp.preemptDelay.duration,
                    addresses: [vip],
                    // Unicast is IPv4 only (the validator says so): the devices' addresses are IPv4.
                    unicastPeers: (vs.vrrp.unicast || unicast) && !vip.address.isIPv6
                        ? Self.peers(of: device, in: vs, site: site) : [],
                    acceptedSenders: vs.vrrp.acceptFrom == .peers && !vip.address.isIPv6
                        ? Self.acceptedSenders(in: vs, site: site) : nil
                )
            }
        }
    }
}

/// The device's failover: the virtual routers it should run (a reload changes them) and the running VRRP
/// router, once started, for `/status`.
final class FailoverHandle: Sendable {
    private let box: NIOLockedValueBox<(router: VRRPRouter?, plan: [VirtualRouterConfiguration])>

    init(plan: [VirtualRouterConfiguration]) {
        self.box = NIOLockedValueBox((nil, plan))
    }

    var router: VRRPRouter? {
        get { self.box.withLockedValue { $0.router } }
        set { self.box.withLockedValue { $0.router = newValue } }
    }

    /// What the device should run; ``FailoverService`` applies a change within a tenth of a second.
    var plan: [VirtualRouterConfiguration] {
        get { self.box.withLockedValue { $0.plan } }
        set { self.box.withLockedValue { $0.plan = newValue } }
    }
}

/// Runs the device's VRRP instances and tracks whether each virtual server can be served: a device with no usable
/// gateway for a virtual server advertises priority 1, so a healthy peer takes the VIP. It starts once the first
/// health checks have finished (at most a few seconds), so a device never claims a VIP it cannot serve yet. On
/// graceful shutdown a master resigns (priority 0) before the balancer drains, so a backup takes over at once.
///
/// A reload changes ``FailoverHandle/plan``; the tracking loop applies it: virtual routers that are gone resign,
/// new ones start at priority 1 until their virtual server can be served.
struct FailoverService: Service {
    let balancer: Balancer
    let eventLoop: any EventLoop
    let logger: Logger
    let handle: FailoverHandle
    /// Runs on each transition as `COMMAND <virtual server> <MASTER|BACKUP|STOP> <priority> <ipv4|ipv6>`, like
    /// keepalived's `notify`.
    let notify: String?
    /// The demo's failover: VRRP over UDP on this port between the devices' loopback addresses, and the "VIP" is
    /// the virtual server's listeners, bound by the primary only. `nil`: real VRRP on the network.
    let loopbackPort: Int?
    /// This device's address (the loopback demo's VRRP address).
    let deviceAddress: String

    func run() async throws {
        // Wait for the first health checks (5 s at most), unless the device is told to stop meanwhile.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        await cancelWhenGracefulShutdown {
            while await !self.balancer.firstChecksFinished(), clock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        guard !Task.isShuttingDownGracefully else { return }
        let eventLoop = self.eventLoop
        let logger = self.logger
        let plan = self.handle.plan
        let router: VRRPRouter
        var listenerAddresses: ListenerAddressManager?
        do {
            let notify = self.notify.map { command in
                { @Sendable (transition: VirtualRouterTransition) in
                    NotifyCommand.run(command, transition: transition, logger: logger)
                }
            }
            if let port = self.loopbackPort, let address = VRRPAddress(self.deviceAddress) {
                let addresses = ListenerAddressManager(balancer: self.balancer, configurations: plan, logger: logger)
                listenerAddresses = addresses
                router = try await VRRPRouter.start(
                    plan,
                    eventLoop: self.eventLoop,
                    logger: self.logger,
                    addressManager: addresses,
                    onTransition: notify ?? { _ in }
                ) { _, _, receive in
                    try await UDPTransport.open(address: address, port: port, eventLoop: eventLoop, receive: receive)
                }
            } else {
                router = try await VRRPRouter.start(
                    plan,
                    eventLoop: self.eventLoop,
                    logger: self.logger,
                    onTransition: notify ?? { _ in }
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
        } catch {
            throw FailoverStartError(reason: "\(error)")
        }
        self.handle.router = router
        await cancelWhenGracefulShutdown { [listenerAddresses] in
            var running = plan
            var failedUpdate: (plan: [VirtualRouterConfiguration], at: ContinuousClock.Instant)?
            while !Task.isCancelled {
                let servable = await self.balancer.servableVirtualServers()
                let wanted = self.handle.plan
                // A failed update is tried again when the plan changes, or after 10 s.
                let retry = failedUpdate.map { $0.plan != wanted || clock.now - $0.at >= .seconds(10) } ?? true
                if wanted != running, retry {
                    listenerAddresses?.track(wanted + running)
                    do {
                        try await router.update(wanted) { servable[$0] == true ? nil : 1 }
                        failedUpdate = nil
                        logger.notice("Failover settings applied", metadata: ["vrrp.instances": "\(wanted.count)"])
                    } catch {
                        failedUpdate = (wanted, clock.now)
                        logger.error("Cannot apply failover settings", metadata: ["error": "\(error)"])
                    }
                    running = await router.configurations()
                    listenerAddresses?.track(running)
                }
                for configuration in running {
                    let healthy = servable[configuration.name] ?? false
                    router.setPriority(healthy ? configuration.priority : 1, of: configuration.name)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        await router.shutdown()
        // The loopback demo: a primary that resigned keeps listening until the secondary does.
        await listenerAddresses?.releasesFinished()
    }
}

/// Failover could not start; the device stops rather than run without it.
struct FailoverStartError: Error, CustomStringConvertible {
    var reason: String
    var description: String {
        "cannot start failover: \(self.reason) (failover needs root, or CAP_NET_ADMIN and CAP_NET_RAW)"
    }
}

/// Runs the notify command of a transition in the background; a failure is logged and changes nothing.
enum NotifyCommand {
    static func run(_ command: String, transition: VirtualRouterTransition, logger: Logger) {
        let state =
            switch transition.to {
            case .master: "MASTER"
            case .backup: "BACKUP"
            case .initialize: "STOP"
            }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = [transition.name, state, "\(transition.priority)", transition.family]
        process.terminationHandler = { process in
            guard process.terminationStatus != 0 else { return }
            logger.warning(
                "Notify command failed",
                metadata: [
                    "vs.name": "\(transition.name)",
                    "notify.command": "\(command)",
                    "notify.status": "\(process.terminationStatus)",
                ]
            )
        }
        do {
            try process.run()
        } catch {
            logger.warning(
                "Notify command failed",
                metadata: ["vs.name": "\(transition.name)", "notify.command": "\(command)", "error": "\(error)"]
            )
        }
    }
}

/// The loopback demo's "VIP": taking it binds the virtual server's listeners, releasing it closes them.
///
/// On a network the VIP moves between hosts; here both devices share one host, so the "VIP" is the listener, and
/// the listeners share their port (``Balancer`` with `sharedPorts`). A device taking over binds at once, while the
/// one handing over still listens; the one handing over closes its listeners only ``handOver`` later, once the
/// new primary surely listens. So at every moment one of them accepts, and no client connection is refused: not
/// when the primary stops (it resigns, the secondary takes over after Skew_Time, then the old primary closes), nor
/// when it comes back and preempts (it binds, advertises, and the secondary closes ``handOver`` later).
final class ListenerAddressManager: VirtualAddressManager {
    /// How long a device that gives up the "VIP" keeps listening: long enough for the new primary to bind, even on
    /// a busy machine. Both accept meanwhile, which is harmless: both serve the same gateways.
    static let handOver: Duration = .seconds(1)

    private enum Change {
        case take(String)
        /// Closes the listeners unless the virtual server was taken again (or left failover) since.
        case release(String, generation: Int)
    }

    private struct State {
        /// The virtual servers of each "VIP".
        var names: [VRRPAddress: Set<String>] = [:]
        /// Counts takes and releases per virtual server, so a late release does not undo a later take.
        var generations: [String: Int] = [:]
        /// Releases scheduled or running.
        var pendingReleases = 0
    }

    private let queue: AsyncStream<Change>.Continuation
    private let state = NIOLockedValueBox(State())

    init(balancer: Balancer, configurations: [VirtualRouterConfiguration], logger: Logger) {
        let (changes, queue) = AsyncStream.makeStream(of: Change.self)
        self.queue = queue
        self.track(configurations)
        let state = self.state
        // One task applies the changes in the order they become due.
        Task {
            for await change in changes {
                switch change {
                case .take(let name):
                    do {
                        try await balancer.setServing(name, true)
                    } catch {
                        // The lease renewal takes the address again in 0.5 s, which tries again.
                        logger.debug(
                            "Cannot take the virtual address yet",
                            metadata: ["vs.name": "\(name)", "error": "\(error)"]
                        )
                    }
                case .release(let name, let generation):
                    let due = state.withLockedValue { state in
                        state.generations[name] == generation && state.names.values.contains { $0.contains(name) }
                    }
                    if due { try? await balancer.setServing(name, false) }
                    state.withLockedValue { $0.pendingReleases -= 1 }
                }
            }
        }
    }

    /// Learns the virtual servers of `configurations` (call before a failover update starts or stops routers).
    func track(_ configurations: [VirtualRouterConfiguration]) {
        var names: [VRRPAddress: Set<String>] = [:]
        for configuration in configurations {
            for vip in configuration.addresses { names[vip.address, default: []].insert(configuration.name) }
        }
        self.state.withLockedValue { $0.names = names }
    }

    func add(
        _ address: VRRPAddress,
        prefix: Int,
        to interface: NetworkInterface,
        lifetime: Duration
    ) throws(FailoverError) {
        let names = self.state.withLockedValue { state in
            let names = state.names[address] ?? []
            for name in names { state.generations[name, default: 0] += 1 }
            return names
        }
        for name in names.sorted() { self.queue.yield(.take(name)) }
    }

    func remove(_ address: VRRPAddress, prefix: Int, from interface: NetworkInterface) throws(FailoverError) {
        let releases = self.state.withLockedValue { state in
            (state.names[address] ?? []).sorted().map { name in
                state.generations[name, default: 0] += 1
                state.pendingReleases += 1
                return (name, state.generations[name]!)
            }
        }
        for (name, generation) in releases {
            Task { [queue] in
                try? await Task.sleep(for: Self.handOver)
                queue.yield(.release(name, generation: generation))
            }
        }
    }

    func announce(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError) {}

    /// Returns once every release asked for so far has closed its listeners (or was overtaken by a take), at most
    /// ``handOver`` plus a second from now: on shutdown, the device keeps listening until the new primary does.
    func releasesFinished() async {
        let deadline = ContinuousClock.now.advanced(by: Self.handOver + .seconds(1))
        while self.state.withLockedValue({ $0.pendingReleases > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit {
        self.queue.finish()
    }
}
