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

    private static func hardwareAddress(of name: String) -> [UInt8] {
        // /sys/class/net/<name>/address holds "aa:bb:cc:dd:ee:ff".
        guard let file = fopen("/sys/class/net/\(name)/address", "r") else { return [0, 0, 0, 0, 0, 0] }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 64)
        guard fgets(&line, Int32(line.count), file) != nil else { return [0, 0, 0, 0, 0, 0] }
        let text = String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let bytes = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        return bytes.count == 6 ? bytes : [0, 0, 0, 0, 0, 0]
    }
}
