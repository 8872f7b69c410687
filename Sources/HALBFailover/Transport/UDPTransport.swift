import NIOCore
import NIOPosix

/// VRRP advertisements over UDP between addresses on one host: the demo's transport, which needs no root. The
/// message is the same VRRPv3 advertisement, checksum included (its pseudo-header uses the two UDP addresses); it
/// carries no IP TTL, so the TTL check does not apply. Not for real networks.
public final class UDPTransport: VRRPTransport {
    public let sourceAddress: VRRPAddress
    private let port: Int
    private let channel: any Channel

    private init(sourceAddress: VRRPAddress, port: Int, channel: any Channel) {
        self.sourceAddress = sourceAddress
        self.port = port
        self.channel = channel
    }

    /// Binds `address`:`port` (UDP).
    ///
    /// - Parameters:
    ///   - address: this device's address, the source of its advertisements.
    ///   - port: the UDP port every device of the demo uses.
    ///   - eventLoop: where the socket runs.
    ///   - receive: called on the event loop for every datagram that arrives.
    public static func open(
        address: VRRPAddress,
        port: Int,
        eventLoop: any EventLoop,
        receive: @escaping @Sendable (VRRPReceived) -> Void
    ) async throws -> UDPTransport {
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReceiveHandler(local: address, receive: receive))
                }
            }
            .bind(host: "\(address)", port: port)
            .get()
        return UDPTransport(sourceAddress: address, port: port, channel: channel)
    }

    public func send(_ advertisement: VRRPAdvertisement, to peers: [VRRPAddress]) {
        for peer in peers {
            guard let remote = try? SocketAddress(ipAddress: "\(peer)", port: self.port) else { continue }
            let message = advertisement.encoded(source: self.sourceAddress, destination: peer)
            let envelope = AddressedEnvelope(remoteAddress: remote, data: self.channel.allocator.buffer(bytes: message))
            self.channel.writeAndFlush(envelope, promise: nil)
        }
    }

    public func close() async {
        try? await self.channel.close()
    }

    fileprivate final class ReceiveHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        private let local: VRRPAddress
        private let receive: @Sendable (VRRPReceived) -> Void

        init(local: VRRPAddress, receive: @escaping @Sendable (VRRPReceived) -> Void) {
            self.local = local
            self.receive = receive
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            guard let sender = envelope.remoteAddress.ipAddress.flatMap({ VRRPAddress($0) }) else { return }
            do {
                let advertisement = try VRRPAdvertisement.decode(
                    Array(envelope.data.readableBytesView),
                    source: sender,
                    destination: self.local,
                    hopLimit: 255
                )
                self.receive(.advertisement(advertisement, from: sender))
            } catch {
                self.receive(.dropped(error, from: sender))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A peer that is not running yet answers with ICMP port unreachable; keep the socket.
        }
    }
}

@available(*, unavailable)
extension UDPTransport.ReceiveHandler: Sendable {}
