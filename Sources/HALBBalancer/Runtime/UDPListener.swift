import Atomics
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One UDP port of a virtual server's RDP-UDP payload (`udp`): the gateways and settings its flows use.
public struct UDPListenerConfiguration: Sendable, Equatable {
    /// The VIP address to bind.
    public var host: String
    /// The UDP port to bind; 0 lets the system choose (tests).
    public var port: Int
    /// The virtual server.
    public var virtualServer: String
    /// The gateways: `port` is where datagrams go (the gateway's `ports.udp`, or the VIP port); the health of
    /// each is that of its TCP port `healthPorts[name]`.
    public var members: [MemberConfiguration]
    /// The TCP port whose health check stands for each member's health, by member name.
    public var healthPorts: [String: Int]
    public var balancing: BalancingAlgorithm
    public var idleTimeout: HALBDuration
    public var maxFlows: Int
    public var healthCheck: HealthCheck
    public var persistence: Persistence

    public init(
        host: String,
        port: Int,
        virtualServer: String,
        members: [MemberConfiguration],
        healthPorts: [String: Int] = [:],
        balancing: BalancingAlgorithm = .leastconn,
        idleTimeout: HALBDuration = .minutes(2),
        maxFlows: Int = 100_000,
        healthCheck: HealthCheck = HealthCheck(),
        persistence: Persistence = Persistence()
    ) {
        self.host = host
        self.port = port
        self.virtualServer = virtualServer
        self.members = members
        self.healthPorts = healthPorts
        self.balancing = balancing
        self.idleTimeout = idleTimeout
        self.maxFlows = maxFlows
        self.healthCheck = healthCheck
        self.persistence = persistence
    }

    /// UDP listeners with equal keys are the same socket across a reload.
    public var key: String {
        "udp " + (self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)")
    }
}

/// What a UDP listener's flows use: settings, gateways and the virtual server's counters. A reload swaps it; a flow
/// keeps the gateway it started with.
final class UDPRoute: Sendable {
    let configuration: UDPListenerConfiguration
    let pool: GatewayPool
    /// Where each member of `pool` takes datagrams (resolved when the configuration was applied); `nil`: its host
    /// name did not resolve, and it takes no flows.
    let gatewayAddresses: [SocketAddress?]
    let virtualServer: VirtualServerRuntime
    let logger: Logger

    init(
        configuration: UDPListenerConfiguration,
        pool: GatewayPool,
        gatewayAddresses: [SocketAddress?],
        virtualServer: VirtualServerRuntime,
        logger: Logger
    ) {
        self.configuration = configuration
        self.pool = pool
        self.gatewayAddresses = gatewayAddresses
        self.virtualServer = virtualServer
        var logger = logger
        logger[metadataKey: "vs.name"] = "\(configuration.virtualServer)"
        logger[metadataKey: "vs.payload"] = "udp"
        self.logger = logger
    }
}

/// A bound UDP port of the `udp` payload and its flow table.
final class UDPListener: Sendable {
    private let channel: any Channel
    private let routeBox: NIOLockedValueBox<UDPRoute>

    private init(channel: any Channel, routeBox: NIOLockedValueBox<UDPRoute>) {
        self.channel = channel
        self.routeBox = routeBox
    }

    var route: UDPRoute {
        get { self.routeBox.withLockedValue { $0 } }
        set { self.routeBox.withLockedValue { $0 = newValue } }
    }

    var boundAddress: SocketAddress? { self.channel.localAddress }

    /// Closes the port and every flow.
    func close() async {
        try? await self.channel.close()
    }

    static func bind(
        configuration: UDPListenerConfiguration,
        route: UDPRoute,
        group: any EventLoopGroup
    ) async throws -> UDPListener {
        let routeBox = NIOLockedValueBox(route)
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(Listener.freeBind(host: configuration.host), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPFlowHandler(routeBox: routeBox))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return UDPListener(channel: channel, routeBox: routeBox)
    }
}

/// One client's flow (its address and port) to one gateway, on the listener's event loop only.
private final class UDPFlow {
    let member: GatewayPool.Member
    let gateway: SocketAddress
    let virtualServer: VirtualServerRuntime
    var upstream: (any Channel)?
    var pending: [ByteBuffer] = []
    var lastSeen: NIODeadline
    var closed = false

    init(member: GatewayPool.Member, gateway: SocketAddress, virtualServer: VirtualServerRuntime, now: NIODeadline) {
        self.member = member
        self.gateway = gateway
        self.virtualServer = virtualServer
        self.lastSeen = now
    }

    /// Whether its gateway may still carry it (not down, not draining).
    var isUsable: Bool {
        !self.member.configuration.drain && self.member.target.available.load(ordering: .relaxed)
    }

    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.upstream?.close(promise: nil)
        self.member.release()
        self.virtualServer.udpFlowEnded()
    }
}

/// Relays datagrams per flow: a client's first datagram picks a gateway (the payload's algorithm, persistence) and
/// opens a UDP socket toward it; later datagrams of the flow follow, and the gateway's answers go back to the client
/// from the VIP port. A flow ends after `idleTimeout` without datagrams either way, or when its gateway goes down or
/// drains (the client's next datagram then starts a flow to another gateway).
private final class UDPFlowHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let routeBox: NIOLockedValueBox<UDPRoute>
    private var flows: [SocketAddress: UDPFlow] = [:]
    private var sweep: RepeatedTask?
    /// Datagrams held per flow while its gateway socket opens.
    private static let maximumPending = 16

    init(routeBox: NIOLockedValueBox<UDPRoute>) {
        self.routeBox = routeBox
    }

    func channelActive(context: ChannelHandlerContext) {
        let idle = self.routeBox.withLockedValue { $0.configuration.idleTimeout.milliseconds }
        let period = TimeAmount.milliseconds(max(50, min(1000, idle / 4)))
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            loopBound.value.removeIdleAndStrandedFlows()
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.sweep?.cancel()
        for flow in self.flows.values { flow.close() }
        self.flows = [:]
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let now = NIODeadline.now()
        if let flow = self.flows[client] {
            if flow.isUsable {
                flow.lastSeen = now
                self.send(envelope.data, on: flow)
                return
            }
            flow.close()
            self.flows[client] = nil
        }
        let route = self.routeBox.withLockedValue { $0 }
        guard self.flows.count < route.configuration.maxFlows else {
            route.virtualServer.udpFlowRejected()
            return
        }
        let persistence = route.configuration.persistence
        guard
            let index = route.virtualServer.persistedMember(of: client, in: route.pool, settings: persistence)
                ?? route.pool.pick(client: client),
            let gateway = route.gatewayAddresses[index]
        else {
            route.virtualServer.udpFlowRejected()
            return
        }
        let member = route.pool.members[index]
        member.reserve()
        route.virtualServer.udpFlowStarted()
        route.virtualServer.persist(client, member: member, settings: persistence)
        let flow = UDPFlow(member: member, gateway: gateway, virtualServer: route.virtualServer, now: now)
        flow.pending.append(envelope.data)
        self.flows[client] = flow

        let listener = context.channel
        let loopBound = NIOLoopBound(flow, eventLoop: context.eventLoop)
        DatagramBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPUpstreamHandler(flow: loopBound.value, listener: listener, client: client)
                    )
                }
            }
            .bind(host: gateway.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            .whenComplete { result in
                let flow = loopBound.value
                switch result {
                case .success(let upstream):
                    guard !flow.closed else {
                        upstream.close(promise: nil)
                        return
                    }
                    flow.upstream = upstream
                    for datagram in flow.pending {
                        upstream.write(AddressedEnvelope(remoteAddress: flow.gateway, data: datagram), promise: nil)
                    }
                    flow.pending = []
                    upstream.flush()
                case .failure(let error):
                    route.logger.debug("Cannot open a UDP socket toward the gateway", metadata: ["error": "\(error)"])
                    flow.close()
                }
            }
    }

    private func send(_ datagram: ByteBuffer, on flow: UDPFlow) {
        if let upstream = flow.upstream {
            upstream.writeAndFlush(AddressedEnvelope(remoteAddress: flow.gateway, data: datagram), promise: nil)
        } else if flow.pending.count < Self.maximumPending {
            flow.pending.append(datagram)
        }
    }

    private func removeIdleAndStrandedFlows() {
        let idle = TimeAmount.milliseconds(self.routeBox.withLockedValue { $0.configuration.idleTimeout.milliseconds })
        let now = NIODeadline.now()
        for (client, flow) in self.flows where flow.closed || now - flow.lastSeen >= idle || !flow.isUsable {
            flow.close()
            self.flows[client] = nil
        }
    }
}

/// The gateway side of a flow: the gateway's datagrams go back to the client, from the VIP port.
private final class UDPUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let flow: UDPFlow
    private let listener: any Channel
    private let client: SocketAddress

    init(flow: UDPFlow, listener: any Channel, client: SocketAddress) {
        self.flow = flow
        self.listener = listener
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        // Only the gateway's own datagrams are relayed.
        guard envelope.remoteAddress == self.flow.gateway, !self.flow.closed else { return }
        self.flow.lastSeen = .now()
        self.listener.writeAndFlush(AddressedEnvelope(remoteAddress: self.client, data: envelope.data), promise: nil)
    }
}

@available(*, unavailable)
extension UDPFlowHandler: Sendable {}

@available(*, unavailable)
extension UDPUpstreamHandler: Sendable {}
