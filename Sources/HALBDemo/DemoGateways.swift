import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The demo's gateways: small HTTP servers on loopback that answer every request with their own name, and can be
/// stopped and started again to watch health checks notice.
public final class DemoGateways: Service, Sendable {
    public struct Gateway: Sendable {
        public let name: String
        public let host: String
        public let port: Int

        public init(name: String, host: String, port: Int) {
            self.name = name
            self.host = host
            self.port = port
        }
    }

    public let gateways: [Gateway]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channels = NIOLockedValueBox<[String: any Channel]>([:])

    public init(gateways: [Gateway], group: any EventLoopGroup, logger: Logger) {
        self.gateways = gateways
        self.group = group
        self.logger = logger
    }

    /// Starts every gateway; throws when a port is taken.
    public func startAll() async throws {
        for gateway in self.gateways {
            try await self.start(gateway.name)
        }
    }

    /// Starts gateway `name`; returns false when it is unknown.
    @discardableResult
    public func start(_ name: String) async throws -> Bool {
        guard let gateway = self.gateways.first(where: { $0.name == name }) else { return false }
        if self.channels.withLockedValue({ $0[name] }) != nil { return true }
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(NameResponder(name: gateway.name))
                }
            }
            .bind(host: gateway.host, port: gateway.port)
            .get()
        self.channels.withLockedValue { $0[name] = channel }
        self.logger.notice(
            "Demo gateway started",
            metadata: ["gateway.name": "\(name)", "gateway.address": "\(gateway.host):\(gateway.port)"]
        )
        return true
    }

    /// Stops gateway `name` (closes its listener); returns false when it is unknown.
    @discardableResult
    public func stop(_ name: String) async -> Bool {
        guard self.gateways.contains(where: { $0.name == name }) else { return false }
        let channel = self.channels.withLockedValue { $0.removeValue(forKey: name) }
        try? await channel?.close()
        self.logger.notice("Demo gateway stopped", metadata: ["gateway.name": "\(name)"])
        return true
    }

    public func run() async throws {
        try? await gracefulShutdown()
        for gateway in self.gateways {
            let channel = self.channels.withLockedValue { $0.removeValue(forKey: gateway.name) }
            try? await channel?.close()
        }
    }
}

/// Answers every HTTP request with `Hello from NAME`.
private final class NameResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let name: String
    private var keepAlive = true

    init(name: String) {
        self.name = name
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let body = "Hello from \(self.name)\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "X-Gateway", value: self.name)
            if !self.keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                promise: nil
            )
            context.write(
                self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
            let keepAlive = self.keepAlive
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}

@available(*, unavailable)
extension NameResponder: Sendable {}
