/// A VRRP version 3 advertisement (RFC 5798 §5.2, as updated by RFC 9568): the only VRRPv3 message.
///
/// ```
///  0                   1                   2                   3
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// |                       IPvX Address(es)                        |
/// ```
/// The checksum covers an IPv4 or IPv6 pseudo-header (source, destination, protocol 112, length) and the message.
public struct VRRPAdvertisement: Hashable, Sendable {
    /// The IP protocol number of VRRP.
    public static let ipProtocol: UInt8 = 112
    /// Where advertisements are sent: 224.0.0.18 and ff02::12.
    public static let ipv4Multicast = VRRPAddress("224.0.0.18")!
    public static let ipv6Multicast = VRRPAddress("ff02::12")!

    /// The virtual router id, 1-255.
    public var vrid: UInt8
    /// The sender's priority: 255 address owner, 1-254 backup, 0 a master that resigns.
    public var priority: UInt8
    /// The sender's advertisement interval in centiseconds (12 bits: 1-4095).
    public var maxAdvertInterval: UInt16
    /// The virtual addresses, all of one family.
    public var addresses: [VRRPAddress]

    /// Creates an advertisement.
    public init(vrid: UInt8, priority: UInt8, maxAdvertInterval: UInt16, addresses: [VRRPAddress]) {
        self.vrid = vrid
        self.priority = priority
        self.maxAdvertInterval = maxAdvertInterval
        self.addresses = addresses
    }

    // MARK: - Encoding

    /// The message bytes (without IP header), with the checksum over the pseudo-header of `source` and
    /// `destination`.
    public func encoded(source: VRRPAddress, destination: VRRPAddress) -> [UInt8] {
        var bytes: [UInt8] = [
            0x31,  // version 3, type 1
            self.vrid,
            self.priority,
            UInt8(self.addresses.count),
            UInt8((self.maxAdvertInterval >> 8) & 0x0F),
            UInt8(self.maxAdvertInterval & 0xFF),
            0, 0,
        ]
        for address in self.addresses { bytes += address.bytes }
        let checksum = Self.checksum(bytes, source: source, destination: destination)
        bytes[6] = UInt8(checksum >> 8)
        bytes[7] = UInt8(checksum & 0xFF)
        return bytes
    }

    /// The checksum of `message` (its checksum field taken as zero) under the pseudo-header.
    static func checksum(_ message: [UInt8], source: VRRPAddress, destination: VRRPAddress) -> UInt16 {
        var sum: UInt32 = 0
        InternetChecksum.add(source.bytes, to: &sum)
        InternetChecksum.add(destination.bytes, to: &sum)
        let length = message.count
        if source.isIPv6 {
            // RFC 8200 §8.1: upper-layer length (32 bits), three zero bytes, next header.
            InternetChecksum.add([0, 0, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0, Self.ipProtocol], to: &sum)
        } else {
            // RFC 768 style: zero, protocol, length.
            InternetChecksum.add([0, Self.ipProtocol, UInt8(length >> 8), UInt8(length & 0xFF)], to: &sum)
        }
        InternetChecksum.add(message[0..<6], to: &sum)
        InternetChecksum.add(message[8...], to: &sum)
        return InternetChecksum.finish(sum)
    }

    // MARK: - Decoding

    /// Decodes and checks a message received with `hopLimit` (the IPv4 TTL or IPv6 hop limit) from `source` to
    /// `destination`, as RFC 5798 §7.1 requires: TTL 255, version 3, type 1, a length that holds the addresses,
    /// a correct checksum.
    ///
    /// - Throws: ``VRRPPacketError`` naming the first check that failed.
    public static func decode(
        _ message: [UInt8],
        source: VRRPAddress,
        destination: VRRPAddress,
        hopLimit: Int
    ) throws(VRRPPacketError) -> VRRPAdvertisement {
        guard source.isIPv6 == destination.isIPv6 else {
            throw .addressFamily(source: source, destination: destination)
        }
        guard hopLimit == 255 else { throw .hopLimit(hopLimit, ipv6: source.isIPv6) }
        guard message.count >= 8 else { throw .truncated(length: message.count, needed: 8, what: "a VRRP header") }
        let version = Int(message[0] >> 4)
        guard version == 3 else { throw .version(version) }
        let type = Int(message[0] & 0x0F)
        guard type == 1 else { throw .type(type) }
        let count = Int(message[3])
        let size = source.isIPv6 ? 16 : 4
        guard count > 0 else { throw .noAddresses }
        guard message.count == 8 + count * size else {
            throw .addressCount(count: count, length: message.count, addressSize: size)
        }
        let interval = UInt16(message[4] & 0x0F) << 8 | UInt16(message[5])
        guard interval > 0 else { throw .zeroInterval }
        let received = UInt16(message[6]) << 8 | UInt16(message[7])
        let computed = Self.checksum(message, source: source, destination: destination)
        guard received == computed else { throw .checksum(received: received, computed: computed) }
        let addresses = (0..<count).map { index in
            VRRPAddress(bytes: Array(message[(8 + index * size)..<(8 + (index + 1) * size)]))!
        }
        return VRRPAdvertisement(
            vrid: message[1],
            priority: message[2],
            maxAdvertInterval: interval,
            addresses: addresses
        )
    }

    /// Decodes an IPv4 datagram as a raw socket reads it (IP header included), checking the header first.
    ///
    /// - Returns: the advertisement and the sender's address.
    /// - Throws: ``VRRPPacketError`` naming the first check that failed.
    public static func decode(
        ipv4Datagram datagram: [UInt8]
    ) throws(VRRPPacketError) -> (
        advertisement: VRRPAdvertisement, source: VRRPAddress
    ) {
        guard datagram.count >= 20 else { throw .truncated(length: datagram.count, needed: 20, what: "an IPv4 header") }
        let version = Int(datagram[0] >> 4)
        guard version == 4 else { throw .notIPv4(version: version) }
        let headerLength = Int(datagram[0] & 0x0F) * 4
        guard (20...60).contains(headerLength), headerLength <= datagram.count else {
            throw .ipHeaderLength(headerLength)
        }
        let totalLength = Int(datagram[2]) << 8 | Int(datagram[3])
        guard totalLength == datagram.count else {
            throw .ipTotalLength(declared: totalLength, received: datagram.count)
        }
        guard datagram[9] == Self.ipProtocol else { throw .ipProtocol(Int(datagram[9])) }
        let source = VRRPAddress(bytes: Array(datagram[12..<16]))!
        let destination = VRRPAddress(bytes: Array(datagram[16..<20]))!
        let advertisement = try Self.decode(
            Array(datagram[headerLength...]),
            source: source,
            destination: destination,
            hopLimit: Int(datagram[8])
        )
        return (advertisement, source)
    }
}
