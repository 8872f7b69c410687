import Foundation
import HALBBalancer
import HALBFailover

/// What a managed device tells its console in each heartbeat: its software, the configuration it runs, its role
/// in each virtual server and its gateways' health. The shape is the console's `AgentReport`.
enum AgentReporting {
    struct Report: Encodable, Sendable {
        struct Role: Encodable, Sendable {
            var virtualServer: String
            var family: String?
            var role: String
            var priority: Int?
        }

        struct Gateway: Encodable, Sendable {
            var gateway: String
            var state: String
        }

        var softwareVersion: String
        var appliedVersion: Int?
        var roles: [Role]
        var gateways: [Gateway]
    }

    static func report(balancer: Balancer, failover: FailoverHandle) async -> any Encodable & Sendable {
        let status = await balancer.status()
        let routers = await failover.router?.status() ?? []
        var roles = routers.map { router in
            Report.Role(
                virtualServer: router.name,
                family: router.family,
                role: router.state == "master" ? "primary" : router.state == "backup" ? "secondary" : "stopped",
                priority: router.priority
            )
        }
        // A virtual router that has not started yet (failover waits for the first health checks) is in Initialize:
        // the device does not serve its virtual server yet, so it is not reported as primary.
        let plan = failover.plan
        for configuration in plan
        where !routers.contains(where: { $0.name == configuration.name && $0.family == configuration.family }) {
            roles.append(
                Report.Role(
                    virtualServer: configuration.name,
                    family: configuration.family,
                    role: "stopped",
                    priority: nil
                )
            )
        }
        for name in Set(status.virtualServers.map(\.name)).sorted()
        where !routers.contains(where: { $0.name == name }) && !plan.contains(where: { $0.name == name }) {
            roles.append(Report.Role(virtualServer: name, family: nil, role: "standalone", priority: nil))
        }
        return Report(
            // HALB_REPORTED_VERSION pretends another version, to see Needs update without building an old HALB.
            softwareVersion: ProcessInfo.processInfo.environment["HALB_REPORTED_VERSION"] ?? HALBCommand.version,
            appliedVersion: status.configuration.version,
            roles: roles,
            gateways: status.gateways.map { Report.Gateway(gateway: $0.name, state: $0.health) }
        )
    }
}
