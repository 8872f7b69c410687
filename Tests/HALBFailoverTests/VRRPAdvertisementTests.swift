import Foundation
import Testing

@testable import HALBFailover

/// One captured keepalived packet and what tcpdump read in it.
struct GoldenPacket: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var ipv4Datagram: String?
    var message: String?
    var vrid: UInt8
    var priority: UInt8
    var maxAdvertInterval: UInt16
    var addresses: [String]
    var source: String
    var destination: String
    var hopLimit: Int

    var testDescription: String { self.name }

    static let all: [GoldenPacket] = {
        let url = Bundle.module.url(forResource: "Fixtures/keepalived-adverts", withExtension: "json")!
        return try! JSONDecoder().decode([GoldenPacket].self, from: Data(contentsOf: url))
    }()

    var expected: VRRPAdvertisement {
        VRRPAdvertisement(
            vrid: self.vrid,
            priority: self.priority,
            maxAdvertInterval: self.maxAdvertInterval,
            addresses: self.addresses.map { VRRPAddress($0)! }
        )
    }
}

func bytes(hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

@Suite struct VRRPAdvertisementTests {
    private let source4 = VRRPAddress("192.0.2.1")!
    private let source6 = VRRPAddress("fe80::1")!

    @Test(arguments: GoldenPacket.all)
    func keepalivedPacketsDecodeAndEncodeToTheSameBytes(_ golden: GoldenPacket) throws {
        let source = VRRPAddress(golden.source)!
        let destination = VRRPAddress(golden.destination)!
        let message: [UInt8]
        if let datagram = golden.ipv4Datagram {
            let decoded = try VRRPAdvertisement.decode(ipv4Datagram: bytes(hex: datagram))
            #expect(decoded.advertisement == golden.expected)
            #expect(decoded.source == source)
            message = Array(bytes(hex: datagram)[20...])
        } else {
            message = bytes(hex: golden.message!)
            let decoded = try VRRPAdvertisement.decode(
                message,
                source: source,
                destination: destination,
                hopLimit: golden.hopLimit
            )
            #expect(decoded == golden.expected)
        }
        // Our encoder writes exactly keepalived's bytes, checksum included.
        #expect(golden.expected.encoded(source: source, destination: destination) == message)
    }

    @Test(arguments: [
        VRRPAdvertisement(vrid: 1, priority: 100, maxAdvertInterval: 10, addresses: [VRRPAddress("192.0.2.10")!]),
        VRRPAdvertisement(
            vrid: 255,
            priority: 255,
            maxAdvertInterval: 4095,
            addresses: ["192.0.2.10", "192.0.2.11", "198.51.100.7"].map { VRRPAddress($0)! }
        ),
        VRRPAdvertisement(vrid: 7, priority: 0, maxAdvertInterval: 3, addresses: [VRRPAddress("203.0.113.200")!]),
    ])
    func ipv4RoundTrip(_ advertisement: VRRPAdvertisement) throws {
        let message = advertisement.encoded(source: self.source4, destination: VRRPAdvertisement.ipv4Multicast)
        let decoded = try VRRPAdvertisement.decode(
            message,
            source: self.source4,
            destination: VRRPAdvertisement.ipv4Multicast,
            hopLimit: 255
        )
        #expect(decoded == advertisement)
    }

    @Test func ipv6RoundTrip() throws {
        let advertisement = VRRPAdvertisement(
            vrid: 9,
            priority: 254,
            maxAdvertInterval: 100,
            addresses: [VRRPAddress("2001:db8::10")!, VRRPAddress("2001:db8:1::ffff")!]
        )
        let message = advertisement.encoded(source: self.source6, destination: VRRPAdvertisement.ipv6Multicast)
        #expect(message.count == 8 + 2 * 16)
        let decoded = try VRRPAdvertisement.decode(
            message,
            source: self.source6,
            destination: VRRPAdvertisement.ipv6Multicast,
            hopLimit: 255
        )
        #expect(decoded == advertisement)
    }

    // MARK: - Malformed input

    /// A good keepalived IPv4 datagram to damage.
    private var datagram: [UInt8] { bytes(hex: GoldenPacket.all[0].ipv4Datagram!) }

    private func rejection(of datagram: [UInt8]) -> String? {
        do {
            _ = try VRRPAdvertisement.decode(ipv4Datagram: datagram)
            return nil
        } catch {
            return error.description
        }
    }

    /// Recomputes the VRRP checksum of a damaged datagram, so that only the intended check fails.
    private func resealed(_ datagram: [UInt8]) -> [UInt8] {
        var datagram = datagram
        let message = Array(datagram[20...])
        let checksum = VRRPAdvertisement.checksum(
            message,
            source: VRRPAddress(bytes: Array(datagram[12..<16]))!,
            destination: VRRPAddress(bytes: Array(datagram[16..<20]))!
        )
        datagram[26] = UInt8(checksum >> 8)
        datagram[27] = UInt8(checksum & 0xFF)
        return datagram
    }

    @Test func everyMalformedDatagramIsRejectedWithItsReason() {
        var cases: [(String, [UInt8], String)] = []
        var d = self.datagram
        d[8] = 64
        cases.append(("TTL below 255", d, "TTL 64 is not 255 (the packet crossed a router)"))
        d = self.datagram
        d[20] = 0x21
        cases.append(("VRRPv2", self.resealed(d), "version 2 is not 3"))
        d = self.datagram
        d[20] = 0x32
        cases.append(("unknown type", self.resealed(d), "type 2 is not 1 (advertisement)"))
        d = self.datagram
        d[23] = 2
        cases.append(
            (
                "count larger than the addresses", self.resealed(d),
                "address count 2 does not match length 12 (8 + 4 bytes per address)"
            )
        )
        d = self.datagram
        d[23] = 0
        cases.append(("no address", self.resealed(d), "address count 0: an advertisement carries at least one address"))
        d = self.datagram
        d[24] = 0
        d[25] = 0
        cases.append(("zero interval", self.resealed(d), "max advert interval 0 is not 1-4095 centiseconds"))
        d = self.datagram
        d[31] ^= 0x01
        cases.append(("corrupted address", d, "checksum 0xd371 does not match 0xd370 computed"))
        d = self.datagram
        d[9] = 17
        cases.append(("not VRRP", d, "IP protocol 17 is not 112 (VRRP)"))
        d = self.datagram
        d[0] = 0x65
        cases.append(("IPv6 version nibble", d, "IP version 6 is not 4"))
        d = self.datagram
        d[0] = 0x44
        cases.append(("IP header too short", d, "IP header length 16 is not 20-60 bytes"))
        d = self.datagram
        d[3] = 40
        cases.append(("IP total length", d, "IP total length 40 does not match the 32 bytes received"))
        cases.append(("empty", [], "length 0 is shorter than the 20 bytes of an IPv4 header"))
        d = Array(self.datagram.prefix(24))
        d[3] = 24
        cases.append(("truncated VRRP header", d, "length 4 is shorter than the 8 bytes of a VRRP header"))
        d = self.datagram + [0, 0, 0, 0]
        d[3] = 36
        cases.append(
            ("trailing bytes", self.resealed(d), "address count 1 does not match length 16 (8 + 4 bytes per address)")
        )

        for (name, datagram, reason) in cases {
            #expect(self.rejection(of: datagram) == reason, "\(name)")
        }
    }

    @Test func everyPrefixOfAGoodDatagramIsRejectedWithoutCrashing() {
        let datagram = self.datagram
        for length in 0..<datagram.count {
            var prefix = Array(datagram.prefix(length))
            if length >= 4 {
                prefix[2] = 0
                prefix[3] = UInt8(length)  // a consistent IP total length, so the VRRP checks are reached
            }
            #expect(self.rejection(of: prefix) != nil, "prefix of \(length) bytes")
        }
    }

    @Test func anIPv6MessageIsCheckedAgainstItsHopLimitAndPseudoHeader() throws {
        let golden = GoldenPacket.all.first { $0.message != nil }!
        let message = bytes(hex: golden.message!)
        let source = VRRPAddress(golden.source)!
        let destination = VRRPAddress(golden.destination)!
        #expect(throws: VRRPPacketError.hopLimit(1, ipv6: true)) {
            try VRRPAdvertisement.decode(message, source: source, destination: destination, hopLimit: 1)
        }
        // The same bytes from another link-local sender fail the checksum: the pseudo-header counts.
        #expect(throws: VRRPPacketError.self) {
            try VRRPAdvertisement.decode(
                message,
                source: VRRPAddress("fe80::2")!,
                destination: destination,
                hopLimit: 255
            )
        }
        #expect(throws: VRRPPacketError.addressFamily(source: VRRPAddress("192.0.2.1")!, destination: destination)) {
            try VRRPAdvertisement.decode(
                message,
                source: VRRPAddress("192.0.2.1")!,
                destination: destination,
                hopLimit: 255
            )
        }
    }

    @Test func addressesCompareAsUnsignedNumbers() {
        #expect(VRRPAddress("192.0.2.9")! < VRRPAddress("192.0.2.10")!)
        #expect(VRRPAddress("10.0.0.1")! < VRRPAddress("192.0.2.1")!)
        #expect(VRRPAddress("255.255.255.255")! < VRRPAddress("::1")!)
        #expect(VRRPAddress("2001:db8::1")!.description == "2001:db8::1")
        #expect(VRRPAddress("192.0.2.300") == nil)
    }
}
