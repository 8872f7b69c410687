import Atomics
import CoreMetrics
import HALBCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// The running state of one gateway port under one health check: health, connection counts and byte counters.
///
/// Shared by every route (virtual server payload) that uses the same gateway, port and health check, and by every
/// event loop: all mutable state is atomic or behind a lock.
final class GatewayTarget: Sendable {
    /// Identity across reloads: same gateway, address, port and check means the same target and the same health.
    struct Key: Hashable, Sendable {
        var name: String
        var address: String
        var port: Int
        var healthCheck: HealthCheck
    }

    struct Health: Sendable {
        var state: HealthStateMachine.State = .unknown
        var reason = "no check has finished yet"
        var lastCheck: String = ""
    }

    let key: Key
    /// The address to connect to when the gateway's address is an IP literal; otherwise it is resolved per connect.
    let socketAddress: SocketAddress?
    let available = ManagedAtomic<Bool>(true)
    let active = ManagedAtomic<Int>(0)
    let total = ManagedAtomic<Int>(0)
    let connectFailures = ManagedAtomic<Int>(0)
    let bytesToGateway = ManagedAtomic<Int>(0)
    let bytesFromGateway = ManagedAtomic<Int>(0)
    let health = NIOLockedValueBox(Health())

    let metricUp: Gauge
    let metricActive: Meter
    let metricTotal: Counter
    let metricConnectFailures: Counter
    let metricBytesToGateway: Counter
    let metricBytesFromGateway: Counter

    init(key: Key) {
        self.key = key
        self.socketAddress = try? SocketAddress(ipAddress: key.address, port: key.port)
        let dimensions = [("gateway", key.name), ("address", "\(key.address):\(key.port)")]
        self.metricUp = Gauge(label: "halb_gateway_up", dimensions: dimensions)
        self.metricActive = Meter(label: "halb_gateway_connections_active", dimensions: dimensions)
        self.metricTotal = Counter(label: "halb_gateway_connections_total", dimensions: dimensions)
        self.metricConnectFailures = Counter(label: "halb_gateway_connect_failures_total", dimensions: dimensions)
        self.metricBytesToGateway = Counter(label: "halb_gateway_bytes_sent_total", dimensions: dimensions)
        self.metricBytesFromGateway = Counter(label: "halb_gateway_bytes_received_total", dimensions: dimensions)
    }

    /// Publishes the health gauge once the target is part of the running configuration: unknown counts as up.
    func enterService() {
        self.metricUp.record(self.available.load(ordering: .relaxed) ? 1 : 0)
    }

    /// Records a health change decided by the health checker.
    func setHealth(_ state: HealthStateMachine.State, reason: String) {
        self.health.withLockedValue {
            $0.state = state
            $0.reason = reason
        }
        self.available.store(state != .down, ordering: .relaxed)
        self.metricUp.record(state == .down ? 0 : 1)
    }

    /// A connection to this gateway is being made or is open. Counted from the pick, so that connects in flight
    /// weigh on `leastconn` and the per-gateway limit.
    func reserve() {
        self.active.wrappingIncrement(ordering: .relaxed)
        self.metricActive.increment()
    }

    /// Ends a ``reserve()``: the connect failed or the connection closed.
    func release() {
        self.active.wrappingDecrement(ordering: .relaxed)
        self.metricActive.decrement()
    }

    /// A connect succeeded.
    func connected() {
        self.total.wrappingIncrement(ordering: .relaxed)
        self.metricTotal.increment()
    }

    func connectFailed() {
        self.connectFailures.wrappingIncrement(ordering: .relaxed)
        self.metricConnectFailures.increment()
    }

    func countBytes(toGateway: Int, fromGateway: Int) {
        if toGateway > 0 {
            self.bytesToGateway.wrappingIncrement(by: toGateway, ordering: .relaxed)
            self.metricBytesToGateway.increment(by: toGateway)
        }
        if fromGateway > 0 {
            self.bytesFromGateway.wrappingIncrement(by: fromGateway, ordering: .relaxed)
            self.metricBytesFromGateway.increment(by: fromGateway)
        }
    }
}

/// The running state of one virtual server shared by its listeners: the connection limit and counters.
final class VirtualServerRuntime: Sendable {
    let name: String
    let maxConnections: ManagedAtomic<Int>
    /// The gateway of each recent client (`persistence: sourceIP`), shared by the virtual server's payloads and kept
    /// across reloads.
    let persistence = NIOLockedValueBox(PersistenceTable())

    /// With `persistence: sourceIP`, the member of `pool` that `client` had, if it may take a new connection or flow.
    func persistedMember(of client: SocketAddress?, in pool: GatewayPool, settings: Persistence) -> Int? {
        guard settings.type == .sourceIP, let key = client?.ipBytes else { return nil }
        let now = Self.milliseconds()
        let name = self.persistence.withLockedValue {
            $0.gateway(of: key, now: now, timeout: settings.timeout.milliseconds)
        }
        return name.flatMap { pool.eligibleMember(named: $0) }
    }

    /// With `persistence: sourceIP`, remembers that `client` went to `member`.
    func persist(_ client: SocketAddress?, member: GatewayPool.Member, settings: Persistence) {
        guard settings.type == .sourceIP, let key = client?.ipBytes else { return }
        let now = Self.milliseconds()
        self.persistence.withLockedValue {
            $0.record(key, gateway: member.configuration.name, now: now, timeout: settings.timeout.milliseconds)
        }
    }

    private static func milliseconds() -> Int64 {
        Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds / 1_000_000)
    }
    let active = ManagedAtomic<Int>(0)
    let accepted = ManagedAtomic<Int>(0)
    let rejected = ManagedAtomic<Int>(0)
    let failed = ManagedAtomic<Int>(0)

    let metricAccepted: Counter
    let metricActive: Meter
    let metricRejected: Counter
    let metricFailed: Counter
    let metricBytesIn: Counter
    let metricBytesOut: Counter
    let metricUDPFlowsActive: Meter
    let metricUDPFlowsRejected: Counter

    init(name: String, maxConnections: Int) {
        self.name = name
        self.maxConnections = ManagedAtomic(maxConnections)
        let dimensions = [("virtual_server", name)]
        self.metricAccepted = Counter(label: "halb_connections_accepted_total", dimensions: dimensions)
        self.metricActive = Meter(label: "halb_connections_active", dimensions: dimensions)
        self.metricRejected = Counter(label: "halb_connections_rejected_total", dimensions: dimensions)
        self.metricFailed = Counter(label: "halb_connections_failed_total", dimensions: dimensions)
        self.metricBytesIn = Counter(label: "halb_bytes_received_total", dimensions: dimensions)
        self.metricBytesOut = Counter(label: "halb_bytes_sent_total", dimensions: dimensions)
        self.metricUDPFlowsActive = Meter(label: "halb_udp_flows_active", dimensions: dimensions)
        self.metricUDPFlowsRejected = Counter(label: "halb_udp_flows_rejected_total", dimensions: dimensions)
    }

    /// Takes a connection slot; `false` when the virtual server is at its limit.
    func acquire() -> Bool {
        let now = self.active.loadThenWrappingIncrement(ordering: .relaxed)
        if now >= self.maxConnections.load(ordering: .relaxed) {
            self.active.wrappingDecrement(ordering: .relaxed)
            self.rejected.wrappingIncrement(ordering: .relaxed)
            self.metricRejected.increment()
            return false
        }
        self.accepted.wrappingIncrement(ordering: .relaxed)
        self.metricAccepted.increment()
        self.metricActive.increment()
        return true
    }

    func release() {
        self.active.wrappingDecrement(ordering: .relaxed)
        self.metricActive.decrement()
    }

    func connectionFailed() {
        self.failed.wrappingIncrement(ordering: .relaxed)
        self.metricFailed.increment()
    }

    /// TLS offload: client connections closed because their handshake failed or timed out.
    let failedHandshakes = ManagedAtomic<Int>(0)

    func handshakeFailed(_ reason: String) {
        self.failedHandshakes.wrappingIncrement(ordering: .relaxed)
        Counter(label: "halb_tls_handshakes_failed_total", dimensions: [("virtual_server", self.name)]).increment()
    }

    /// RDP-UDP: flows open now, and new flows refused (flow table full, or no usable gateway).
    let udpFlows = ManagedAtomic<Int>(0)
    let udpFlowsRejected = ManagedAtomic<Int>(0)

    func udpFlowStarted() {
        self.udpFlows.wrappingIncrement(ordering: .relaxed)
        self.metricUDPFlowsActive.increment()
    }

    func udpFlowEnded() {
        self.udpFlows.wrappingDecrement(ordering: .relaxed)
        self.metricUDPFlowsActive.decrement()
    }

    func udpFlowRejected() {
        self.udpFlowsRejected.wrappingIncrement(ordering: .relaxed)
        self.metricUDPFlowsRejected.increment()
    }

    /// Re-encryption: TLS handshakes with a gateway that failed (its certificate was not trusted, say).
    let failedGatewayHandshakes = ManagedAtomic<Int>(0)

    func gatewayHandshakeFailed(gateway: String) {
        self.failedGatewayHandshakes.wrappingIncrement(ordering: .relaxed)
        Counter(
            label: "halb_tls_gateway_handshakes_failed_total",
            dimensions: [("virtual_server", self.name), ("gateway", gateway)]
        ).increment()
    }

    /// Connections closed because their TLS ClientHello could not be routed (SNI routing).
    let rejectedClientHellos = ManagedAtomic<Int>(0)

    func clientHelloRejected(_ reason: ClientHello.Rejection) {
        self.rejectedClientHellos.wrappingIncrement(ordering: .relaxed)
        Counter(
            label: "halb_tls_client_hello_rejected_total",
            dimensions: [("virtual_server", self.name), ("reason", reason.rawValue)]
        )
        .increment()
    }
}
