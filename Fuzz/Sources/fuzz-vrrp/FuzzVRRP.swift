import HALBFailover

/// libFuzzer's entry point: decodes the input as a VRRP advertisement.
///
/// The first byte chooses the form:
/// - even: the rest is an IPv4 datagram as a raw socket reads it (IP header included),
///   ``VRRPAdvertisement/decode(ipv4Datagram:)``;
/// - odd: bit 1 makes the source IPv6, bit 2 the destination; then the hop limit (1 byte), the source and the
///   destination (4 or 16 bytes each), and the VRRP message, ``VRRPAdvertisement/decode(_:source:destination:hopLimit:)``
///   (the IPv6 form: a raw IPv6 socket returns the message alone, the addresses and hop limit from the header).
///
/// Checks, besides "no crash, no leak, no hang": a decoded advertisement, encoded again with the same addresses,
/// decodes to the same advertisement.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let mode = bytes.first else { return 0 }
    if mode & 1 == 0 {
        let datagram = Array(bytes.dropFirst())
        guard let (advertisement, source) = try? VRRPAdvertisement.decode(ipv4Datagram: datagram) else { return 0 }
        let destination = VRRPAddress(bytes: Array(datagram[16..<20]))!
        guard source.bytes == Array(datagram[12..<16]) else {
            fatalError("decode(ipv4Datagram:) returned source \(source) for header bytes \(datagram[12..<16])")
        }
        check(advertisement, source: source, destination: destination)
    } else {
        let sourceSize = mode & 2 == 0 ? 4 : 16
        let destinationSize = mode & 4 == 0 ? 4 : 16
        guard bytes.count >= 2 + sourceSize + destinationSize else { return 0 }
        let hopLimit = Int(bytes[1])
        let source = VRRPAddress(bytes: Array(bytes[2..<(2 + sourceSize)]))!
        let destination = VRRPAddress(bytes: Array(bytes[(2 + sourceSize)..<(2 + sourceSize + destinationSize)]))!
        let message = Array(bytes[(2 + sourceSize + destinationSize)...])
        guard
            let advertisement = try? VRRPAdvertisement.decode(
                message,
                source: source,
                destination: destination,
                hopLimit: hopLimit
            )
        else { return 0 }
        check(advertisement, source: source, destination: destination)
    }
    return 0
}

/// Encodes `advertisement` and decodes it again; crashes unless that gives the same value.
func check(_ advertisement: VRRPAdvertisement, source: VRRPAddress, destination: VRRPAddress) {
    guard !advertisement.addresses.isEmpty, advertisement.addresses.allSatisfy({ $0.isIPv6 == source.isIPv6 }) else {
        fatalError("decoded \(advertisement) from \(source): no addresses, or not all of the source's family")
    }
    let encoded = advertisement.encoded(source: source, destination: destination)
    do {
        let decoded = try VRRPAdvertisement.decode(encoded, source: source, destination: destination, hopLimit: 255)
        guard decoded == advertisement else {
            fatalError("\(advertisement) encodes and decodes as \(decoded)")
        }
    } catch {
        fatalError("\(advertisement) encodes to bytes that do not decode: \(error)")
    }
}
