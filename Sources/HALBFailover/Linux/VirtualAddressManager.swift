#if canImport(Glibc)
import Glibc
#endif

/// Puts a virtual address on an interface, takes it off, and announces it to the segment.
public protocol VirtualAddressManager: Sendable {
    /// Adds `address`/`prefix` to `interface` for `lifetime` (whole seconds, at least 1), after which the kernel
    /// removes it unless it is added again: so a device that dies without releasing it does not keep it. Adding an
    /// address that is there already renews it.
    func add(
        _ address: VRRPAddress,
        prefix: Int,
        to interface: NetworkInterface,
        lifetime: Duration
    ) throws(FailoverError)
    /// Removes `address` from `interface`; removing an absent address succeeds.
    func remove(_ address: VRRPAddress, prefix: Int, from interface: NetworkInterface) throws(FailoverError)
    /// Tells the segment that `address` is now at `interface`: a gratuitous ARP for IPv4, an unsolicited neighbour
    /// advertisement for IPv6.
    func announce(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError)
}

/// The real thing on Linux: rtnetlink for addresses, an ARP announcement on a packet socket, an unsolicited
/// neighbour advertisement on an ICMPv6 socket. Needs `CAP_NET_ADMIN` and `CAP_NET_RAW` (root).
public struct LinuxAddressManager: VirtualAddressManager {
    public init() {}

    public func add(
        _ address: VRRPAddress,
        prefix: Int,
        to interface: NetworkInterface,
        lifetime: Duration
    ) throws(FailoverError) {
        // Create or replace: idempotent, and renews the lifetime.
        try Self.netlink(
            type: Netlink.newAddress,
            flags: Netlink.request | Netlink.acknowledge | Netlink.create | Netlink.replace,
            address: address,
            prefix: prefix,
            interface: interface,
            lifetimeSeconds: UInt32(max(1, lifetime.components.seconds))
        )
    }

    public func remove(_ address: VRRPAddress, prefix: Int, from interface: NetworkInterface) throws(FailoverError) {
        do {
            try Self.netlink(
                type: Netlink.deleteAddress,
                flags: Netlink.request | Netlink.acknowledge,
                address: address,
                prefix: prefix,
                interface: interface,
                lifetimeSeconds: nil
            )
        } catch {
            // Already gone is what was asked for.
            if error == .netlink("remove \(address)/\(prefix) from \(interface.name)", errno: EADDRNOTAVAIL) { return }
            throw error
        }
    }

    public func announce(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError) {
        guard !address.isIPv6 else { return try Self.advertiseNeighbour(address, on: interface) }
        let fd = socket(
            AF_PACKET,
            Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            Int32(UInt16(0x0806).bigEndian)
        )
        guard fd >= 0 else { throw .system("ARP socket on \(interface.name)", errno: errno) }
        defer { close(fd) }
        let mac = interface.hardwareAddress
        let broadcast: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        // An ARP announcement (RFC 5227): a request with sender and target both the address.
        var frame = broadcast + mac + [0x08, 0x06]
        frame += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]
        frame += mac + address.bytes + [0, 0, 0, 0, 0, 0] + address.bytes
        // struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].
        var link = [UInt8](repeating: 0, count: 20)
        withUnsafeBytes(of: UInt16(AF_PACKET)) { link.replaceSubrange(0..<2, with: $0) }
        withUnsafeBytes(of: UInt16(0x0806).bigEndian) { link.replaceSubrange(2..<4, with: $0) }
        withUnsafeBytes(of: interface.index) { link.replaceSubrange(4..<8, with: $0) }
        link[11] = 6
        link.replaceSubrange(12..<18, with: broadcast)
        let sent = frame.withUnsafeBytes { frameBytes in
            link.withUnsafeBytes { linkBytes in
                sendto(
                    fd,
                    frameBytes.baseAddress,
                    frameBytes.count,
                    0,
                    linkBytes.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                    socklen_t(linkBytes.count)
                )
            }
        }
        guard sent == frame.count else {
            throw .system("ARP announcement of \(address) on \(interface.name)", errno: errno)
        }
    }

    /// An unsolicited neighbour advertisement (RFC 4861 §7.2.6) to all nodes (ff02::1), with the override flag, so
    /// hosts replace the VIP's cached link-layer address with the interface's. The kernel fills in the ICMPv6
    /// checksum and picks the link-local source.
    private static func advertiseNeighbour(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError)
    {
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { throw .system("ICMPv6 socket on \(interface.name)", errno: errno) }
        defer { close(fd) }
        var hops: Int32 = 255  // RFC 4861 §7.1.2: receivers drop neighbour discovery that crossed a router
        var index = interface.index
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &index, socklen_t(MemoryLayout<Int32>.size)) == 0
        else { throw .system("ICMPv6 socket options on \(interface.name)", errno: errno) }
        // Type 136, code 0, checksum, flags (override), reserved; the target; option 2 (target link-layer address).
        var message: [UInt8] = [136, 0, 0, 0, 0x20, 0, 0, 0] + address.bytes
        message += [2, 1] + interface.hardwareAddress
        var destination = sockaddr_in6()
        destination.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &destination.sin6_addr) { $0.copyBytes(from: VRRPAddress("ff02::1")!.bytes) }
        destination.sin6_scope_id = UInt32(interface.index)
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard sent == message.count else {
            throw .system("neighbour advertisement of \(address) on \(interface.name)", errno: errno)
        }
    }

    /// Sends one RTM_NEWADDR/RTM_DELADDR request and waits for the kernel's answer.
    private static func netlink(
        type: UInt16,
        flags: UInt16,
        address: VRRPAddress,
        prefix: Int,
        interface: NetworkInterface,
        lifetimeSeconds: UInt32?
    ) throws(FailoverError) {
        let operation =
            type == Netlink.newAddress
            ? "add \(address)/\(prefix) to \(interface.name)" : "remove \(address)/\(prefix) from \(interface.name)"
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Netlink.route)
        guard fd >= 0 else { throw .system("netlink socket", errno: errno) }
        defer { close(fd) }

        func attribute(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
            var bytes = Self.littleEndian(UInt16(4 + data.count)) + Self.littleEndian(type) + data
            while bytes.count % 4 != 0 { bytes.append(0) }
            return bytes
        }
        // struct ifaddrmsg: family, prefix length, flags, scope (universe), interface index. An IPv6 VIP skips
        // duplicate address detection (IFA_F_NODAD), or it would be unusable for a second after each takeover:
        // VRRP, not DAD, decides who holds it.
        var body: [UInt8] = [UInt8(address.isIPv6 ? AF_INET6 : AF_INET), UInt8(prefix), address.isIPv6 ? 0x02 : 0, 0]
        body += Self.littleEndian(UInt32(bitPattern: interface.index))
        body += attribute(Netlink.ifaLocal, address.bytes)
        body += attribute(Netlink.ifaAddress, address.bytes)
        if let lifetime = lifetimeSeconds {
            // struct ifa_cacheinfo: preferred and valid lifetimes, then two time stamps the kernel sets.
            let cacheInfo = Self.littleEndian(lifetime) + Self.littleEndian(lifetime) + [UInt8](repeating: 0, count: 8)
            body += attribute(Netlink.ifaCacheInfo, cacheInfo)
        }
        // struct nlmsghdr: length, type, flags, sequence, port id.
        let message =
            Self.littleEndian(UInt32(16 + body.count)) + Self.littleEndian(type) + Self.littleEndian(flags)
            + Self.littleEndian(UInt32(1)) + Self.littleEndian(UInt32(0)) + body
        let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == message.count else { throw .system(operation, errno: errno) }

        var answer = [UInt8](repeating: 0, count: 4096)
        let received = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard received >= 20 else { throw .system(operation, errno: received < 0 ? errno : EIO) }
        let answerType = UInt16(answer[4]) | UInt16(answer[5]) << 8
        guard answerType == Netlink.messageError else { return }
        let code = Int32(
            bitPattern: UInt32(answer[16]) | UInt32(answer[17]) << 8 | UInt32(answer[18]) << 16 | UInt32(answer[19])
                << 24
        )
        guard code == 0 else { throw .netlink(operation, errno: -code) }
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// The rtnetlink numbers HALB uses (linux/netlink.h, linux/if_addr.h), which Swift's Glibc module does not import.
private enum Netlink {
    /// NETLINK_ROUTE: the protocol of an AF_NETLINK socket for addresses and routes.
    static let route: Int32 = 0
    /// NLMSG_ERROR: the type of the kernel's answer (an error code, 0 for success).
    static let messageError: UInt16 = 2
    /// RTM_NEWADDR, RTM_DELADDR: the message types that add and remove an address.
    static let newAddress: UInt16 = 20
    static let deleteAddress: UInt16 = 21
    /// NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_CREATE: a request, answered, that replaces or creates.
    static let request: UInt16 = 0x1
    static let acknowledge: UInt16 = 0x4
    static let replace: UInt16 = 0x100
    static let create: UInt16 = 0x400
    /// IFA_ADDRESS, IFA_LOCAL, IFA_CACHEINFO: the attributes of an address message.
    static let ifaAddress: UInt16 = 1
    static let ifaLocal: UInt16 = 2
    static let ifaCacheInfo: UInt16 = 6
}
