/// Why a received VRRP packet was dropped. The description names the field and its value.
public struct VRRPPacketError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case truncated(length: Int, needed: Int, what: String)
        case notIPv4(version: Int)
        case ipHeaderLength(Int)
        case ipTotalLength(declared: Int, received: Int)
        case ipProtocol(Int)
        case hopLimit(Int, ipv6: Bool)
        case version(Int)
        case type(Int)
        case addressCount(count: Int, length: Int, addressSize: Int)
        case noAddresses
        case zeroInterval
        case checksum(received: UInt16, computed: UInt16)
        case addressFamily(source: String, destination: String)
        case missingIPv6Header
    }

    private let base: Base

    /// The packet is shorter than `what` needs.
    static func truncated(length: Int, needed: Int, what: String) -> Self {
        Self(base: .truncated(length: length, needed: needed, what: what))
    }
    static func notIPv4(version: Int) -> Self { Self(base: .notIPv4(version: version)) }
    static func ipHeaderLength(_ length: Int) -> Self { Self(base: .ipHeaderLength(length)) }
    static func ipTotalLength(declared: Int, received: Int) -> Self {
        Self(base: .ipTotalLength(declared: declared, received: received))
    }
    static func ipProtocol(_ value: Int) -> Self { Self(base: .ipProtocol(value)) }
    static func hopLimit(_ value: Int, ipv6: Bool) -> Self { Self(base: .hopLimit(value, ipv6: ipv6)) }
    static func version(_ value: Int) -> Self { Self(base: .version(value)) }
    static func type(_ value: Int) -> Self { Self(base: .type(value)) }
    static func addressCount(count: Int, length: Int, addressSize: Int) -> Self {
        Self(base: .addressCount(count: count, length: length, addressSize: addressSize))
    }
    static let noAddresses = Self(base: .noAddresses)
    static let zeroInterval = Self(base: .zeroInterval)
    static func checksum(received: UInt16, computed: UInt16) -> Self {
        Self(base: .checksum(received: received, computed: computed))
    }
    static func addressFamily(source: VRRPAddress, destination: VRRPAddress) -> Self {
        Self(base: .addressFamily(source: "\(source)", destination: "\(destination)"))
    }

    /// The kernel did not say a received IPv6 packet's hop limit or destination.
    static let missingIPv6Header = Self(base: .missingIPv6Header)

    public var description: String {
        switch self.base {
        case .truncated(let length, let needed, let what):
            "length \(length) is shorter than the \(needed) bytes of \(what)"
        case .notIPv4(let version):
            "IP version \(version) is not 4"
        case .ipHeaderLength(let length):
            "IP header length \(length) is not 20-60 bytes"
        case .ipTotalLength(let declared, let received):
            "IP total length \(declared) does not match the \(received) bytes received"
        case .ipProtocol(let value):
            "IP protocol \(value) is not 112 (VRRP)"
        case .hopLimit(let value, let ipv6):
            "\(ipv6 ? "hop limit" : "TTL") \(value) is not 255 (the packet crossed a router)"
        case .version(let value):
            "version \(value) is not 3"
        case .type(let value):
            "type \(value) is not 1 (advertisement)"
        case .addressCount(let count, let length, let size):
            "address count \(count) does not match length \(length) (8 + \(size) bytes per address)"
        case .noAddresses:
            "address count 0: an advertisement carries at least one address"
        case .zeroInterval:
            "max advert interval 0 is not 1-4095 centiseconds"
        case .checksum(let received, let computed):
            "checksum 0x\(Self.hex(received)) does not match 0x\(Self.hex(computed)) computed"
        case .addressFamily(let source, let destination):
            "source \(source) and destination \(destination) are not of one address family"
        case .missingIPv6Header:
            "no hop limit or destination came with the IPv6 packet"
        }
    }

    private static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}
