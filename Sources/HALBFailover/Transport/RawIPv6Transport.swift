#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// VRRP over IPv6 on one interface: a raw socket for next header 112, bound to the interface and joined to
/// ff02::12, sending with hop limit 255 from the interface's link-local address (RFC 5798 §5.1.2.1).
///
/// A raw IPv6 socket does not return the IPv6 header, and RFC 5798 §7.1 needs its hop limit and destination to
/// check a packet; both come as control messages (`IPV6_HOPLIMIT`, `IPV6_PKTINFO`), which NIO does not hand on.
/// So this transport reads with `recvmsg` on a thread of its own: a few packets a second at most, and the
/// thread's wake-ups are independent of the proxy's event loops. Needs `CAP_NET_RAW` (root).
public final class RawIPv6Transport: VRRPTransport {
    public let sourceAddress: VRRPAddress
    private let descriptor: Int32
    private let interface: NetworkInterface
    private let logger: Logger
    private let closed = NIOLockedValueBox(false)
    /// Completed by the receive thread when it has stopped and closed the socket.
    private let finished: EventLoopPromise<Void>
    /// When a send failure was last logged: while the link is down every advertisement fails, and one line per
    /// 10 s says enough.
    private let lastLogged = NIOLockedValueBox<NIODeadline?>(nil)

    private init(
        descriptor: Int32,
        interface: NetworkInterface,
        source: VRRPAddress,
        logger: Logger,
        finished: EventLoopPromise<Void>
    ) {
        self.descriptor = descriptor
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
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(VRRPAdvertisement.ipProtocol))
        guard fd >= 0 else { throw .system("VRRP IPv6 socket on \(interface.name)", errno: errno) }
        do throws(FailoverError) {
            var name = Array(interface.name.utf8) + [0]
            guard setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, &name, socklen_t(name.count)) == 0 else {
                throw .system("bind the VRRP IPv6 socket to \(interface.name)", errno: errno)
            }
            func set(_ option: Int32, _ value: Int32, _ what: String) throws(FailoverError) {
                var value = value
                guard setsockopt(fd, Int32(IPPROTO_IPV6), option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw .system("\(what) on \(interface.name)", errno: errno)
                }
            }
            try set(IPV6_MULTICAST_HOPS, 255, "IPv6 multicast hop limit 255")
            try set(IPV6_UNICAST_HOPS, 255, "IPv6 unicast hop limit 255")
            try set(IPV6_MULTICAST_LOOP, 0, "IPv6 multicast loop off")
            try set(IPV6_MULTICAST_IF, interface.index, "IPv6 multicast interface")
            try set(IPV6_RECVHOPLIMIT, 1, "IPv6 receive hop limit")
            try set(IPV6_RECVPKTINFO, 1, "IPv6 receive packet info")
            try set(IPV6_TCLASS, 0xC0, "IPv6 traffic class CS6")
            var group = ipv6_mreq()
            withUnsafeMutableBytes(of: &group.ipv6mr_multiaddr) {
                $0.copyBytes(from: VRRPAdvertisement.ipv6Multicast.bytes)
            }
            group.ipv6mr_interface = UInt32(interface.index)
            guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, &group, socklen_t(MemoryLayout<ipv6_mreq>.size)) == 0 else {
                throw .system("join ff02::12 on \(interface.name)", errno: errno)
            }
            // Wake up five times a second to notice close().
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw .system("VRRP IPv6 socket timeout on \(interface.name)", errno: errno)
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        let transport = RawIPv6Transport(
            descriptor: fd,
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
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: destination.bytes) }
            address.sin6_scope_id = UInt32(self.interface.index)
            // IPV6_PKTINFO (struct in6_pktinfo): the source the checksum was computed for, and the interface.
            let info = self.sourceAddress.bytes + withUnsafeBytes(of: UInt32(self.interface.index)) { Array($0) }
            var control = ControlMessages.encode(level: Int32(IPPROTO_IPV6), type: IPV6_PKTINFO, data: info)
            let sent = message.withUnsafeBytes { payload in
                control.withUnsafeMutableBytes { controlBytes in
                    withUnsafeMutablePointer(to: &address) { name in
                        var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress), iov_len: payload.count)
                        return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                            var header = msghdr()
                            header.msg_name = UnsafeMutableRawPointer(name)
                            header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
                            header.msg_iov = vectorPointer
                            header.msg_iovlen = 1
                            header.msg_control = controlBytes.baseAddress
                            header.msg_controllen = controlBytes.count
                            return sendmsg(self.descriptor, &header, Int32(MSG_DONTWAIT))
                        }
                    }
                }
            }
            if sent < 0 { self.logSendFailure(errno: errno) }
        }
    }

    public func close() async {
        self.closed.withLockedValue { $0 = true }
        try? await self.finished.futureResult.get()
    }

    private func logSendFailure(errno code: Int32) {
        let now = NIODeadline.now()
        let log = self.lastLogged.withLockedValue { last -> Bool in
            guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
            last = now
            return true
        }
        guard log else { return }
        self.logger.warning(
            "Cannot send a VRRP advertisement",
            metadata: [
                "vrrp.interface": "\(self.interface.name)",
                "error": "\(FailoverError.system("send from \(self.sourceAddress)", errno: code))",
            ]
        )
    }

    /// Reads packets until ``close()``; then closes the socket.
    private func receiveLoop(_ receive: @Sendable (VRRPReceived) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 256)
        while !self.closed.withLockedValue({ $0 }) {
            var sender = sockaddr_in6()
            let (length, controlLength) = buffer.withUnsafeMutableBytes { payload in
                control.withUnsafeMutableBytes { controlBytes in
                    withUnsafeMutablePointer(to: &sender) { name in
                        var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                        return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                            var header = msghdr()
                            header.msg_name = UnsafeMutableRawPointer(name)
                            header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
                            header.msg_iov = vectorPointer
                            header.msg_iovlen = 1
                            header.msg_control = controlBytes.baseAddress
                            header.msg_controllen = controlBytes.count
                            return (recvmsg(self.descriptor, &header, 0), header.msg_controllen)
                        }
                    }
                }
            }
            guard length >= 0 else {
                // A timeout (to look at `closed`), a signal, or an error while the link is down: go on.
                if errno != EAGAIN && errno != EINTR { usleep(100_000) }
                continue
            }
            let source = VRRPAddress(bytes: withUnsafeBytes(of: sender.sin6_addr) { Array($0) })!
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
        Glibc.close(self.descriptor)
        self.finished.succeed()
    }
}

/// Ancillary data of `sendmsg` and `recvmsg` (`struct cmsghdr`), laid out as Linux does: a `size_t` length, the
/// level and type as `int`, then the data, each message padded to the size of `size_t`.
enum ControlMessages {
    private static let alignment = MemoryLayout<Int>.size
    private static let headerSize = MemoryLayout<Int>.size + 8

    private static func aligned(_ length: Int) -> Int {
        (length + alignment - 1) / alignment * alignment
    }

    /// One control message holding `data`.
    static func encode(level: Int32, type: Int32, data: [UInt8]) -> [UInt8] {
        var bytes = withUnsafeBytes(of: headerSize + data.count) { Array($0) }
        bytes += withUnsafeBytes(of: level) { Array($0) } + withUnsafeBytes(of: type) { Array($0) }
        bytes += data
        bytes += [UInt8](repeating: 0, count: aligned(bytes.count) - bytes.count)
        return bytes
    }

    /// The hop limit (`IPV6_HOPLIMIT`) and destination (`IPV6_PKTINFO`) among received control messages.
    static func decode(_ bytes: [UInt8]) -> (hopLimit: Int?, destination: VRRPAddress?) {
        var hopLimit: Int?
        var destination: VRRPAddress?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + headerSize <= raw.count {
                let length = raw.loadUnaligned(fromByteOffset: offset, as: Int.self)
                guard length >= headerSize, length <= raw.count - offset else { break }
                let level = raw.loadUnaligned(fromByteOffset: offset + alignment, as: Int32.self)
                let type = raw.loadUnaligned(fromByteOffset: offset + alignment + 4, as: Int32.self)
                let data = UnsafeRawBufferPointer(rebasing: raw[(offset + headerSize)..<(offset + length)])
                if level == Int32(IPPROTO_IPV6) {
                    if type == IPV6_HOPLIMIT, data.count >= 4 {
                        hopLimit = Int(data.loadUnaligned(as: Int32.self))
                    } else if type == IPV6_PKTINFO, data.count >= 16 {
                        destination = VRRPAddress(bytes: Array(data.prefix(16)))
                    }
                }
                offset += aligned(length)
            }
        }
        return (hopLimit, destination)
    }
}
