#if canImport(Glibc)
import Glibc
#endif

/// Facts about a local network interface that VRRP needs: its index, hardware address and primary IPv4 address.
/// Its link-local IPv6 addresses are looked up when an IPv6 transport opens (``linkLocalIPv6Addresses(of:)``).
public struct NetworkInterface: Sendable, Hashable {
    public let name: String
    public let index: Int32
    /// The Ethernet address, 6 bytes (all zero on interfaces without one, such as loopback).
    public let hardwareAddress: [UInt8]
    /// The first IPv4 address on the interface: the source of advertisements and the tie-breaker.
    public let primaryIPv4: VRRPAddress?

    /// Reads the interface `name`.
    ///
    /// - Throws: ``FailoverError`` when there is no such interface.
    public static func named(_ name: String) throws(FailoverError) -> NetworkInterface {
        let index = Int32(if_nametoindex(name))
        guard index > 0 else { throw .noInterface(name) }
        return NetworkInterface(
            name: name,
            index: index,
            hardwareAddress: Self.hardwareAddress(of: name),
            primaryIPv4: Self.ipv4Addresses(of: name).first
        )
    }

    /// The IPv4 addresses on `name`, in the order the kernel lists them (primary first).
    public static func ipv4Addresses(of name: String) -> [VRRPAddress] {
        Self.addresses(of: name, family: AF_INET)
    }

    /// The link-local IPv6 addresses (fe80::/10) on `name`: the source of IPv6 advertisements is the first.
    public static func linkLocalIPv6Addresses(of name: String) -> [VRRPAddress] {
        Self.addresses(of: name, family: AF_INET6).filter { $0.bytes[0] == 0xFE && $0.bytes[1] & 0xC0 == 0x80 }
    }

    private static func addresses(of name: String, family: Int32) -> [VRRPAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var result: [VRRPAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(family),
                String(cString: entry.pointee.ifa_name) == name
            else { continue }
            let bytes =
                family == AF_INET
                ? address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                }
                : address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                }
            if let vrrpAddress = VRRPAddress(bytes: bytes) { result.append(vrrpAddress) }
        }
        return result
    }

    /// The interface's link-layer address, as the kernel lists it for this process's network namespace
    /// (getifaddrs' AF_PACKET entry, from netlink). Not /sys/class/net: in a container (systemd-nspawn, or a shell
    /// that entered a namespace) sysfs may show another namespace's interfaces, and the VIP would be announced with
    /// a MAC address that is not this host's.
    private static func hardwareAddress(of name: String) -> [UInt8] {
        let none: [UInt8] = [0, 0, 0, 0, 0, 0]
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return none }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_PACKET),
                String(cString: entry.pointee.ifa_name) == name
            else { continue }
            // struct sockaddr_ll: family (2), protocol (2), ifindex (4), hatype (2), pkttype (1), halen (1),
            // addr[8]: the address is the first halen bytes from offset 12.
            let bytes = UnsafeRawPointer(address)
            let length = Int(bytes.load(fromByteOffset: 11, as: UInt8.self))
            guard length == 6 else { return none }
            return (0..<6).map { bytes.load(fromByteOffset: 12 + $0, as: UInt8.self) }
        }
        return none
    }
}
