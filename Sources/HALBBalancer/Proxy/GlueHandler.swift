import NIOCore

/// Relays bytes between a client channel and a gateway channel: one instance sits in each pipeline and writes what
/// it reads into its partner's.
///
/// Backpressure: a side reads only while its partner's channel is writable, so a slow reader stalls the fast writer
/// instead of filling the device's memory. Half-close: an end of input on one side shuts the partner's output once
/// the bytes before it are written, and each side is closed once both its directions are done. A side that closes
/// cleanly (NIO closes a socket whose output is shut when its input ends, without an end-of-input event) lets the
/// partner write out what it holds before closing. Errors and `IdleStateHandler.IdleStateEvent` close both sides
/// at once.
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
    /// The partner's channel closed cleanly: close once the output is written out.
    private var partnerGone = false
    /// This side is closing because of an error or an idle timeout: the partner closes at once too.
    private var aborted = false
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
            if handler.value.inputClosed || handler.value.partnerGone {
                channel.close(promise: nil)
            } else {
                channel.close(mode: .output, promise: nil)
            }
        }
    }

    private func partnerCloseFull() {
        self.aborted = true
        self.context?.close(promise: nil)
    }

    /// The partner's channel closed cleanly. What this side still has to write goes out first, then it closes (or
    /// the idle timeout ends it).
    private func partnerClosed() {
        self.partnerGone = true
        if !self.outputClosed {
            self.partnerWriteEOF()
        } else if self.outputDone {
            self.context?.close(promise: nil)
        }
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
        if self.aborted {
            self.partner?.partnerCloseFull()
        } else {
            self.partner?.partnerClosed()
        }
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
            self.aborted = true
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.aborted = true
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
