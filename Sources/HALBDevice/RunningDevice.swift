import HALBBalancer
import HALBCore
import HALBFailover
import Logging

/// One device between its inputs and its engines: the only way a configuration gets in, whether the device starts,
/// its file changes, it gets SIGHUP or its console pushes a new version, is ``apply(_:)``.
public actor RunningDevice {
    /// The device's name in the site.
    public nonisolated let name: String
    public nonisolated let balancer: Balancer
    public nonisolated let failover: FailoverController
    /// Whether failover runs over loopback UDP (the demo), where a listener stands for the VIP.
    private let loopback: Bool
    private let logger: Logger
    /// The site running now.
    public private(set) var site: Site?
    private var plan: [VirtualRouterConfiguration] = []
    /// The loopback demo: the "VIPs" this device holds, whose virtual servers it listens for.
    private var held: Set<VRRPAddress> = []
    /// Applies and VIP changes run one at a time, each to its end.
    private let gate = SerialGate()

    init(name: String, balancer: Balancer, failover: FailoverController, loopback: Bool, logger: Logger) {
        self.name = name
        self.balancer = balancer
        self.failover = failover
        self.loopback = loopback
        self.logger = logger
    }

    /// Applies `site` as a whole, or not at all: validation, this device's part of it, the balancer (which binds
    /// new listeners before it changes anything), then failover, which runs the new plan before this returns.
    ///
    /// - Throws: ``ConfigurationError`` with every issue, ``DeviceConfigProblem`` when the site is valid but not
    ///   for this device, or the balancer's error. The running configuration, balancer and failover alike, is
    ///   untouched then.
    public func apply(_ site: Site) async throws {
        try await self.gate.run {
            let issues = SiteValidator().validate(site)
            guard issues.isEmpty else { throw ConfigurationError(issues: issues) }
            if let problem = SiteFile.problem(site: site, device: self.name) {
                throw DeviceConfigProblem(description: problem)
            }
            let plan = FailoverPlan.configurations(site: site, device: self.name, unicast: self.loopback)
            try await self.balancer.apply(self.balancerConfiguration(site: site, plan: plan, held: self.held))
            self.site = site
            self.plan = plan
            await self.failover.setPlan(plan)
        }
    }

    /// The loopback demo: this device now holds (or no longer holds) the "VIP" `address`, so it listens (or stops
    /// listening) for the virtual servers on it.
    func setHolding(_ address: VRRPAddress, _ holding: Bool) async {
        await self.gate.run {
            var held = self.held
            if holding { held.insert(address) } else { held.remove(address) }
            guard held != self.held, let site = self.site else { return }
            do {
                try await self.balancer.apply(self.balancerConfiguration(site: site, plan: self.plan, held: held))
                self.held = held
            } catch {
                // The lease renewal takes the address again in half a second, which tries again.
                self.logger.debug(
                    "Cannot take the virtual address yet",
                    metadata: ["vrrp.address": "\(address)", "error": "\(error)"]
                )
            }
        }
    }

    private func balancerConfiguration(
        site: Site,
        plan: [VirtualRouterConfiguration],
        held: Set<VRRPAddress>
    ) -> BalancerConfiguration {
        var configuration = BalancerConfiguration(site: site, device: self.name)
        if self.loopback {
            // The demo's "VIP" is the listener: a failover virtual server listens only on the device that holds it,
            // and the devices share their ports for the hand-over (see LoopbackAddressManager).
            configuration.sharedPorts = true
            configuration.closedVirtualServers = Set(
                plan.filter { router in !router.addresses.contains { held.contains($0.address) } }.map(\.name)
            )
        }
        return configuration
    }
}

/// A valid site that this device cannot run (it is not in it, or serves nothing in it).
public struct DeviceConfigProblem: Error, CustomStringConvertible {
    public var description: String
}
