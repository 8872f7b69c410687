import NIOCore
import NIOPosix

/// Relays bytes between a client channel and a gateway channel: one instance sits in each pipeline and writes what
/// it reads into its partner's.
///
/// Backpressure: a side reads only while its partner's channel is writable, so a slow reader stalls the fast writer
/// instead of filling the device's memory. Half-close: an end of input on one side shuts the partner's output once
/// the bytes before it are written, and each side is closed once both its directions are done. A side that closes
/// cleanly (NIO closes a socket whose output is shut when its input ends, without an end-of-input event) lets the
/// partner write out what it holds before closing. Errors and idle timeouts close both sides at once.
///
/// Idle timeouts: each side notes that it read or wrote; the event loop's ``IdleSweeper`` looks at both sides of
/// every pair four times a second and closes a pair once a side has been idle for its timeout. A flag per event and
/// one timer per event loop cost far less, in CPU and memory per connection, than NIO's `IdleStateHandler` (which
/// reads the clock on every read, wraps the promise of every write and keeps a timer per socket).
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
    /// Read or wrote since the last sweep.
    private var active = false
    /// How long this side has been idle, in nanoseconds, as of the last sweep.
    private var idleFor: Int64 = 0
    private let idleTimeout: Int64
    /// The client side is swept (for both sides); its place in the sweeper's list while it is there.
    private let swept: Bool
    fileprivate var sweepIndex: Int?
    private var sweeper: IdleSweeper?

    private init(countBytes: @escaping ByteCounter, idleTimeout: TimeAmount, swept: Bool) {
        self.countBytes = countBytes
        self.idleTimeout = idleTimeout.nanoseconds
        self.swept = swept
    }

    /// Two handlers that relay to each other; the first goes in the client's pipeline, the second in the gateway's
    /// (both channels on one event loop). A side with no read or write for its idle timeout closes both.
    static func matchedPair(
        clientIdle: TimeAmount,
        gatewayIdle: TimeAmount,
        countClientBytes: @escaping ByteCounter,
        countGatewayBytes: @escaping ByteCounter
    ) -> (client: GlueHandler, gateway: GlueHandler) {
        let client = GlueHandler(countBytes: countClientBytes, idleTimeout: clientIdle, swept: true)
        let gateway = GlueHandler(countBytes: countGatewayBytes, idleTimeout: gatewayIdle, swept: false)
        client.partner = gateway
        gateway.partner = client
        return (client, gateway)
    }

    /// One sweep, `elapsed` after the last: each side that neither read nor wrote since then is idle that much
    /// longer; a side idle for its timeout closes the pair.
    fileprivate func checkIdle(elapsed: Int64) {
        if !self.closedForIdleness(elapsed: elapsed) {
            _ = self.partner?.closedForIdleness(elapsed: elapsed)
        }
    }

    /// Counts `elapsed` as idle time unless this side read or wrote meanwhile; closes it (and so the pair) once it
    /// has been idle for its timeout.
    private func closedForIdleness(elapsed: Int64) -> Bool {
        self.idleFor = self.active ? 0 : self.idleFor + elapsed
        self.active = false
        guard self.idleFor >= self.idleTimeout, let context = self.context else { return false }
        self.aborted = true
        context.close(promise: nil)
        return true
    }

    // MARK: - Calls from the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        self.active = true
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
        if self.swept {
            let sweeper = IdleSweeper.on(context.eventLoop)
            sweeper.add(self)
            self.sweeper = sweeper
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.sweeper?.remove(self)
        self.sweeper = nil
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.active = true
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
        self.sweeper?.remove(self)
        self.sweeper = nil
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

/// The idle clock of every glued pair on one event loop: four times a second it tells each pair how long it has
/// been since the last sweep. One timer per event loop, started with its first pair, instead of one per connection.
///
/// Each event loop thread has its own (a thread-specific variable), used on that thread only.
final class IdleSweeper: @unchecked Sendable {
    static let interval = TimeAmount.milliseconds(250)
    private static let perThread = ThreadSpecificVariable<IdleSweeper>()

    private let eventLoop: any EventLoop
    /// The client sides of the pairs.
    private var handlers: [GlueHandler] = []
    private var lastSweep = NIODeadline.now()
    private var task: RepeatedTask?

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The sweeper of `eventLoop`, whose thread the caller is on.
    static func on(_ eventLoop: any EventLoop) -> IdleSweeper {
        if let sweeper = Self.perThread.currentValue, sweeper.eventLoop === eventLoop { return sweeper }
        let sweeper = IdleSweeper(eventLoop: eventLoop)
        Self.perThread.currentValue = sweeper
        return sweeper
    }

    fileprivate func add(_ handler: GlueHandler) {
        handler.sweepIndex = self.handlers.count
        self.handlers.append(handler)
        if self.task == nil {
            self.lastSweep = .now()
            self.task = self.eventLoop.scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) {
                [self] _ in
                self.sweep()
            }
        }
    }

    fileprivate func remove(_ handler: GlueHandler) {
        guard let index = handler.sweepIndex else { return }
        handler.sweepIndex = nil
        let last = self.handlers.removeLast()
        if index < self.handlers.count {
            self.handlers[index] = last
            last.sweepIndex = index
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        let elapsed = (now - self.lastSweep).nanoseconds
        self.lastSweep = now
        // A pair that closes leaves the list during the loop: go over the list as it was.
        for handler in self.handlers {
            handler.checkIdle(elapsed: elapsed)
        }
    }
}
