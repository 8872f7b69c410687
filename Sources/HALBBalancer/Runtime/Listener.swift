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

/// One listening socket, accepted on by the relay loops, and the route new connections take.
final class Listener: Sendable {
    private let socket: RelayListener
    private let engine: RelayEngine

    private init(socket: RelayListener, engine: RelayEngine) {
        self.socket = socket
        self.engine = engine
    }

    var route: Route {
        get { self.socket.route }
        set { self.socket.route = newValue }
    }

    var boundAddress: SocketAddress? { self.socket.boundAddress }

    /// Free bind lets a secondary device listen on a VIP it does not hold yet, so failover needs no bind.
    static func freeBind(host: String) -> ChannelOptions.Types.SocketOption {
        host.contains(":")
            ? .init(level: .init(rawValue: Int32(IPPROTO_IPV6)), name: .init(rawValue: 78))  // IPV6_FREEBIND
            : .ipOption(.init(rawValue: IP_FREEBIND))
    }

    func close() async throws {
        await self.engine.remove(self.socket)
    }

    static func bind(
        configuration: ListenerConfiguration,
        route: Route,
        engine: RelayEngine,
        sharedPort: Bool = false
    ) throws -> Listener {
        let socket = try RelayListener.bind(
            host: configuration.host,
            port: configuration.port,
            route: route,
            sharedPort: sharedPort
        )
        engine.add(socket)
        return Listener(socket: socket, engine: engine)
    }

    /// Gives an accepted connection whose route HALB's relay does not serve to SwiftNIO: TLS offload, routing by
    /// server name, gateways given by host name (or every route with `--data-path nio`).
    static func handOff(_ fd: Int32, route: Route, group: any EventLoopGroup, connections: ConnectionRegistry) {
        ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    var session: TLSSessionInfo?
                    if let tls = route.tls {
                        // For a PROXY v2 header, the server name is read from the ClientHello on its way to TLS,
                        // and the cipher suite from the ServerHello on its way out.
                        if route.configuration.proxyProtocol == .v2 {
                            let info = TLSSessionInfo()
                            try channel.pipeline.syncOperations.addHandler(ClientHelloSniffer(info: info))
                            try channel.pipeline.syncOperations.addHandler(ServerHelloSniffer(info: info))
                            session = info
                        }
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    try channel.pipeline.syncOperations.addHandler(ProxyFrontendHandler(route: route, session: session))
                }
            }
            .withConnectedSocket(fd)
            .whenFailure { error in
                guard let suppressed = route.handOverFailureLog.admit() else { return }
                route.logger.warning(
                    "Cannot serve an accepted connection",
                    metadata: ["error": "\(error)", "log.suppressed": "\(suppressed)"]
                )
            }
    }
}
