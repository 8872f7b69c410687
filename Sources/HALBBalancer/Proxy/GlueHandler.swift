import NIOCore

/// Relays bytes between a client channel and a gateway channel: one instance sits in each pipeline and writes what
/// it reads into its partner's.
///
/// Backpressure: a side reads only while its partner's channel is writable, so a slow reader stalls the fast writer
/// instead of filling the device's memory. Half-close: an end of input on one side shuts the partner's output, and
/// the connection is closed once both directions are done. Reads `ByteBuffer`s, emits them to the partner;
/// an `IdleStateHandler.IdleStateEvent` closes the connection.
final class GlueHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Called once per read burst with the number of bytes read on this side.
    typealias ByteCounter = (Int) -> Void

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    private var outputDone = false
    private var unflushedBytes = 0
    private let countBytes: ByteCounter

    private init(countBytes: @escaping ByteCounter) {
        self.countBytes = countBytes
    }

    /// Two handlers that relay to each other; the first goes in the client's pipeline, the second in the gateway's.
    static func matchedPair(
        countClientBytes: @escaping ByteCounter,
        countGatewayBytes: @escaping ByteCounter
    ) -> (client: GlueHandler, gateway: GlueHandler) {
        let client = GlueHandler(countBytes: countClientBytes)
        let gateway = GlueHandler(countBytes: countGatewayBytes)
        client.partner = gateway
        gateway.partner = client
        return (client, gateway)
    }

    // MARK: - Calls from the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        self.context?.write(NIOAny(buffer), promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerWriteEOF() {
        guard let context = self.context, !self.outputClosed else { return }
        self.outputClosed = true
        // Closing the output fails writes still queued, so end the stream only once everything before it is out:
        // writes complete in order, so an empty write completing means all earlier ones have.
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        flushed.futureResult.whenComplete { _ in
            handler.value.outputDone = true
            if handler.value.inputClosed {
                channel.close(promise: nil)
            } else {
                channel.close(mode: .output, promise: nil)
            }
        }
    }

    private func partnerCloseFull() {
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.unflushedBytes += buffer.readableBytes
        self.partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.unflushedBytes > 0 {
            self.countBytes(self.unflushedBytes)
            self.unflushedBytes = 0
        }
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.partner?.partnerCloseFull()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.inputClosed = true
            self.partner?.partnerWriteEOF()
            if self.outputDone {
                context.close(promise: nil)
            }
        } else if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
