import Atomics
import CoreMetrics
import Foundation
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// A device's data plane: listeners on VIP:port, the gateway pools behind them and their health checks.
///
/// ``apply(_:)`` reconciles the running state to a ``BalancerConfiguration`` without dropping connections: listeners
/// whose address stays are kept and get the new routes, new ones are bound, removed ones are closed; connections in
/// flight keep the route they started with, so removed gateways drain. Either the whole configuration is applied or,
/// when a listener cannot be bound, nothing changes.
public actor Balancer {
    private let group: any EventLoopGroup
    private let logger: Logger
    private var listeners: [String: Listener] = [:]
    private var targets: [GatewayTarget.Key: GatewayTarget] = [:]
    private var checkers: [GatewayTarget.Key: HealthChecker] = [:]
    private var virtualServers: [String: VirtualServerRuntime] = [:]
    /// Connections per payload and gateway, shared by a payload's IPv4 and IPv6 listeners and kept across reloads,
    /// for `maxConnectionsPerGateway`.
    private var payloadGatewayCounters: [String: ManagedAtomic<Int>] = [:]
    private var configuration: BalancerConfiguration?
    /// Every listener's route, bound or not.
    private var routes: [String: Route] = [:]
    /// The bound UDP ports of `udp` payloads, and every UDP port's route, bound or not.
    private var udpListeners: [String: UDPListener] = [:]
    private var udpRoutes: [String: UDPRoute] = [:]
    private var generation = 0
    private var appliedAt = Date()
    private var isShutDown = false
    /// `apply` suspends while binding; later calls wait here so that applies never interleave.
    private let applying = SerialGate()
    private let connections = ConnectionRegistry()
    private let dataPath: DataPath
    private let relayThreads: Int
    /// Started with the first listener.
    private var relay: RelayEngine?
    /// Called on an event loop whenever a gateway's health changes (failover tracks whether a virtual server can
    /// be served).
    private let onHealthChange: @Sendable () -> Void

    /// Creates a balancer that runs on `group`.
    ///
    /// - Parameters:
    ///   - group: the event loops for TLS, UDP, health checks and every connection SwiftNIO serves.
    ///   - logger: where connection and health events are logged.
    ///   - dataPath: which code relays plain TCP connections.
    ///   - relayThreads: threads of HALB's own relay; by default one per event loop of `group`.
    ///   - onHealthChange: called on an event loop whenever a gateway's health changes (it must not block); then
    ///     ``servableVirtualServers()`` and ``firstChecksFinished()`` may answer differently.
    public init(
        group: any EventLoopGroup,
        logger: Logger,
        dataPath: DataPath = .native,
        relayThreads: Int? = nil,
        onHealthChange: @escaping @Sendable () -> Void = {}
    ) {
        self.group = group
        self.logger = logger
        self.dataPath = dataPath
        self.relayThreads = relayThreads ?? Array(group.makeIterator()).count
        self.onHealthChange = onHealthChange
    }

    /// The relay loops that accept on every listener, started on first use.
    private func relayEngine() throws -> RelayEngine {
        if let relay = self.relay { return relay }
        let group = self.group
        let connections = self.connections
        let relay = try RelayEngine(
            threads: self.relayThreads,
            native: self.dataPath == .native,
            logger: self.logger
        ) { fd, route in
            Listener.handOff(fd, route: route, group: group, connections: connections)
        }
        self.relay = relay
        return relay
    }

    /// Applies a configuration: binds new listeners, swaps routes, closes removed listeners, starts and stops
    /// health checks. Concurrent calls run one after the other, in call order.
    ///
    /// - Throws: ``BalancerError`` when a listener cannot be bound or the balancer is shut down; the previous
    ///   configuration keeps running.
    public func apply(_ configuration: BalancerConfiguration) async throws {
        try await self.applying.run { try await self.reconcile(to: configuration) }
    }

    private func reconcile(to configuration: BalancerConfiguration) async throws {
        guard !self.isShutDown else { throw BalancerError.shutDown }

        // 1. Build the new state beside the old one, reusing what is unchanged.
        var targets: [GatewayTarget.Key: GatewayTarget] = [:]
        var virtualServers: [String: VirtualServerRuntime] = [:]
        var routes: [String: Route] = [:]
        var counters: [String: ManagedAtomic<Int>] = [:]
        // Certificates and keys are read on every apply (a reload picks up renewed files); an unusable one fails
        // the whole apply.
        var offloads: [TLSOffloadConfiguration: TLSOffload] = [:]
        for listener in configuration.listeners {
            guard let tls = listener.route.tls, offloads[tls] == nil else { continue }
            do {
                offloads[tls] = try TLSOffload.load(tls)
            } catch {
                throw BalancerError.tls(
                    virtualServer: listener.route.virtualServer,
                    payload: listener.route.payload,
                    error: error
                )
            }
        }
        for listener in configuration.listeners {
            let config = listener.route
            let vs =
                virtualServers[config.virtualServer] ?? self.virtualServers[config.virtualServer]
                ?? VirtualServerRuntime(name: config.virtualServer, maxConnections: config.limits.maxConnections)
            virtualServers[config.virtualServer] = vs
            func pool(of configurations: [MemberConfiguration]) -> GatewayPool {
                let members = configurations.map { member in
                    let key = GatewayTarget.Key(
                        name: member.name,
                        address: member.address,
                        port: member.port,
                        healthCheck: config.healthCheck
                    )
                    let target = targets[key] ?? self.targets[key] ?? GatewayTarget(key: key)
                    targets[key] = target
                    let counterKey =
                        "\(config.virtualServer)/\(config.payload)/\(member.name)/\(member.address):\(member.port)"
                    let counter = counters[counterKey] ?? self.payloadGatewayCounters[counterKey] ?? ManagedAtomic(0)
                    counters[counterKey] = counter
                    return GatewayPool.Member(configuration: member, target: target, active: counter)
                }
                return GatewayPool(
                    members: members,
                    algorithm: config.balancing,
                    perGatewayLimit: config.limits.maxConnectionsPerGateway,
                    persistent: config.persistence.type == .sourceIP
                )
            }
            routes[listener.key] = Route(
                configuration: config,
                pool: pool(of: config.members),
                serverNamePools: config.sni.map { ($0.serverName.lowercased(), pool(of: $0.members)) },
                tls: config.tls.flatMap { offloads[$0] },
                virtualServer: vs,
                logger: self.logger
            )
        }

        var udpRoutes: [String: UDPRoute] = [:]
        var resolvedHosts: [String: SocketAddress?] = [:]
        for udp in configuration.udpListeners {
            let vs =
                virtualServers[udp.virtualServer] ?? self.virtualServers[udp.virtualServer]
                ?? VirtualServerRuntime(name: udp.virtualServer, maxConnections: Limits().maxConnections)
            virtualServers[udp.virtualServer] = vs
            let members = udp.members.map { member in
                // The member's health is its TCP port's (the same target, and check, as the TCP payload's).
                let key = GatewayTarget.Key(
                    name: member.name,
                    address: member.address,
                    port: udp.healthPorts[member.name] ?? member.port,
                    healthCheck: udp.healthCheck
                )
                let target = targets[key] ?? self.targets[key] ?? GatewayTarget(key: key)
                targets[key] = target
                let counterKey = "\(udp.virtualServer)/udp/\(member.name)/\(member.address):\(member.port)"
                let counter = counters[counterKey] ?? self.payloadGatewayCounters[counterKey] ?? ManagedAtomic(0)
                counters[counterKey] = counter
                return GatewayPool.Member(configuration: member, target: target, active: counter)
            }
            let pool = GatewayPool(
                members: members,
                algorithm: udp.balancing,
                perGatewayLimit: 0,
                persistent: udp.persistence.type == .sourceIP
            )
            // A flow needs its gateway's address before its first datagram: host names are resolved now, in the
            // family of the VIP, once per name and port.
            var addresses: [SocketAddress?] = []
            for member in udp.members {
                if let address = try? SocketAddress(ipAddress: member.address, port: member.port) {
                    addresses.append(address)
                    continue
                }
                let ipv6 = udp.host.contains(":")
                let cacheKey = "\(member.address) \(member.port) \(ipv6)"
                let resolved: SocketAddress?
                if let cached = resolvedHosts[cacheKey] {
                    resolved = cached
                } else {
                    resolved = await HostResolver.resolve(member.address, port: member.port, ipv6: ipv6)
                    resolvedHosts[cacheKey] = .some(resolved)
                    if resolved == nil {
                        self.logger.warning(
                            "UDP gateway's host name does not resolve: it takes no flows",
                            metadata: [
                                "gateway.name": "\(member.name)", "gateway.address": "\(member.address)",
                                "family": "\(ipv6 ? "ipv6" : "ipv4")",
                            ]
                        )
                    }
                }
                addresses.append(resolved)
            }
            udpRoutes[udp.key] = UDPRoute(
                configuration: udp,
                pool: pool,
                gatewayAddresses: addresses,
                virtualServer: vs,
                logger: self.logger
            )
        }

        // 2. Bind the new listeners; on any failure (or a shutdown meanwhile) undo those and change nothing.
        let plan = ListenerPlan(
            bound: Set(self.listeners.keys),
            boundUDP: Set(self.udpListeners.keys),
            configuration: configuration
        )
        var opened: [String: Listener] = [:]
        for listener in plan.open {
            do {
                opened[listener.key] = try Listener.bind(
                    configuration: listener,
                    route: routes[listener.key]!,
                    engine: try self.relayEngine(),
                    sharedPort: configuration.sharedPorts
                )
            } catch {
                for listener in opened.values { try? await listener.close() }
                throw BalancerError.cannotListen(address: listener.key, error: error)
            }
        }
        var openedUDP: [String: UDPListener] = [:]
        for udp in plan.openUDP {
            do {
                openedUDP[udp.key] = try await UDPListener.bind(
                    configuration: udp,
                    route: udpRoutes[udp.key]!,
                    group: self.group
                )
            } catch {
                for listener in opened.values { try? await listener.close() }
                for listener in openedUDP.values { await listener.close() }
                throw BalancerError.cannotListen(address: udp.key, error: error)
            }
        }
        if self.isShutDown {
            for listener in opened.values { try? await listener.close() }
            for listener in openedUDP.values { await listener.close() }
            throw BalancerError.shutDown
        }

        // 3. Commit, without suspending; listeners no longer served are closed after.
        for key in plan.keep { self.listeners[key]?.route = routes[key]! }
        let removed = plan.close.sorted().compactMap { key in self.listeners.removeValue(forKey: key).map { (key, $0) }
        }
        for (key, listener) in opened {
            self.listeners[key] = listener
            self.logger.info(
                "Listening",
                metadata: [
                    "listener.address": "\(listener.boundAddress.map(\.hostPort) ?? key)",
                    "vs.name": "\(listener.route.configuration.virtualServer)",
                    "vs.payload": "\(listener.route.configuration.payload)",
                ]
            )
        }
        for key in plan.keepUDP { self.udpListeners[key]?.route = udpRoutes[key]! }
        let removedUDP = plan.closeUDP.sorted().compactMap { self.udpListeners.removeValue(forKey: $0) }
        for (key, listener) in openedUDP {
            self.udpListeners[key] = listener
            self.logger.info(
                "Listening",
                metadata: [
                    "listener.address": "udp \(listener.boundAddress.map(\.hostPort) ?? key)",
                    "vs.name": "\(listener.route.configuration.virtualServer)",
                    "vs.payload": "udp",
                ]
            )
        }
        self.udpRoutes = udpRoutes
        for listener in configuration.listeners {
            virtualServers[listener.route.virtualServer]?.maxConnections.store(
                listener.route.limits.maxConnections,
                ordering: .relaxed
            )
        }
        for (key, checker) in self.checkers where targets[key] == nil {
            checker.stop()
            self.checkers[key] = nil
        }
        for (key, target) in targets where self.checkers[key] == nil {
            target.enterService()
            let checker = HealthChecker(
                target: target,
                eventLoop: self.group.next(),
                logger: self.logger,
                onChange: self.onHealthChange
            )
            self.checkers[key] = checker
            checker.start()
        }
        self.targets = targets
        self.virtualServers = virtualServers
        self.payloadGatewayCounters = counters
        self.configuration = configuration
        self.routes = routes
        self.generation += 1
        for route in routes.values {
            guard let tls = route.tls else { continue }
            Gauge(
                label: "halb_tls_certificate_expiry_timestamp_seconds",
                dimensions: [
                    ("virtual_server", route.configuration.virtualServer),
                    ("payload", route.configuration.payload.rawValue),
                ]
            ).record(tls.notValidAfter.timeIntervalSince1970)
        }
        self.appliedAt = Date()

        for (key, listener) in removed {
            self.logger.info("Listener closed", metadata: ["listener.address": "\(key)"])
            try? await listener.close()
        }
        for listener in removedUDP {
            self.logger.info("Listener closed", metadata: ["listener.address": "\(listener.route.configuration.key)"])
            await listener.close()
        }
    }

    /// For each configured virtual server: whether it can serve now, that is whether one of its payloads (listening or
    /// closed) has a gateway that is not draining and not down. Failover lowers the priority of a device that
    /// cannot.
    public func servableVirtualServers() -> [String: Bool] {
        var result: [String: Bool] = [:]
        for route in self.routes.values {
            let servable = ([route.pool] + route.serverNamePools.map(\.pool)).flatMap(\.members).contains { member in
                !member.configuration.drain && member.target.available.load(ordering: .relaxed)
            }
            result[route.configuration.virtualServer, default: false] =
                result[route.configuration.virtualServer, default: false] || servable
        }
        for route in self.udpRoutes.values {
            let servable = route.pool.members.contains {
                !$0.configuration.drain && $0.target.available.load(ordering: .relaxed)
            }
            result[route.configuration.virtualServer, default: false] =
                result[route.configuration.virtualServer, default: false] || servable
        }
        return result
    }

    /// Whether every gateway's first health check has finished (no gateway is `unknown`).
    public func firstChecksFinished() -> Bool {
        self.targets.values.allSatisfy { $0.health.withLockedValue { $0.state } != .unknown }
    }

    /// Whether ``shutdown(drainTimeout:)`` has begun: the device is draining or stopped.
    public var isDraining: Bool { self.isShutDown }

    /// The address each listener is bound to, keyed by ``ListenerConfiguration/key`` (tests bind port 0).
    public func boundAddresses() -> [String: SocketAddress] {
        self.listeners.compactMapValues(\.boundAddress)
    }

    /// The bound address of each UDP port, by its configured key (`udp HOST:PORT`).
    public func boundUDPAddresses() -> [String: SocketAddress] {
        self.udpListeners.compactMapValues(\.boundAddress)
    }

    /// The number of client connections open now.
    public func activeConnections() -> Int {
        self.connections.count + (self.relay?.openConnections ?? 0)
    }

    /// A snapshot of listeners, virtual servers and gateways.
    public func status() -> BalancerStatus {
        let formatter = ISO8601DateFormatter()
        let listeners = self.listeners.sorted { $0.key < $1.key }.map { key, listener in
            BalancerStatus.ListenerStatus(
                virtualServer: listener.route.configuration.virtualServer,
                payload: listener.route.configuration.payload.rawValue,
                address: listener.boundAddress.map(\.hostPort) ?? key,
                certificate: listener.route.tls.map {
                    .init(subject: $0.subject, notValidAfter: formatter.string(from: $0.notValidAfter))
                }
            )
        }
        let virtualServers = self.virtualServers.values.sorted { $0.name < $1.name }.map { vs in
            BalancerStatus.VirtualServerStatus(
                name: vs.name,
                activeConnections: vs.active.load(ordering: .relaxed),
                maxConnections: vs.maxConnections.load(ordering: .relaxed),
                acceptedConnections: vs.accepted.load(ordering: .relaxed),
                rejectedConnections: vs.rejected.load(ordering: .relaxed),
                failedConnections: vs.failed.load(ordering: .relaxed),
                rejectedClientHellos: vs.rejectedClientHellos.load(ordering: .relaxed),
                failedHandshakes: vs.failedHandshakes.load(ordering: .relaxed),
                failedGatewayHandshakes: vs.failedGatewayHandshakes.load(ordering: .relaxed),
                udpFlows: vs.udpFlows.load(ordering: .relaxed),
                udpFlowsRejected: vs.udpFlowsRejected.load(ordering: .relaxed)
            )
        }
        let gateways = self.targets.values
            .sorted { ($0.key.name, $0.key.port) < ($1.key.name, $1.key.port) }
            .map { target in
                let health = target.health.withLockedValue { $0 }
                return BalancerStatus.GatewayStatus(
                    name: target.key.name,
                    address: SocketAddress.hostPort(target.key.address, target.key.port),
                    health: health.state.rawValue,
                    reason: health.reason,
                    lastCheck: health.lastCheck,
                    activeConnections: target.active.load(ordering: .relaxed),
                    totalConnections: target.total.load(ordering: .relaxed),
                    connectFailures: target.connectFailures.load(ordering: .relaxed),
                    bytesSent: target.bytesToGateway.load(ordering: .relaxed),
                    bytesReceived: target.bytesFromGateway.load(ordering: .relaxed)
                )
            }
        return BalancerStatus(
            configuration: .init(
                site: self.configuration?.siteName ?? "",
                version: self.configuration?.version ?? 0,
                generation: self.generation,
                appliedAt: formatter.string(from: self.appliedAt)
            ),
            listeners: listeners,
            virtualServers: virtualServers,
            gateways: gateways
        )
    }

    /// Stops accepting, lets open connections finish for up to `drainTimeout`, then closes what is left and stops
    /// the health checks.
    ///
    /// - Returns: the number of connections that had to be closed at the deadline.
    @discardableResult
    public func shutdown(drainTimeout: Duration) async -> Int {
        self.isShutDown = true
        for listener in self.listeners.values {
            try? await listener.close()
        }
        self.listeners = [:]
        for listener in self.udpListeners.values { await listener.close() }
        self.udpListeners = [:]
        let open = self.activeConnections()
        if open > 0 {
            self.logger.info(
                "Draining connections",
                metadata: ["connections.open": "\(open)", "drain.timeout": "\(drainTimeout)"]
            )
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: drainTimeout)
        while self.activeConnections() > 0, clock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(50))
            } catch {
                break  // cancelled: close what is left now
            }
        }
        let left = self.connections.closeAll() + (self.relay?.closeAll() ?? 0)
        for checker in self.checkers.values { checker.stop() }
        self.checkers = [:]
        if left > 0 {
            self.logger.info("Closed connections at the drain deadline", metadata: ["connections.closed": "\(left)"])
        }
        return left
    }

}
