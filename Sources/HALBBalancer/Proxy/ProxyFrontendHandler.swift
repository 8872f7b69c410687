import Atomics
import CoreMetrics
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Everything an accepted connection needs to reach a gateway: the pool, the settings and the virtual server's
/// counters. Immutable; a reload builds a new one and connections keep the one they started with.
final class Route: Sendable {
    let configuration: RouteConfiguration
    let pool: GatewayPool
    let virtualServer: VirtualServerRuntime
    let logger: Logger

    init(configuration: RouteConfiguration, pool: GatewayPool, virtualServer: VirtualServerRuntime, logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.virtualServer = virtualServer
        var logger = logger
        logger[metadataKey: "vs.name"] = "\(configuration.virtualServer)"
        logger[metadataKey: "vs.payload"] = "\(configuration.payload)"
        self.logger = logger
    }

    /// Limits "No gateway could take the connection" to one line a second.
    let failureLog = LogLimiter(interval: .seconds(1))

    /// How many gateways one connection may try before giving up.
    var maxAttempts: Int { min(3, self.pool.members.count) }
}

/// The first handler of an accepted client connection: applies the connection limit, picks a gateway, connects to
/// it (trying another one when a connect fails), writes the PROXY header, then hands over to a pair of
/// ``GlueHandler``s and removes itself.
///
/// The client channel is created with auto-read off, so no client byte is read before the gateway is connected.
final class ProxyFrontendHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let route: Route
    private var tried: [Int] = []
    private var released = false
    /// The gateway channel being connected; closed when the client leaves first.
    private var connecting: (any Channel)?

    init(route: Route) {
        self.route = route
    }

    func channelActive(context: ChannelHandlerContext) {
        let virtualServer = self.route.virtualServer
        guard virtualServer.acquire() else {
            self.route.logger.debug(
                "Connection refused: limit reached",
                metadata: ["vs.max_connections": "\(self.route.configuration.limits.maxConnections)"]
            )
            context.close(promise: nil)
            return
        }
        context.channel.closeFuture.whenComplete { _ in virtualServer.release() }
        self.connectNext(context: context, lastError: nil)
        context.fireChannelActive()
    }

    private func connectNext(context: ChannelHandlerContext, lastError: (any Error)?) {
        guard context.channel.isActive else { return }
        let client = context.channel.remoteAddress
        guard self.tried.count < self.route.maxAttempts,
            let index = self.persistentMember(client: client) ?? self.route.pool.pick(client: client, excluding: self.tried)
        else {
            self.route.virtualServer.connectionFailed()
            // At most one line a second per route: an outage must not flood the log from the event loops.
            guard let alsoFailed = self.route.failureLog.admit() else {
                context.close(promise: nil)
                return
            }
            self.route.logger.info(
                "No gateway could take the connection",
                metadata: [
                    "connections.failed_unlogged": "\(alsoFailed)",
                    "client.address": "\(client.map(String.init(describing:)) ?? "?")",
                    "gateways.tried": "\(self.tried.map { self.route.pool.members[$0].configuration.name })",
                    "error": "\(lastError.map(String.init(describing:)) ?? "no healthy gateway")",
                ]
            )
            context.close(promise: nil)
            return
        }
        self.tried.append(index)
        let member = self.route.pool.members[index]
        member.reserve()
        let timeouts = self.route.configuration.timeouts
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.milliseconds(timeouts.connect.milliseconds))
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                loopBound.value.0.connecting = channel
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(allTimeout: .milliseconds(timeouts.gatewayIdle.milliseconds))
                    )
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let address = member.target.socketAddress {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: member.configuration.address, port: member.configuration.port)
        }
        connected.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let gateway):
                handler.connecting = nil
                handler.glue(context: context, gateway: gateway, member: member)
            case .failure(let error):
                handler.connecting = nil
                member.release()
                // A connect dropped because the client left is not the gateway's failure.
                guard context.channel.isActive else { return }
                member.target.connectFailed()
                handler.route.logger.debug(
                    "Gateway connect failed",
                    metadata: [
                        "gateway.name": "\(member.configuration.name)",
                        "gateway.address": "\(member.configuration.address):\(member.configuration.port)",
                        "error": "\(error)",
                    ]
                )
                handler.connectNext(context: context, lastError: error)
            }
        }
    }

    /// With `persistence: sourceIP`, the gateway the client had, if it can take the connection (first attempt only).
    private func persistentMember(client: SocketAddress?) -> Int? {
        let persistence = self.route.configuration.persistence
        guard persistence.type == .sourceIP, self.tried.isEmpty, let key = client?.ipBytes else { return nil }
        let now = Self.milliseconds()
        let name = self.route.virtualServer.persistence.withLockedValue {
            $0.gateway(of: key, now: now, timeout: persistence.timeout.milliseconds)
        }
        return name.flatMap { self.route.pool.eligibleMember(named: $0) }
    }

    /// Remembers the client's gateway (`persistence: sourceIP`).
    private func persist(client: SocketAddress?, member: GatewayPool.Member) {
        let persistence = self.route.configuration.persistence
        guard persistence.type == .sourceIP, let key = client?.ipBytes else { return }
        let now = Self.milliseconds()
        self.route.virtualServer.persistence.withLockedValue {
            $0.record(key, gateway: member.configuration.name, now: now, timeout: persistence.timeout.milliseconds)
        }
    }

    private static func milliseconds() -> Int64 {
        Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds / 1_000_000)
    }

    private func glue(context: ChannelHandlerContext, gateway: any Channel, member: GatewayPool.Member) {
        let target = member.target
        target.connected()
        self.persist(client: context.channel.remoteAddress, member: member)
        gateway.closeFuture.whenComplete { _ in member.release() }
        guard context.channel.isActive else {
            gateway.close(promise: nil)
            return
        }
        let proxyProtocol = self.route.configuration.proxyProtocol
        if proxyProtocol != .off {
            var header = gateway.allocator.buffer(capacity: 108)
            ProxyHeader.write(
                proxyProtocol,
                source: context.channel.remoteAddress,
                destination: context.channel.localAddress,
                into: &header
            )
            gateway.writeAndFlush(header, promise: nil)  // now: a gateway may be the first to speak
        }
        let virtualServer = self.route.virtualServer
        let (clientGlue, gatewayGlue) = GlueHandler.matchedPair(
            countClientBytes: { bytes in
                virtualServer.metricBytesIn.increment(by: bytes)
                target.countBytes(toGateway: bytes, fromGateway: 0)
            },
            countGatewayBytes: { bytes in
                virtualServer.metricBytesOut.increment(by: bytes)
                target.countBytes(toGateway: 0, fromGateway: bytes)
            }
        )
        do {
            try context.pipeline.syncOperations.addHandler(clientGlue)
            try gateway.pipeline.syncOperations.addHandler(gatewayGlue)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            try context.channel.syncOptions?.setOption(.autoRead, value: true)
            try gateway.syncOptions?.setOption(.autoRead, value: true)
        } catch {
            gateway.close(promise: nil)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client left while a gateway connect was in flight: do not hold that socket until the connect timeout.
        self.connecting?.close(promise: nil)
        self.connecting = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ProxyFrontendHandler: Sendable {}

/// Lets one log line through per `interval` and counts the ones held back, lock-free for the event loops.
final class LogLimiter: Sendable {
    private let interval: Int64
    private let nextAllowed = ManagedAtomic<Int64>(0)
    private let suppressed = ManagedAtomic<Int>(0)

    init(interval: TimeAmount) {
        self.interval = interval.nanoseconds
    }

    /// `nil` when the line must be dropped; otherwise how many were dropped since the last one let through.
    func admit(now: NIODeadline = .now()) -> Int? {
        let now = Int64(truncatingIfNeeded: now.uptimeNanoseconds)
        let next = self.nextAllowed.load(ordering: .relaxed)
        guard now >= next,
            self.nextAllowed.compareExchange(expected: next, desired: now + self.interval, ordering: .relaxed).exchanged
        else {
            self.suppressed.wrappingIncrement(ordering: .relaxed)
            return nil
        }
        return self.suppressed.exchange(0, ordering: .relaxed)
    }
}
