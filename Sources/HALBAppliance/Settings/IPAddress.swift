#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, read from text and written back in its canonical form (`2001:db8::1`).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let bytes: [UInt8]

    /// Reads a dotted-quad IPv4 address or an IPv6 address (no brackets, no zone); `nil` for anything else.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { self.bytes.count == 4 }

    /// `IPv4` or `IPv6`, for messages.
    public var familyName: String { self.isIPv4 ? "IPv4" : "IPv6" }

    /// The length of a full prefix: 32 or 128.
    public var bitCount: Int { self.bytes.count * 8 }

    /// 0.0.0.0/8 or `::`.
    public var isUnspecified: Bool {
        self.isIPv4 ? self.bytes[0] == 0 : self.bytes.allSatisfy { $0 == 0 }
    }

    /// 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        self.isIPv4 ? self.bytes[0] == 127 : self.bytes.dropLast().allSatisfy { $0 == 0 } && self.bytes[15] == 1
    }

    /// 224.0.0.0/4 and the reserved 240.0.0.0/4 (with the broadcast address), or ff00::/8.
    public var isMulticastOrReserved: Bool { self.isIPv4 ? self.bytes[0] >= 224 : self.bytes[0] == 0xFF }

    /// An IPv4 address written as IPv6, `::ffff:a.b.c.d`.
    public var isIPv4Mapped: Bool {
        !self.isIPv4 && self.bytes[0..<10].allSatisfy { $0 == 0 } && self.bytes[10] == 0xFF && self.bytes[11] == 0xFF
    }

    /// fe80::/10.
    public var isLinkLocalIPv6: Bool { !self.isIPv4 && self.bytes[0] == 0xFE && self.bytes[1] & 0xC0 == 0x80 }

    /// Whether `other` has the same first `prefix` bits.
    public func sharesPrefix(_ prefix: Int, with other: IPAddress) -> Bool {
        guard self.bytes.count == other.bytes.count else { return false }
        for bit in 0..<min(prefix, self.bitCount) {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if self.bytes[bit / 8] & mask != other.bytes[bit / 8] & mask { return false }
        }
        return true
    }

    /// Whether the bits after the first `prefix` are all `bit` (all zero: a network's own address; all one: its
    /// IPv4 broadcast address).
    func hostBitsAll(_ bit: Bool, after prefix: Int) -> Bool {
        for index in prefix..<self.bitCount {
            let set = self.bytes[index / 8] & (UInt8(0x80) >> UInt8(index % 8)) != 0
            if set != bit { return false }
        }
        return true
    }

    /// The canonical text (inet_ntop).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var bytes = self.bytes
        let family = self.isIPv4 ? AF_INET : AF_INET6
        guard inet_ntop(family, &bytes, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address on an interface with its prefix length, as `Address=` takes it: `192.0.2.10/24`.
public struct InterfaceAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address.
    public var address: IPAddress
    /// The prefix length: 1-32 for IPv4, 1-128 for IPv6.
    public var prefix: Int

    /// Creates an interface address.
    public init(address: IPAddress, prefix: Int) {
        self.address = address
        self.prefix = prefix
    }

    /// Whether `other` is in this address's network.
    public func contains(_ other: IPAddress) -> Bool { self.address.sharesPrefix(self.prefix, with: other) }

    /// `address/prefix`.
    public var description: String { "\(self.address)/\(self.prefix)" }
}
