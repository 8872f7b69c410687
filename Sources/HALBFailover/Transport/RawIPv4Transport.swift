#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// VRRP over IPv4 on one interface: a raw socket for IP protocol 112, bound to the interface and joined to
/// 224.0.0.18. It writes its own IP header (TTL 255, DSCP CS6, the interface's primary address as source, as
/// keepalived does), so the checksum's pseudo-header is known. Needs `CAP_NET_RAW` (root).
public final class RawIPv4Transport: VRRPTransport {
    public let sourceAddress: VRRPAddress
    private let channel: any Channel
    private let destinations: [VRRPAddress]

    private init(sourceAddress: VRRPAddress, channel: any Channel, destinations: [VRRPAddress]) {
        self.sourceAddress = sourceAddress
        self.channel = channel
        self.destinations = destinations
    }

    /// Opens the socket on `interface`.
    ///
    /// - Parameters:
    ///   - interface: where advertisements go and come from.
    ///   - unicastPeers: send to these addresses instead of the multicast group (networks without multicast).
    ///   - group: the event loops.
    ///   - receive: called on the event loop for every packet that arrives, valid or not, except our own.
    /// - Throws: ``FailoverError`` when the interface has no IPv4 address or the socket cannot be set up.
    public static func open(
        interface: NetworkInterface,
        unicastPeers: [VRRPAddress] = [],
        group: any EventLoopGroup,
        receive: @escaping @Sendable (VRRPReceived) -> Void
    ) async throws -> RawIPv4Transport {
        guard let source = interface.primaryIPv4 else { throw FailoverError.noIPv4Address(interface.name) }
        let channel = try await NIORawSocketBootstrap(group: group)
            .channelOption(.ipOption(.ip_hdrincl), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReceiveHandler(own: source, receive: receive))
                }
            }
            .bind(host: "0.0.0.0", ipProtocol: NIOIPProtocol(rawValue: VRRPAdvertisement.ipProtocol))
            .get()
        do {
            let provider = channel as! any SocketOptionProvider
            // Only this interface's packets, and multicast out of this interface.
            try await provider.unsafeSetSocketOption(
                level: .socket,
                name: NIOBSDSocket.Option(rawValue: SO_BINDTODEVICE),
                value: Self.interfaceName(interface.name)
            ).get()
            try await provider.setIPMulticastLoop(0).get()
            if unicastPeers.isEmpty {
                guard let multicast = channel as? any MulticastChannel else {
                    throw FailoverError.system("join 224.0.0.18 on \(interface.name)", errno: EOPNOTSUPP)
                }
                let device = try System.enumerateDevices().first { $0.name == interface.name && $0.address?.protocol == .inet }
                try await multicast.joinGroup(try SocketAddress(ipAddress: "224.0.0.18", port: 0), device: device).get()
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return RawIPv4Transport(
            sourceAddress: source,
            channel: channel,
            destinations: unicastPeers.isEmpty ? [VRRPAdvertisement.ipv4Multicast] : unicastPeers
        )
    }

    public func send(_ advertisement: VRRPAdvertisement) {
        for destination in self.destinations {
            let message = advertisement.encoded(source: self.sourceAddress, destination: destination)
            let total = 20 + message.count
            // IPv4 header; the kernel fills in the identification and the header checksum.
            var datagram: [UInt8] = [
                0x45, 0xC0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0, 0, 255, VRRPAdvertisement.ipProtocol, 0, 0,
            ]
            datagram += self.sourceAddress.bytes + destination.bytes + message
            guard let address = try? SocketAddress(ipAddress: "\(destination)", port: 0) else { continue }
            let envelope = AddressedEnvelope(remoteAddress: address, data: self.channel.allocator.buffer(bytes: datagram))
            self.channel.writeAndFlush(envelope, promise: nil)
        }
    }

    public func close() async {
        try? await self.channel.close()
    }

    private static func interfaceName(
        _ name: String
    ) -> (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) {
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
