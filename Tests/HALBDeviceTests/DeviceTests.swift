import Foundation
import HALBBalancer
import HALBCore
import HALBDevice
import HALBTestSupport
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

@testable import HALBFailover

/// A VRRP router that records what the device asks of it.
final class RecordingRouter: VirtualRouting {
    enum Call: Equatable, Sendable {
        case update([VirtualRouterConfiguration], lowered: [String])
        case setPriority(UInt8, of: String)
        case shutdown
    }

    private let state = Mutex<(calls: [Call], running: [VirtualRouterConfiguration], refuse: Int)>(([], [], 0))

    var calls: [Call] { self.state.withLock { $0.calls } }
    var updates: [[VirtualRouterConfiguration]] {
        self.calls.compactMap { if case .update(let plan, _) = $0 { plan } else { nil } }
    }
    var priorities: [UInt8] {
        self.calls.compactMap { if case .setPriority(let priority, _) = $0 { priority } else { nil } }
    }

    /// The next `count` updates fail.
    func refuse(_ count: Int) {
        self.state.withLock { $0.refuse = count }
    }

    func update(
        _ configurations: [VirtualRouterConfiguration],
        initialPriority: @escaping @Sendable (String) -> UInt8?
    ) async throws {
        let refused = self.state.withLock { state in
            let lowered = configurations.map(\.name).filter { initialPriority($0) != nil }
            state.calls.append(.update(configurations, lowered: lowered))
            guard state.refuse == 0 else {
                state.refuse -= 1
                return true
            }
            state.running = configurations
            return false
        }
        if refused { throw FailoverError.noInterface("eth9") }
    }

    func configurations() async -> [VirtualRouterConfiguration] {
        self.state.withLock { $0.running }
    }

    func setPriority(_ priority: UInt8, of name: String) {
        self.state.withLock { $0.calls.append(.setPriority(priority, of: name)) }
    }

    /// Every virtual router it runs is master.
    func status() async -> [VirtualRouterStatus] {
        self.state.withLock { $0.running }.map { configuration in
            VirtualRouterStatus(
                name: configuration.name,
                family: configuration.family,
                interface: configuration.interface,
                vrid: Int(configuration.vrid),
                state: "master",
                priority: Int(configuration.priority),
                configuredPriority: Int(configuration.priority),
                master: nil,
                transitions: 1,
                lastTransition: nil,
                advertisementsSent: 0,
                advertisementsReceived: 0
            )
        }
    }

    func shutdown() async {
        self.state.withLock { $0.calls.append(.shutdown) }
    }
}

/// A device assembled in process by `buildDevice`, as `halb device` assembles it, with a recording VRRP router.
@Suite(.timeLimit(.minutes(1))) struct DeviceTests {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    /// A site whose virtual server `web` runs on lb1 and lb2 (so with failover) on 127.0.0.1:`port`.
    static func site(
        version: Int = 1,
        port: Int,
        gateway: Int,
        priority: Int? = nil,
        sslPort: Int? = nil
    ) throws -> Site {
        let lb1 = priority.map { "{ name: lb1, priority: \($0) }" } ?? "lb1"
        let ssl = sslPort.map { "\n      ssl: { port: \($0), gateways: [gw1] }" } ?? ""
        return try SiteReader.load(
            yaml: """
                site: lab
                version: \(version)
                gateways:
                  - { name: gw1, address: 127.0.0.1, ports: { gateway: \(gateway), ssl: \(gateway) } }
                devices:
                  - { name: lb1, address: 192.0.2.11, interface: eth0 }
                  - { name: lb2, address: 192.0.2.12, interface: eth0 }
                virtualServers:
                  - name: web
                    vip: { ipv4: 127.0.0.1/8 }
                    devices: [\(lb1), lb2]
                    payloads:
                      gateway: { port: \(port), gateways: [gw1] }\(ssl)
                    healthCheck: { type: tcp, interval: 1s, timeout: 1s, rise: 1, fall: 2 }

                """
        )
    }

    struct Running {
        let application: DeviceApplication
        let router: RecordingRouter
        let group: ServiceGroup
        let task: Task<Void, any Error>

        var device: RunningDevice { self.application.device }

        func stop() async throws {
            await self.group.triggerGracefulShutdown()
            try await self.task.value
        }
    }

    static func start(
        _ site: Site,
        source: ConfigSource = .file("/nonexistent/site.yaml")
    ) async throws -> Running {
        let router = RecordingRouter()
        var options = DeviceOptions(name: "lb1")
        options.adminPort = 0
        options.drainTimeout = .zero
        let application = try await buildDevice(
            site: site,
            source: source,
            options: options,
            group: MultiThreadedEventLoopGroup.singleton,
            registry: PrometheusCollectorRegistry(),
            logger: Self.logger,
            startRouter: { router }
        )
        let group = application.serviceGroup(logger: Self.logger, signals: [])
        let task = Task { try await group.run() }
        return Running(application: application, router: router, group: group, task: task)
    }

    @Test func theFirstConfigurationIsAppliedAndTheRouterStartsOnceTheChecksAreDone() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let port = try freePort()
        let running = try await Self.start(try Self.site(port: port, gateway: gateway.port))
        #expect(try await echoRoundTrip(port: port) == "ping")
        #expect(await running.device.site?.version == 1)
        #expect(await eventually { running.router.updates.count == 1 })
        #expect(running.router.updates.first?.map(\.name) == ["web"])
        // The gateway answers, so web runs at its configured priority.
        #expect(await eventually { running.router.calls.contains(.setPriority(200, of: "web")) })
        try await running.stop()
        #expect(running.router.calls.last == .shutdown)
    }

    @Test func aPlanChangeReachesTheRouterBeforeApplyReturns() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let port = try freePort()
        let running = try await Self.start(try Self.site(port: port, gateway: gateway.port))
        #expect(await eventually { running.router.updates.count == 1 })

        try await running.device.apply(try Self.site(version: 2, port: port, gateway: gateway.port, priority: 150))
        // No wait: apply hands the plan to the router itself (there is no poll to wait for).
        #expect(running.router.updates.count == 2)
        #expect(running.router.updates.last?.first?.priority == 150)
        #expect(running.router.calls.last == .setPriority(150, of: "web"))
        try await running.stop()
    }

    @Test func aBadSiteChangesNothing() async throws {
        let gateway = try await TestServer.start()
        let taken = try await TestServer.start()
        defer {
            Task {
                await gateway.kill()
                await taken.kill()
            }
        }
        let port = try freePort()
        let running = try await Self.start(try Self.site(port: port, gateway: gateway.port))
        #expect(await eventually { running.router.updates.count == 1 })
        let before = await running.device.balancer.status()
        let calls = running.router.calls

        // Invalid: the validator's issue, naming the field.
        var invalid = try Self.site(version: 2, port: port, gateway: gateway.port, priority: 150)
        invalid.virtualServers[0].payloads[0].port = 70000
        await #expect(throws: ConfigurationError.self) { try await running.device.apply(invalid) }
        // Valid, but not for this device.
        var foreign = try Self.site(version: 2, port: port, gateway: gateway.port, priority: 150)
        foreign.virtualServers[0].devices.removeAll { $0.name == "lb1" }
        await #expect(throws: DeviceConfigProblem.self) { try await running.device.apply(foreign) }
        // Valid, but its new listener cannot bind: the balancer keeps everything, failover is not told.
        let unbindable = try Self.site(
            version: 2,
            port: port,
            gateway: gateway.port,
            priority: 150,
            sslPort: taken.port
        )
        await #expect(throws: (any Error).self) { try await running.device.apply(unbindable) }

        let after = await running.device.balancer.status()
        #expect(after.configuration.version == before.configuration.version)
        #expect(after.configuration.generation == before.configuration.generation)
        #expect(after.listeners.map(\.address) == before.listeners.map(\.address))
        #expect(running.router.calls == calls)
        #expect(await running.device.site?.version == 1)
        #expect(try await echoRoundTrip(port: port) == "ping")
        try await running.stop()
    }

    @Test func aGatewayGoingDownLowersThePriorityAndComingBackRestoresIt() async throws {
        let gatewayPort = try freePort()
        var gateway = try await TestServer.start(port: gatewayPort)
        let port = try freePort()
        let running = try await Self.start(try Self.site(port: port, gateway: gatewayPort))
        #expect(await eventually { running.router.calls.contains(.setPriority(200, of: "web")) })

        await gateway.kill()
        #expect(await eventually { running.router.priorities.last == 1 })
        gateway = try await TestServer.start(port: gatewayPort)
        #expect(await eventually { running.router.priorities.last == 200 })
        await gateway.kill()
        try await running.stop()
    }

    @Test func aFileChangeIsAppliedThroughTheSameApply() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let port = try freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-device-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("site.yaml")
        let first = try Self.site(port: port, gateway: gateway.port)
        try SiteWriter.yaml(first).write(to: file, atomically: true, encoding: .utf8)
        let running = try await Self.start(first, source: .file(file.path))
        #expect(await eventually { running.router.updates.count == 1 })

        // A bad file: nothing changes.
        try "site: lab\nversion: [".write(to: file, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .seconds(1.5))
        #expect(await running.device.site?.version == 1)
        #expect(running.router.updates.count == 1)

        let second = try Self.site(version: 2, port: port, gateway: gateway.port, priority: 150)
        try SiteWriter.yaml(second).write(to: file, atomically: true, encoding: .utf8)
        #expect(await eventually { await running.device.site?.version == 2 })
        #expect(running.router.updates.last?.first?.priority == 150)
        try await running.stop()
    }

    /// A site file is often a link (to a versioned file, or a configuration management's): a change to its target
    /// in another directory counts, as does swapping the link.
    @Test func aChangeBehindALinkIsAppliedToo() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let port = try freePort()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("halb-link-\(UUID())")
        let targets = root.appendingPathComponent("versions")
        let links = root.appendingPathComponent("etc")
        try FileManager.default.createDirectory(at: targets, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: links, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let target = targets.appendingPathComponent("site-1.yaml")
        let link = links.appendingPathComponent("site.yaml")
        let first = try Self.site(port: port, gateway: gateway.port)
        try SiteWriter.yaml(first).write(to: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let running = try await Self.start(first, source: .file(link.path))
        #expect(await eventually { running.router.updates.count == 1 })

        // Written in place, behind the link.
        let second = try Self.site(version: 2, port: port, gateway: gateway.port, priority: 150)
        try SiteWriter.yaml(second).write(to: target, atomically: false, encoding: .utf8)
        #expect(await eventually { await running.device.site?.version == 2 })
        // The link swapped to a new file in the same directory.
        let third = try Self.site(version: 3, port: port, gateway: gateway.port, priority: 120)
        let newTarget = targets.appendingPathComponent("site-3.yaml")
        try SiteWriter.yaml(third).write(to: newTarget, atomically: false, encoding: .utf8)
        let swap = links.appendingPathComponent("site.yaml.new")
        try FileManager.default.createSymbolicLink(at: swap, withDestinationURL: newTarget)
        #expect(rename(swap.path, link.path) == 0)
        #expect(await eventually { await running.device.site?.version == 3 })
        #expect(running.router.updates.last?.first?.priority == 120)
        try await running.stop()
    }

    /// The file changed between the device reading it and the watch beginning: that change is not lost.
    @Test func aChangeBeforeTheWatchBeganIsApplied() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let port = try freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-early-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("site.yaml")
        let second = try Self.site(version: 2, port: port, gateway: gateway.port, priority: 150)
        try SiteWriter.yaml(second).write(to: file, atomically: true, encoding: .utf8)
        let running = try await Self.start(try Self.site(port: port, gateway: gateway.port), source: .file(file.path))
        #expect(await eventually { await running.device.site?.version == 2 })
        try await running.stop()
    }
}
