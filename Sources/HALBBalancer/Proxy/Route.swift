import Atomics
import CoreMetrics
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Everything an accepted connection needs to reach a gateway: the pool, the settings and the virtual server's
/// counters. Immutable; a reload builds a new one and connections keep the one they started with.
final class Route: Sendable {
    let configuration: RouteConfiguration
    let pool: GatewayPool
    /// The pools of TLS server names (lowercased names, `*.domain` wildcards included), for SNI routing.
    let serverNamePools: [(name: String, pool: GatewayPool)]
    /// TLS offload: the certificate and key the device terminates TLS with.
    let tls: TLSOffload?
    let virtualServer: VirtualServerRuntime
    let logger: Logger

    init(
        configuration: RouteConfiguration,
        pool: GatewayPool,
        serverNamePools: [(name: String, pool: GatewayPool)] = [],
        tls: TLSOffload? = nil,
        virtualServer: VirtualServerRuntime,
        logger: Logger
    ) {
        self.configuration = configuration
        self.pool = pool
        self.serverNamePools = serverNamePools
        self.tls = tls
        self.virtualServer = virtualServer
        var logger = logger
        logger[metadataKey: "vs.name"] = "\(configuration.virtualServer)"
        logger[metadataKey: "vs.payload"] = "\(configuration.payload)"
        self.logger = logger
        self.relaysNatively =
            tls == nil && serverNamePools.isEmpty && pool.members.allSatisfy { $0.target.socketAddress != nil }
        self.needsClientAddress =
            pool.algorithm == .sourcehash || configuration.persistence.type == .sourceIP
            || configuration.proxyProtocol != .off
    }

    /// Whether HALB's own relay (``RelayLoop``) can serve this route: plain TCP to gateways given by IP address.
    /// TLS offload, routing by server name and gateways given by host name go through SwiftNIO.
    let relaysNatively: Bool
    /// Whether a connection needs the client's address: for the source hash, persistence or the PROXY header.
    let needsClientAddress: Bool

    /// Limits "No gateway could take the connection" to one line a second.
    let failureLog = LogLimiter(interval: .seconds(1))
    /// Limits "Cannot serve an accepted connection" (a handed-over socket SwiftNIO could not take) to one a second.
    let handOverFailureLog = LogLimiter(interval: .seconds(1))

    /// The member for a connection's next connect: the one the client had, with `persistence: sourceIP`, on the first
    /// attempt; else the pool's pick among those not tried. `nil` after three attempts or when none can take it.
    func nextMember(in pool: GatewayPool, client: SocketAddress?, tried: [Int]) -> Int? {
        guard tried.count < min(3, pool.members.count) else { return nil }
        let persistence = self.configuration.persistence
        if tried.isEmpty,
            let persisted = self.virtualServer.persistedMember(of: client, in: pool, settings: persistence)
        {
            return persisted
        }
        return pool.pick(client: client, excluding: tried)
    }

    /// Counts a connection that no gateway took, and logs it (at most one line a second per route: an outage must
    /// not flood the log from the event loops).
    func noGatewayTook(
        client: @autoclosure () -> SocketAddress?,
        tried: [Int],
        in pool: GatewayPool,
        lastError: String?
    ) {
        self.virtualServer.connectionFailed()
        guard let alsoFailed = self.failureLog.admit() else { return }
        self.logger.info(
            "No gateway could take the connection",
            metadata: [
                "connections.failed_unlogged": "\(alsoFailed)",
                "client.address": "\(client().map(\.hostPort) ?? "?")",
                "gateways.tried": "\(tried.map { pool.members[$0].configuration.name })",
                "error": "\(lastError ?? "no healthy gateway")",
            ]
        )
    }

    /// Counts a failed connect against `member`'s gateway and logs it.
    func connectFailed(to member: GatewayPool.Member, error: String) {
        member.target.connectFailed()
        self.logger.debug(
            "Gateway connect failed",
            metadata: [
                "gateway.name": "\(member.configuration.name)",
                "gateway.address": "\(SocketAddress.hostPort(member.configuration.address, member.configuration.port))",
                "error": "\(error)",
            ]
        )
    }

    /// Whether connections are routed by the server name of their TLS ClientHello.
    var routesByServerName: Bool { !self.serverNamePools.isEmpty }

    /// The pool for TLS server name `name`: its own, else the longest `*.domain` that it is under, else the default.
    func pool(forServerName name: String?) -> GatewayPool {
        guard let name else { return self.pool }
        if let exact = self.serverNamePools.first(where: { $0.name == name }) { return exact.pool }
        let wildcard = self.serverNamePools
            .filter { $0.name.hasPrefix("*.") && name.hasSuffix($0.name.dropFirst()) && name.count > $0.name.count - 1 }
            .max { $0.name.count < $1.name.count }
        return wildcard?.pool ?? self.pool
    }
}
