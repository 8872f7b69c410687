import Foundation
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// VRRP over IPv6 on one interface: a raw socket for next header 112, bound to the interface and joined to
/// ff02::12, sending with hop limit 255 from the interface's link-local address (RFC 5798 §5.1.2.1).
///
/// A raw IPv6 socket does not return the IPv6 header, and RFC 5798 §7.1 needs its hop limit and destination to
/// check a packet; both come as control messages (`IPV6_HOPLIMIT`, `IPV6_PKTINFO`), which NIO does not hand on.
/// So this transport reads with `recvmsg` on a thread of its own: a few packets a second at most, and the
/// thread's wake-ups are independent of the proxy's event loops. Needs `CAP_NET_RAW` (root).
public final class RawIPv6Transport: VRRPTransport {
    public let sourceAddress: VRRPAddress
    private let socket: IPv6RawSocket
    private let interface: NetworkInterface
    private let logger: Logger
    private let closed = NIOLockedValueBox(false)
    /// Completed by the receive thread when it has stopped and closed the socket.
    private let finished: EventLoopPromise<Void>
    /// Limits the send failure lines: while the link is down every advertisement fails, and one line per 10 s
    /// says enough.
    private let sendFailureLog = NIOLockedValueBox(LogRateLimiter(interval: .seconds(10)))

    private init(
        socket: IPv6RawSocket,
        interface: NetworkInterface,
        source: VRRPAddress,
        logger: Logger,
        finished: EventLoopPromise<Void>
    ) {
        self.socket = socket
        self.interface = interface
        self.sourceAddress = source
        self.logger = logger
        self.finished = finished
    }

    /// Opens the socket on `interface` and starts receiving.
    ///
    /// - Parameters:
    ///   - interface: where advertisements go and come from.
    ///   - eventLoop: completes ``close()``; packets are handed to `receive` on the receive thread.
    ///   - logger: for socket failures.
    ///   - receive: called for every packet that arrives, valid or not; it must hop to its own event loop.
    /// - Throws: ``FailoverError`` when the interface has no link-local IPv6 address or the socket cannot be set up.
    public static func open(
        interface: NetworkInterface,
        eventLoop: any EventLoop,
        logger: Logger,
        receive: @escaping @Sendable (VRRPReceived) -> Void
    ) throws(FailoverError) -> RawIPv6Transport {
        guard let source = NetworkInterface.linkLocalIPv6Addresses(of: interface.name).first else {
            throw .noIPv6LinkLocalAddress(interface.name)
        }
        let socket = try IPv6RawSocket.openVRRP(interface: interface)
        let transport = RawIPv6Transport(
            socket: socket,
            interface: interface,
            source: source,
            logger: logger,
            finished: eventLoop.makePromise()
        )
        let thread = Thread { transport.receiveLoop(receive) }
        thread.name = "halb-vrrp6-\(interface.name)"
        thread.start()
        return transport
    }

    public func send(_ advertisement: VRRPAdvertisement, to peers: [VRRPAddress]) {
        for destination in peers.isEmpty ? [VRRPAdvertisement.ipv6Multicast] : peers {
            let message = advertisement.encoded(source: self.sourceAddress, destination: destination)
            if let code = self.socket.send(
                message,
                to: destination,
                from: self.sourceAddress,
                interface: self.interface.index
            ) {
                self.logSendFailure(errno: code)
            }
        }
    }

    public func close() async {
        self.closed.withLockedValue { $0 = true }
        try? await self.finished.futureResult.get()
    }

    private func logSendFailure(errno code: Int32) {
        let now = Duration.nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))
        guard case .log(let suppressed) = self.sendFailureLog.withLockedValue({ $0.decide(now: now) }) else { return }
        self.logger.warning(
            "Cannot send a VRRP advertisement",
            metadata: [
                "vrrp.interface": "\(self.interface.name)",
                "error": "\(FailoverError.system("send from \(self.sourceAddress)", errno: code))",
                "log.suppressed": "\(suppressed)",
            ]
        )
    }

    /// Reads packets until ``close()``; then closes the socket.
    private func receiveLoop(_ receive: @Sendable (VRRPReceived) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 256)
        while !self.closed.withLockedValue({ $0 }) {
            guard let (length, source, controlLength) = self.socket.receive(into: &buffer, control: &control) else {
                // A timeout (to look at `closed`), a signal, or an error while the link is down: go on.
                if errno != EAGAIN && errno != EINTR { usleep(100_000) }
                continue
            }
            if source == self.sourceAddress { continue }
            let received = ControlMessages.decode(Array(control.prefix(controlLength)))
            guard let destination = received.destination, let hopLimit = received.hopLimit else {
                receive(.dropped(.missingIPv6Header, from: source))
                continue
            }
            do {
                let advertisement = try VRRPAdvertisement.decode(
                    Array(buffer.prefix(length)),
                    source: source,
                    destination: destination,
                    hopLimit: hopLimit
                )
                receive(.advertisement(advertisement, from: source))
            } catch {
                receive(.dropped(error, from: source))
            }
        }
        self.socket.close()
        self.finished.succeed()
    }
}
