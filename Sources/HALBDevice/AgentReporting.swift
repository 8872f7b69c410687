import HALBBalancer
import HALBFailover
import HALBWire

/// What a managed device tells its console in each heartbeat: its software, the configuration it runs, its role
/// in each virtual server and its gateways' health.
enum AgentReporting {
    static func report(device: RunningDevice, softwareVersion: String) async -> AgentReport {
        let status = await device.balancer.status()
        let routers = await device.failover.status()
        var roles = routers.map { router in
            AgentRole(
                virtualServer: router.name,
                family: router.family,
                role: router.state == "master" ? .primary : router.state == "backup" ? .secondary : .stopped,
                priority: router.priority
            )
        }
        // A virtual router that has not started yet (failover waits for the first health checks) is in Initialize:
        // the device does not serve its virtual server yet, so it is not reported as primary.
        let plan = await device.failover.plan
        for configuration in plan
        where !routers.contains(where: { $0.name == configuration.name && $0.family == configuration.family }) {
            roles.append(
                AgentRole(
                    virtualServer: configuration.name,
                    family: configuration.family,
                    role: .stopped,
                    priority: nil
                )
            )
        }
        for name in Set(status.virtualServers.map(\.name)).sorted()
        where !routers.contains(where: { $0.name == name }) && !plan.contains(where: { $0.name == name }) {
            roles.append(AgentRole(virtualServer: name, family: nil, role: .standalone, priority: nil))
        }
        // Shutting down (the last heartbeat): failover has resigned and the balancer drains; it serves nothing now.
        if await device.balancer.isDraining {
            roles = roles.map {
                AgentRole(virtualServer: $0.virtualServer, family: $0.family, role: .stopped, priority: nil)
            }
        }
        return AgentReport(
            softwareVersion: softwareVersion,
            appliedVersion: status.configuration.version,
            roles: roles,
            gateways: status.gateways.map { AgentGatewayHealth(gateway: $0.name, state: $0.health) }
        )
    }
}
