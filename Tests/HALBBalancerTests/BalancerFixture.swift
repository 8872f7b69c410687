import Foundation
import HALBCore
import HALBTestSupport
import Logging
import NIOCore
import NIOPosix

@testable import HALBBalancer

/// A balancer with one listener on 127.0.0.1 (port chosen by the system) in front of test gateways.
struct BalancerFixture {
    let balancer: Balancer
    let port: Int

    static let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func route(
        gateways: [(name: String, port: Int)],
        balancing: BalancingAlgorithm = .roundrobin,
        healthCheck: HealthCheck = HealthCheck(interval: .hours(1), timeout: .seconds(60)),
        timeouts: Timeouts = Timeouts(),
        limits: Limits = Limits(),
        proxyProtocol: ProxyProtocolVersion = .off
    ) -> RouteConfiguration {
        RouteConfiguration(
            virtualServer: "web",
            payload: .gateway,
            members: gateways.map { MemberConfiguration(name: $0.name, address: "127.0.0.1", port: $0.port) },
            balancing: balancing,
            healthCheck: healthCheck,
            timeouts: timeouts,
            limits: limits,
            proxyProtocol: proxyProtocol
        )
    }

    static func configuration(_ route: RouteConfiguration, version: Int = 1) -> BalancerConfiguration {
        BalancerConfiguration(
            siteName: "test",
            version: version,
            listeners: [ListenerConfiguration(host: "127.0.0.1", port: 0, route: route)]
        )
    }

    /// The data path under test: HALB's own relay, or SwiftNIO with `HALB_TEST_DATA_PATH=nio` (`.ci/run` runs the
    /// balancer tests both ways).
    static let dataPath: DataPath = {
        guard let name = ProcessInfo.processInfo.environment["HALB_TEST_DATA_PATH"] else { return .native }
        guard let path = DataPath(rawValue: name) else {
            fatalError("HALB_TEST_DATA_PATH=\(name) is not native or nio")
        }
        return path
    }()

    static func start(_ route: RouteConfiguration, logger: Logger = Self.quietLogger) async throws -> BalancerFixture {
        let balancer = Balancer(group: MultiThreadedEventLoopGroup.singleton, logger: logger, dataPath: Self.dataPath)
        try await balancer.apply(Self.configuration(route))
        let port = await balancer.boundAddresses()["127.0.0.1:0"]!.port!
        return BalancerFixture(balancer: balancer, port: port)
    }

    func stop() async {
        await self.balancer.shutdown(drainTimeout: .zero)
    }

    func gateway(_ name: String) async -> BalancerStatus.GatewayStatus? {
        await self.balancer.status().gateways.first { $0.name == name }
    }
}

/// Runs `body` with the fixture and always shuts the balancer down.
func withBalancer<T>(
    _ route: RouteConfiguration,
    logger: Logger = BalancerFixture.quietLogger,
    _ body: (BalancerFixture) async throws -> T
) async throws -> T {
    let fixture = try await BalancerFixture.start(route, logger: logger)
    do {
        let result = try await body(fixture)
        await fixture.stop()
        return result
    } catch {
        await fixture.stop()
        throw error
    }
}
