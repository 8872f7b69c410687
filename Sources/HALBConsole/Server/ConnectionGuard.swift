import HALBCore
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The console server's bounds on its connections (see ``ConnectionTable``), shared by every connection of one
/// server: each gets a ``ConnectionGuardHandler`` from ``handler()``.
public final class ConnectionGuard: Sendable {
    private struct State {
        var table: ConnectionTable<ObjectIdentifier>
        var channels: [ObjectIdentifier: any Channel] = [:]
        var refusals = LogRateLimiter(interval: .seconds(10))
    }

    private let state: Mutex<State>
    private let logger: Logger
    private let origin = ContinuousClock.now

    /// The default bounds: 1 024 connections (fewer when the process may open fewer descriptors: 64 are kept for
    /// the store and the rest), 64 per client address, 10 s for a request's head.
    public static func defaultLimits(descriptorLimit: Int) -> ConnectionTable<ObjectIdentifier>.Limits {
        .init(total: max(16, min(1024, descriptorLimit - 64)), perAddress: 64, headTimeout: .seconds(10))
    }

    /// Creates a guard with `limits`.
    public init(limits: ConnectionTable<ObjectIdentifier>.Limits, logger: Logger) {
        self.state = Mutex(State(table: ConnectionTable(limits: limits)))
        self.logger = logger
    }

    /// The limits in force.
    public var limits: ConnectionTable<ObjectIdentifier>.Limits { self.state.withLock { $0.table.limits } }

    /// A handler for one new connection (put after the HTTP codec).
    public func handler() -> ConnectionGuardHandler {
        ConnectionGuardHandler(guard: self)
    }

    // MARK: - For the handlers

    /// Registers `channel`; `false` when it must be closed at once. Closes the connections that make room for it.
    func open(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let (admission, evicted, logRefusal) = self.state.withLock {
            state -> (ConnectionTable<ObjectIdentifier>.Admission, [any Channel], Int?) in
            let admission = state.table.opened(id, address: address, now: ContinuousClock.now)
            switch admission {
            case .accept(let closing):
                state.channels[id] = channel
                let evicted = closing.compactMap { state.channels.removeValue(forKey: $0) }
                return (admission, evicted, nil)
            case .refuse:
                if case .log(let suppressed) = state.refusals.decide(now: ContinuousClock.now - self.origin) {
                    return (admission, [], suppressed)
                }
                return (admission, [], nil)
            }
        }
        for other in evicted { other.close(promise: nil) }
        if case .refuse(let reason) = admission {
            if let suppressed = logRefusal {
                self.logger.warning(
                    "Console connection refused",
                    metadata: [
                        "client.address": "\(address)", "reason": "\(reason.rawValue)",
                        "log.suppressed": "\(suppressed)",
                    ]
                )
            }
            return false
        }
        return true
    }

    func requestStarted(_ channel: any Channel) {
        self.state.withLock { $0.table.requestStarted(ObjectIdentifier(channel)) }
    }

    func responseEnded(_ channel: any Channel) {
        self.state.withLock { $0.table.responseEnded(ObjectIdentifier(channel), now: ContinuousClock.now) }
    }

    func isOverdue(_ channel: any Channel) -> Bool {
        self.state.withLock { $0.table.isOverdue(ObjectIdentifier(channel), now: ContinuousClock.now) }
    }

    func closed(_ channel: any Channel) {
        self.state.withLock { state in
            state.table.closed(ObjectIdentifier(channel))
            state.channels[ObjectIdentifier(channel)] = nil
        }
    }
}

/// Enforces a ``ConnectionGuard`` on one connection: registers it (or closes it at once), marks when a request's
/// head arrives and when its response ends, and closes the connection when a head is overdue. Reads
/// `HTTPRequestPart`s and writes `HTTPResponsePart`s, passing both on unchanged.
public final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let connections: ConnectionGuard
    private var timer: Scheduled<Void>?
    private var registered = false

    init(guard connections: ConnectionGuard) {
        self.connections = connections
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard self.connections.open(context.channel) else {
            context.close(promise: nil)
            return
        }
        self.registered = true
        self.armTimer(context: context, after: self.connections.limits.headTimeout)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        if self.registered {
            self.registered = false
            self.connections.closed(context.channel)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.handlerRemoved(context: context)
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = self.unwrapInboundIn(data) {
            self.timer?.cancel()
            self.timer = nil
            self.connections.requestStarted(context.channel)
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data), self.registered {
            self.connections.responseEnded(context.channel)
            self.armTimer(context: context, after: self.connections.limits.headTimeout)
        }
        context.write(data, promise: promise)
    }

    private func armTimer(context: ChannelHandlerContext, after delay: Duration) {
        self.timer?.cancel()
        let channel = context.channel
        let connections = self.connections
        self.timer = context.eventLoop.scheduleTask(in: TimeAmount(delay)) {
            // The head may have come meanwhile; the table knows.
            if connections.isOverdue(channel) { channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension ConnectionGuardHandler: Sendable {}
