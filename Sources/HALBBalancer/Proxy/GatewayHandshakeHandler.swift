import NIOCore
import NIOTLS

/// On a re-encrypted gateway connection (TLS offload with `gatewayTLS`): drives the TLS handshake with the gateway
/// (the channel does not read on its own), reports its outcome, and holds what the gateway sends right after it
/// until the relay takes over.
final class GatewayHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let done: EventLoopPromise<Void>
    private var held: [NIOAny] = []

    init(done: EventLoopPromise<Void>) {
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.read() }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { self.done.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.held.append(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.done.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.done.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        for data in self.held { context.fireChannelRead(data) }
        self.held = []
        context.leavePipeline(removalToken: removalToken)
    }
}

@available(*, unavailable)
extension GatewayHandshakeHandler: Sendable {}

/// On a re-encrypted gateway connection with a PROXY header: sends the header in the clear as soon as the
/// connection is up, before the TLS handler (after this one in the pipeline) starts its handshake; then leaves.
final class ProxyHeaderSender: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let header: ByteBuffer

    init(header: ByteBuffer) {
        self.header = header
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(self.header), promise: nil)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension ProxyHeaderSender: Sendable {}
