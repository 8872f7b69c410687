import Atomics
import CoreMetrics
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// The first handler of an accepted client connection: applies the connection limit, picks a gateway, connects to
/// it (trying another one when a connect fails), writes the PROXY header, then hands over to a pair of
/// ``GlueHandler``s and removes itself.
///
/// The client channel is created with auto-read off, so no client byte is read before the gateway is connected,
/// except what SNI routing needs (the ClientHello) and what TLS offload needs (the handshake).
final class ProxyFrontendHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let route: Route
    /// The gateways for this connection: the route's, or those of the client's TLS server name.
    private var pool: GatewayPool
    private var tried: [Int] = []
    private var released = false
    /// The gateway channel being connected; closed when the client leaves first.
    private var connecting: (any Channel)?
    /// SNI routing: the client's first bytes, read until its ClientHello is complete; TLS offload: the plaintext
    /// that arrived with the end of the handshake. Either is sent to the gateway first, once it is connected.
    private var clientHello: [UInt8]?
    private var clientHelloTimeout: Scheduled<Void>?
    /// The ClientHello was read and the gateway chosen.
    private var routed = false
    private var clientHelloReads = 0

    /// TLS offload with a PROXY v2 header: the client's server name, read from its ClientHello, and the cipher.
    private let session: TLSSessionInfo?
    /// TLS offload: the application protocol the client chose with ALPN.
    private var negotiatedProtocol: String?

    init(route: Route, session: TLSSessionInfo? = nil) {
        self.route = route
        self.pool = route.pool
        self.session = session
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
        if self.route.tls != nil {
            // TLS offload: complete the handshake (within the timeout) before a gateway is chosen; the plaintext
            // that arrives meanwhile is kept for the gateway.
            self.clientHello = []
            let timeout = self.route.configuration.timeouts.clientHello
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.clientHelloTimeout = context.eventLoop.scheduleTask(in: .milliseconds(timeout.milliseconds)) {
                let (handler, context) = loopBound.value
                handler.handshakeFailed(context: context, reason: "timeout")
            }
            context.read()
        } else if self.route.routesByServerName {
            // Read the ClientHello first (within the timeout); the gateway is chosen by its server name.
            self.clientHello = []
            let timeout = self.route.configuration.timeouts.clientHello
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.clientHelloTimeout = context.eventLoop.scheduleTask(in: .milliseconds(timeout.milliseconds)) {
                let (handler, context) = loopBound.value
                handler.reject(context: context, .timeout)
            }
            context.read()
        } else {
            self.connectNext(context: context, lastError: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var received = self.clientHello else {
            context.fireChannelRead(data)
            return
        }
        var buffer = self.unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        self.clientHello = received
        // Bytes after the ClientHello (or the TLS handshake), before the gateway is connected, go on with it.
        guard !self.routed, self.route.tls == nil else { return }
        self.clientHelloReads += 1
        // Each read parses all bytes so far: a client dripping them one by one would cost quadratic time.
        guard self.clientHelloReads <= ClientHello.maximumReads else {
            self.reject(context: context, .fragmented)
            return
        }
        switch ClientHello.read(received) {
        case .needMore:
            context.read()
        case .rejected(let reason):
            self.reject(context: context, reason)
        case .complete(let serverName):
            self.routed = true
            self.clientHelloTimeout?.cancel()
            self.clientHelloTimeout = nil
            self.pool = self.route.pool(forServerName: serverName)
            self.connectNext(context: context, lastError: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event, self.route.tls != nil, !self.routed {
            self.routed = true
            self.negotiatedProtocol = negotiated
            self.clientHelloTimeout?.cancel()
            self.clientHelloTimeout = nil
            self.connectNext(context: context, lastError: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Closes a TLS offload connection whose handshake failed or timed out, and counts it.
    private func handshakeFailed(context: ChannelHandlerContext, reason: String) {
        guard self.route.tls != nil, !self.routed, context.channel.isActive else { return }
        self.routed = true
        self.clientHelloTimeout?.cancel()
        self.clientHelloTimeout = nil
        self.route.virtualServer.handshakeFailed(reason)
        self.route.logger.debug(
            "TLS handshake failed",
            metadata: [
                "client.address": "\(context.channel.remoteAddress.map(\.hostPort) ?? "?")", "reason": "\(reason)",
            ]
        )
        context.close(promise: nil)
    }

    /// Closes a connection whose ClientHello cannot be routed, and counts why.
    private func reject(context: ChannelHandlerContext, _ reason: ClientHello.Rejection) {
        guard self.clientHello != nil, !self.routed, context.channel.isActive else { return }
        self.clientHelloTimeout?.cancel()
        self.clientHelloTimeout = nil
        self.clientHello = nil
        self.route.virtualServer.clientHelloRejected(reason)
        self.route.logger.debug(
            "TLS ClientHello refused",
            metadata: [
                "client.address": "\(context.channel.remoteAddress.map(\.hostPort) ?? "?")",
                "reason": "\(reason.rawValue)",
            ]
        )
        context.close(promise: nil)
    }

    private func connectNext(context: ChannelHandlerContext, lastError: (any Error)?) {
        guard context.channel.isActive else { return }
        let client = context.channel.remoteAddress
        guard let index = self.route.nextMember(in: self.pool, client: client, tried: self.tried) else {
            let error = lastError.map(String.init(describing:))
            self.route.noGatewayTook(client: client, tried: self.tried, in: self.pool, lastError: error)
            context.close(promise: nil)
            return
        }
        self.tried.append(index)
        let member = self.pool.members[index]
        member.reserve()
        let timeouts = self.route.configuration.timeouts
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // Re-encryption: the gateway is offered the application protocol the client chose, if any.
        let gatewayTLS =
            self.negotiatedProtocol.flatMap { self.route.tls?.gatewayContexts[$0] } ?? self.route.tls?.gatewayContext
        let handshake: EventLoopPromise<Void>? = gatewayTLS == nil ? nil : context.eventLoop.makePromise()
        // Re-encryption with a PROXY header: the header goes in the clear before the TLS handshake, as the gateway
        // reads it before its TLS layer (as with HAProxy's send-proxy on an ssl server).
        let clearHeader = gatewayTLS == nil ? nil : self.proxyHeader(context: context)
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.milliseconds(timeouts.connect.milliseconds))
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                loopBound.value.0.connecting = channel
                return channel.eventLoop.makeCompletedFuture {
                    if let gatewayTLS {
                        if let clearHeader {
                            try channel.pipeline.syncOperations.addHandler(ProxyHeaderSender(header: clearHeader))
                        }
                        // An IP address is checked against the certificate's IP names; a host name is sent as SNI.
                        let host = member.configuration.address
                        let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: gatewayTLS, serverHostname: isIP ? nil : host)
                        )
                        try channel.pipeline.syncOperations.addHandler(
                            GatewayHandshakeHandler(done: handshake ?? channel.eventLoop.makePromise())
                        )
                    }
                }
            }
        let tcp: EventLoopFuture<any Channel>
        if let address = member.target.socketAddress {
            tcp = bootstrap.connect(to: address)
        } else {
            tcp = bootstrap.connect(host: member.configuration.address, port: member.configuration.port)
        }
        // Re-encryption: the gateway is connected once its TLS handshake (and certificate check) succeeded, within
        // the connect timeout (counted again from the TCP connect).
        let connected = tcp.flatMap { channel in
            guard let handshake else { return channel.eventLoop.makeSucceededFuture(channel) }
            let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(timeouts.connect.milliseconds)) {
                handshake.fail(GatewayHandshakeTimeout())
            }
            handshake.futureResult.whenComplete { _ in timeout.cancel() }
            return handshake.futureResult.map { channel }.flatMapError { error in
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(GatewayTLSError(underlying: error))
            }
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
                if error is GatewayTLSError {
                    handler.route.virtualServer.gatewayHandshakeFailed(gateway: member.configuration.name)
                }
                handler.route.connectFailed(to: member, error: "\(error)")
                handler.connectNext(context: context, lastError: error)
            }
        }
    }

    /// The PROXY header for this client's connection, or `nil` with `proxyProtocol: off`.
    private func proxyHeader(context: ChannelHandlerContext) -> ByteBuffer? {
        let proxyProtocol = self.route.configuration.proxyProtocol
        guard proxyProtocol != .off else { return nil }
        var header = context.channel.allocator.buffer(capacity: 108)
        var tls: ProxyHeader.TLSInfo?
        if self.route.tls != nil {
            let version = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).tlsVersion
            tls = ProxyHeader.TLSInfo(
                serverName: self.session?.serverName,
                version: version.map(Self.name),
                cipher: self.session?.cipher,
                alpn: self.negotiatedProtocol
            )
        }
        ProxyHeader.write(
            proxyProtocol,
            source: context.channel.remoteAddress,
            destination: context.channel.localAddress,
            tls: tls,
            into: &header
        )
        return header
    }

    /// A TLS version as OpenSSL names it (`TLSv1.3`), for the PROXY v2 header.
    private static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }

    private func glue(context: ChannelHandlerContext, gateway: any Channel, member: GatewayPool.Member) {
        let target = member.target
        target.connected()
        self.route.virtualServer.persist(
            context.channel.remoteAddress,
            member: member,
            settings: self.route.configuration.persistence
        )
        gateway.closeFuture.whenComplete { _ in member.release() }
        guard context.channel.isActive else {
            gateway.close(promise: nil)
            return
        }
        // With re-encryption the header went first, in the clear, before the gateway's TLS handshake.
        if self.route.tls?.gatewayContext == nil, let header = self.proxyHeader(context: context) {
            gateway.writeAndFlush(header, promise: nil)  // now: a gateway may be the first to speak
        }
        if let clientHello = self.clientHello {
            // The bytes read to route by server name go first, untouched.
            self.clientHello = nil
            gateway.writeAndFlush(gateway.allocator.buffer(bytes: clientHello), promise: nil)
        }
        let virtualServer = self.route.virtualServer
        let timeouts = self.route.configuration.timeouts
        let (clientGlue, gatewayGlue) = GlueHandler.matchedPair(
            clientIdle: .milliseconds(timeouts.clientIdle.milliseconds),
            gatewayIdle: .milliseconds(timeouts.gatewayIdle.milliseconds),
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
            // Re-encryption: what the gateway sent after the handshake goes on to the relay.
            if let handshake = try? gateway.pipeline.syncOperations.handler(type: GatewayHandshakeHandler.self) {
                gateway.pipeline.syncOperations.removeHandler(handshake, promise: nil)
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            try context.channel.syncOptions?.setOption(.autoRead, value: true)
            try gateway.syncOptions?.setOption(.autoRead, value: true)
        } catch {
            gateway.close(promise: nil)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.clientHelloTimeout?.cancel()
        self.clientHelloTimeout = nil
        // The client left while a gateway connect was in flight: do not hold that socket until the connect timeout.
        self.connecting?.close(promise: nil)
        self.connecting = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // With TLS offload, an error before the handshake completed is the handshake's (wrong version, no shared
        // cipher, not TLS at all).
        self.handshakeFailed(context: context, reason: "\(error)")
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ProxyFrontendHandler: Sendable {}

/// A gateway's TLS handshake that did not finish within the connect timeout.
struct GatewayHandshakeTimeout: Error, CustomStringConvertible {
    var description: String { "no TLS handshake within the connect timeout" }
}

/// A re-encrypted gateway connection whose TLS handshake failed (an untrusted or wrong certificate, say).
struct GatewayTLSError: Error, CustomStringConvertible {
    let underlying: any Error
    var description: String { "TLS handshake with the gateway failed: \(self.underlying)" }
}
