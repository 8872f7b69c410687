#if canImport(Glibc)
import Glibc
#endif

/// The raw IPv6 socket of VRRP on one interface, as system calls: next header 112, bound to the interface, joined
/// to ff02::12, hop limit 255, with the hop limit and destination of each received packet as control messages.
///
/// Kept apart from the transport, with Glibc as its only import, so the socket types resolve to Glibc's.
struct IPv6RawSocket: Sendable {
    let descriptor: Int32

    /// Opens and sets up the socket; it wakes a blocked receive five times a second.
    static func openVRRP(interface: NetworkInterface) throws(FailoverError) -> IPv6RawSocket {
        let fd = socket(
            AF_INET6,
            Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            Int32(VRRPAdvertisement.ipProtocol)
        )
        guard fd >= 0 else { throw .system("VRRP IPv6 socket on \(interface.name)", errno: errno) }
        do throws(FailoverError) {
            var name = Array(interface.name.utf8) + [0]
            guard setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, &name, socklen_t(name.count)) == 0 else {
                throw .system("bind the VRRP IPv6 socket to \(interface.name)", errno: errno)
            }
            func set(_ option: Int32, _ value: Int32, _ what: String) throws(FailoverError) {
                var value = value
                guard setsockopt(fd, Int32(IPPROTO_IPV6), option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
                else {
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
            guard
                setsockopt(
                    fd,
                    Int32(IPPROTO_IPV6),
                    IPV6_ADD_MEMBERSHIP,
                    &group,
                    socklen_t(MemoryLayout<ipv6_mreq>.size)
                ) == 0
            else {
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
        return IPv6RawSocket(descriptor: fd)
    }

    /// Sends `message` to `destination` from `source` (which the checksum was computed for) on interface `index`.
    ///
    /// - Returns: `nil`, or the errno of a failure.
    func send(
        _ message: [UInt8],
        to destination: VRRPAddress,
        from source: VRRPAddress,
        interface index: Int32
    ) -> Int32? {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: destination.bytes) }
        address.sin6_scope_id = UInt32(index)
        // IPV6_PKTINFO (struct in6_pktinfo): the source the checksum was computed for, and the interface.
        let info = source.bytes + withUnsafeBytes(of: UInt32(index)) { Array($0) }
        var control = ControlMessages.encode(level: Int32(IPPROTO_IPV6), type: IPV6_PKTINFO, data: info)
        let sent = message.withUnsafeBytes { payload in
            control.withUnsafeMutableBytes { controlBytes in
                withUnsafeMutablePointer(to: &address) { name in
                    var vector = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress),
                        iov_len: payload.count
                    )
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
        return sent < 0 ? errno : nil
    }

    /// Receives one packet into `buffer`, with its control messages into `control`.
    ///
    /// - Returns: the packet's length, sender and control length, or `nil` (a timeout, a signal or an error).
    func receive(
        into buffer: inout [UInt8],
        control: inout [UInt8]
    ) -> (length: Int, sender: VRRPAddress, controlLength: Int)? {
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
        guard length >= 0 else { return nil }
        return (length, VRRPAddress(bytes: withUnsafeBytes(of: sender.sin6_addr) { Array($0) })!, controlLength)
    }

    func close() {
        Glibc.close(self.descriptor)
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
