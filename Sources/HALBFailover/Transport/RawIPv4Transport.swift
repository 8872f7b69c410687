import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// VRRP over IPv4 on one interface: a raw socket for IP protocol 112, bound to the interface and joined to
/// 224.0.0.18. It writes its own IP header (TTL 255, DSCP CS6, the interface's primary address as source, as
/// keepalived does), so the checksum's pseudo-header is known. Needs `CAP_NET_RAW` (root).
public final class RawIPv4Transport: VRRPTransport {
    public let sourceAddress: VRRPAddress
    private let interface: NetworkInterface
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let receive: @Sendable (VRRPReceived) -> Void
    /// The open socket, if any, and whether ``close()`` was called.
    private let state = NIOLockedValueBox<(channel: (any Channel)?, closed: Bool)>((nil, false))
    /// Limits the socket failure lines: while the link stays down the socket fails every half second, and one
    /// line per 10 s says enough.
    private let failureLog = NIOLockedValueBox(LogRateLimiter(interval: .seconds(10)))

    private init(
        interface: NetworkInterface,
        source: VRRPAddress,
        eventLoop: any EventLoop,
        logger: Logger,
        receive: @escaping @Sendable (VRRPReceived) -> Void
    ) {
        self.interface = interface
        self.sourceAddress = source
        self.eventLoop = eventLoop
        self.logger = logger
        self.receive = receive
    }

    /// Opens the socket on `interface`. When the socket fails later (NIO closes a datagram socket on errors such
    /// as "network is down" when the link goes away), it is opened again every half second until it works.
    ///
    /// - Parameters:
    ///   - interface: where advertisements go and come from.
    ///   - eventLoop: where the socket runs.
    ///   - logger: for socket failures.
    ///   - receive: called on the event loop for every packet that arrives, valid or not, except our own.
    /// - Throws: ``FailoverError`` when the interface has no IPv4 address or the socket cannot be set up.
    public static func open(
        interface: NetworkInterface,
        eventLoop: any EventLoop,
        logger: Logger,
        receive: @escaping @Sendable (VRRPReceived) -> Void
    ) async throws -> RawIPv4Transport {
        guard let source = interface.primaryIPv4 else { throw FailoverError.noIPv4Address(interface.name) }
        let transport = RawIPv4Transport(
            interface: interface,
            source: source,
            eventLoop: eventLoop,
            logger: logger,
            receive: receive
        )
        transport.adopt(try await transport.makeChannel().get())
        return transport
    }

    private func makeChannel() -> EventLoopFuture<any Channel> {
        let source = self.sourceAddress
        let receive = self.receive
        let interface = self.interface
        return NIORawSocketBootstrap(group: self.eventLoop)
            .channelOption(.ipOption(.ip_hdrincl), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReceiveHandler(own: source, receive: receive))
                }
            }
            .bind(host: "0.0.0.0", ipProtocol: NIOIPProtocol(rawValue: VRRPAdvertisement.ipProtocol))
            .flatMap { channel in
                let provider = channel as! any SocketOptionProvider
                // Only this interface's packets, and multicast out of this interface.
                return provider.unsafeSetSocketOption(
                    level: .socket,
                    name: NIOBSDSocket.Option(rawValue: SO_BINDTODEVICE),
                    value: Self.interfaceName(interface.name)
                )
                .flatMap { provider.setIPMulticastLoop(0) }
                .flatMap { () -> EventLoopFuture<Void> in
                    // Joined also when sending unicast: harmless, and peers may still use the group.
                    guard let multicast = channel as? any MulticastChannel,
                        let group = try? SocketAddress(ipAddress: "224.0.0.18", port: 0)
                    else {
                        return channel.eventLoop.makeFailedFuture(
                            FailoverError.system("join 224.0.0.18 on \(interface.name)", errno: EOPNOTSUPP)
                        )
                    }
                    let device = try? System.enumerateDevices().first {
                        $0.name == interface.name && $0.address?.protocol == .inet
                    }
                    return multicast.joinGroup(group, device: device)
                }
                .map { channel }
                .flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
    }

    private func adopt(_ channel: any Channel) {
        let closedAlready = self.state.withLockedValue { state -> Bool in
            guard !state.closed else { return true }
            state.channel = channel
            return false
        }
        guard !closedAlready else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { _ in self.channelClosed(channel) }
    }

    private func channelClosed(_ channel: any Channel) {
        let reopen = self.state.withLockedValue { state -> Bool in
            guard !state.closed, state.channel === channel else { return false }
            state.channel = nil
            return true
        }
        guard reopen else { return }
        let now = Duration.nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))
        if case .log(let suppressed) = self.failureLog.withLockedValue({ $0.decide(now: now) }) {
            self.logger.warning(
                "VRRP socket closed; reopening",
                metadata: ["vrrp.interface": "\(self.interface.name)", "log.suppressed": "\(suppressed)"]
            )
        }
        self.reopen()
    }

    private func reopen() {
        self.eventLoop.scheduleTask(in: .milliseconds(500)) {
            guard !self.state.withLockedValue({ $0.closed }) else { return }
            self.makeChannel().whenComplete { result in
                switch result {
                case .success(let channel):
                    self.logger.debug("VRRP socket reopened", metadata: ["vrrp.interface": "\(self.interface.name)"])
                    self.adopt(channel)
                case .failure:
                    self.reopen()
                }
            }
        }
    }

    public func send(_ advertisement: VRRPAdvertisement, to peers: [VRRPAddress]) {
        for destination in peers.isEmpty ? [VRRPAdvertisement.ipv4Multicast] : peers {
            let message = advertisement.encoded(source: self.sourceAddress, destination: destination)
            let total = 20 + message.count
            // IPv4 header; the kernel fills in the identification and the header checksum.
            var datagram: [UInt8] = [
                0x45, 0xC0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0, 0, 255, VRRPAdvertisement.ipProtocol, 0, 0,
            ]
            datagram += self.sourceAddress.bytes + destination.bytes + message
            guard let channel = self.state.withLockedValue({ $0.channel }),
                let address = try? SocketAddress(ipAddress: "\(destination)", port: 0)
            else { continue }
            let envelope = AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: datagram))
            channel.writeAndFlush(envelope, promise: nil)
        }
    }

    public func close() async {
        let channel = self.state.withLockedValue { state -> (any Channel)? in
            state.closed = true
            defer { state.channel = nil }
            return state.channel
        }
        try? await channel?.close()
    }

    private static func interfaceName(
        _ name: String
    ) -> (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
    ) {
        var bytes = Array(name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        return (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        )
    }

    /// Decodes each datagram (IP header included) and hands it on; our own multicast echo is skipped.
    fileprivate final class ReceiveHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        private let own: VRRPAddress
        private let receive: @Sendable (VRRPReceived) -> Void

        init(own: VRRPAddress, receive: @escaping @Sendable (VRRPReceived) -> Void) {
            self.own = own
            self.receive = receive
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            let datagram = Array(envelope.data.readableBytesView)
            let sender = envelope.remoteAddress.ipAddress.flatMap { VRRPAddress($0) }
            if sender == self.own { return }
            do {
                let (advertisement, source) = try VRRPAdvertisement.decode(ipv4Datagram: datagram)
                self.receive(.advertisement(advertisement, from: source))
            } catch {
                self.receive(.dropped(error, from: sender))
            }
        }
    }
}

@available(*, unavailable)
extension RawIPv4Transport.ReceiveHandler: Sendable {}
