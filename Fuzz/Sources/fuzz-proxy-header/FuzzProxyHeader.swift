import HALBBalancer
import HALBCore
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry point: derives a connection (addresses, ports, TLS session) from the input, writes its PROXY
/// v1 and v2 headers with ``ProxyHeader/write(_:source:destination:tls:into:)``, and checks both with the strict
/// readers below.
///
/// Input layout (missing bytes read as zero):
/// - flags: bit 0 source IPv6, bit 1 destination IPv6, bit 2 no source, bit 3 no destination, bit 4 TLS offloaded;
/// - TLS fields present: bit 0 server name, bit 1 version, bit 2 cipher, bit 3 ALPN;
/// - the source and destination addresses (4 or 16 bytes each), the source and destination ports (2 bytes each);
/// - the server name, version, cipher and ALPN, each a 2-byte length (taken modulo 1025: the fields come from the
///   client's SNI, the TLS library and the certificate's ALPN list, all far shorter, yet past 255 bytes, where
///   the writer leaves a TLV out) and that many bytes, decoded as UTF-8.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = Input(bytes: Array(UnsafeRawBufferPointer(start: start, count: count)))
    let flags = input.byte()
    let present = input.byte()
    let sourceBytes = input.bytes(flags & 1 == 0 ? 4 : 16)
    let destinationBytes = input.bytes(flags & 2 == 0 ? 4 : 16)
    let sourcePort = Int(input.uint16())
    let destinationPort = Int(input.uint16())
    let source = flags & 4 == 0 ? address(sourceBytes, port: sourcePort) : nil
    let destination = flags & 8 == 0 ? address(destinationBytes, port: destinationPort) : nil
    var fields: [String?] = []
    for bit in 0..<4 {
        let text = input.string()
        fields.append(present & (1 << bit) == 0 ? nil : text)
    }
    let tls =
        flags & 16 == 0
        ? nil : ProxyHeader.TLSInfo(serverName: fields[0], version: fields[1], cipher: fields[2], alpn: fields[3])
    let connection = Connection(
        source: source.map { _ in (sourceBytes, sourcePort) },
        destination: destination.map { _ in (destinationBytes, destinationPort) },
        tls: tls
    )

    var v1 = ByteBufferAllocator().buffer(capacity: 128)
    ProxyHeader.write(.v1, source: source, destination: destination, tls: tls, into: &v1)
    checkV1(Array(v1.readableBytesView), connection)

    var v2 = ByteBufferAllocator().buffer(capacity: 256)
    ProxyHeader.write(.v2, source: source, destination: destination, tls: tls, into: &v2)
    checkV2(Array(v2.readableBytesView), connection)

    var off = ByteBufferAllocator().buffer(capacity: 0)
    ProxyHeader.write(.off, source: source, destination: destination, tls: tls, into: &off)
    guard off.readableBytes == 0 else { fatalError("`off` wrote \(off.readableBytes) bytes") }
    return 0
}

// MARK: - Input

/// Reads the fuzzer's bytes front to back; past the end, every byte is zero.
struct Input {
    var bytes: [UInt8]
    var position = 0

    mutating func byte() -> UInt8 {
        defer { self.position += 1 }
        return self.position < self.bytes.count ? self.bytes[self.position] : 0
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in self.byte() }
    }

    mutating func uint16() -> UInt16 {
        UInt16(self.byte()) << 8 | UInt16(self.byte())
    }

    mutating func string() -> String {
        let length = Int(self.uint16()) % 1025
        return String(decoding: self.bytes(length), as: UTF8.self)
    }
}

/// An address of `bytes` (4 or 16), as a socket returns it.
func address(_ bytes: [UInt8], port: Int) -> SocketAddress {
    var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    do {
        return try SocketAddress(packedIPAddress: buffer, port: port)
    } catch {
        fatalError("SocketAddress(packedIPAddress:port:) refused \(bytes): \(error)")
    }
}

/// What the headers must say.
struct Connection {
    var source: (address: [UInt8], port: Int)?
    var destination: (address: [UInt8], port: Int)?
    var tls: ProxyHeader.TLSInfo?

    /// Both addresses, when they are of one family (else the header is `UNKNOWN` or `LOCAL`).
    var addresses: (source: (address: [UInt8], port: Int), destination: (address: [UInt8], port: Int))? {
        guard let source, let destination, source.address.count == destination.address.count else { return nil }
        return (source, destination)
    }
}

// MARK: - v1

/// A strict reader of a v1 header: one line of at most 107 bytes ending in CRLF, `PROXY UNKNOWN` or
/// `PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>`, single spaces, addresses in the
/// protocol's family, ports decimal in 0-65535 without leading zeros.
func checkV1(_ header: [UInt8], _ connection: Connection) {
    func fail(_ problem: String) -> Never {
        fatalError("v1 header \(String(decoding: header, as: UTF8.self).debugDescription): \(problem)")
    }
    guard header.count <= 107 else { fail("\(header.count) bytes, more than 107") }
    guard header.count >= 2, header.suffix(2) == [0x0D, 0x0A] else { fail("does not end in CRLF") }
    let line = header.dropLast(2)
    guard !line.contains(0x0D), !line.contains(0x0A) else { fail("CR or LF inside the line") }
    guard line.allSatisfy({ (0x20..<0x7F).contains($0) }) else { fail("not printable ASCII") }
    let fields = line.split(separator: 0x20, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    guard let addresses = connection.addresses else {
        guard fields == ["PROXY", "UNKNOWN"] else { fail("expected PROXY UNKNOWN") }
        return
    }
    let ipv6 = addresses.source.address.count == 16
    guard fields.count == 6, fields[0] == "PROXY" else { fail("expected 6 fields starting with PROXY") }
    guard fields[1] == (ipv6 ? "TCP6" : "TCP4") else { fail("wrong protocol \(fields[1])") }
    for (text, expected) in [(fields[2], addresses.source.address), (fields[3], addresses.destination.address)] {
        var parsed = [UInt8](repeating: 0, count: expected.count)
        guard inet_pton(ipv6 ? AF_INET6 : AF_INET, text, &parsed) == 1 else { fail("address \(text) does not parse") }
        guard parsed == expected else { fail("address \(text) is not \(expected)") }
    }
    for (text, expected) in [(fields[4], addresses.source.port), (fields[5], addresses.destination.port)] {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            text == "0" || !text.hasPrefix("0"), let port = Int(text), port <= 65535
        else { fail("port \(text) is not a decimal in 0-65535") }
        guard port == expected else { fail("port \(port) is not \(expected)") }
    }
}

// MARK: - v2

/// A strict reader of a v2 header: the signature, version 2 with command PROXY (`0x21`) or LOCAL (`0x20`), the
/// family and protocol, a length equal to the bytes that follow, the addresses and ports, then TLVs whose lengths
/// add up exactly (also inside `PP2_TYPE_SSL`), each type at most once.
func checkV2(_ header: [UInt8], _ connection: Connection) {
    func fail(_ problem: String) -> Never {
        fatalError("v2 header \(header.map { String($0, radix: 16) }): \(problem)")
    }
    guard header.count >= 16 else { fail("shorter than 16 bytes") }
    guard Array(header[0..<12]) == ProxyHeader.v2Signature else { fail("wrong signature") }
    let length = Int(header[14]) << 8 | Int(header[15])
    guard length == header.count - 16 else { fail("length \(length), but \(header.count - 16) bytes follow") }
    guard let addresses = connection.addresses else {
        guard header[12] == 0x20, header[13] == 0x00, length == 0 else { fail("expected an empty LOCAL header") }
        return
    }
    let size = addresses.source.address.count
    guard header[12] == 0x21 else { fail("command byte \(header[12]), expected PROXY 0x21") }
    guard header[13] == (size == 4 ? 0x11 : 0x21) else { fail("family byte \(header[13])") }
    guard length >= 2 * size + 4 else { fail("too short for the addresses") }
    var body = Array(header[16...])
    guard Array(body[0..<size]) == addresses.source.address,
        Array(body[size..<(2 * size)]) == addresses.destination.address
    else { fail("wrong addresses") }
    let ports = (
        Int(body[2 * size]) << 8 | Int(body[2 * size + 1]), Int(body[2 * size + 2]) << 8 | Int(body[2 * size + 3])
    )
    guard ports == (addresses.source.port, addresses.destination.port) else { fail("wrong ports \(ports)") }
    body.removeFirst(2 * size + 4)

    guard let tlvs = readTLVs(body[...]) else { fail("TLV lengths do not add up") }
    guard Set(tlvs.map(\.type)).count == tlvs.count else { fail("a TLV type twice") }
    guard let tls = connection.tls else {
        guard tlvs.isEmpty else { fail("TLVs without TLS") }
        return
    }
    var expected: [(UInt8, [UInt8])] = []
    if let alpn = tls.alpn, alpn.utf8.count <= 255 { expected.append((0x01, Array(alpn.utf8))) }
    if let name = tls.serverName, name.utf8.count <= 255 { expected.append((0x02, Array(name.utf8))) }
    guard tlvs.count == expected.count + 1 else { fail("\(tlvs.count) TLVs, expected \(expected.count + 1)") }
    for ((type, value), tlv) in zip(expected, tlvs) {
        guard tlv.type == type, Array(tlv.value) == value else { fail("TLV \(tlv.type), expected \(type)") }
    }
    let ssl = tlvs[tlvs.count - 1]
    guard ssl.type == 0x20, ssl.value.count >= 5 else { fail("no PP2_TYPE_SSL last") }
    guard Array(ssl.value.prefix(5)) == [0x01, 0, 0, 0, 0] else { fail("SSL client flags or verify") }
    guard let subTLVs = readTLVs(ssl.value.dropFirst(5)) else { fail("SSL sub-TLV lengths do not add up") }
    var expectedSub: [(UInt8, [UInt8])] = []
    if let version = tls.version { expectedSub.append((0x21, Array(version.utf8))) }
    if let cipher = tls.cipher, cipher.utf8.count <= 255 { expectedSub.append((0x23, Array(cipher.utf8))) }
    guard subTLVs.count == expectedSub.count else { fail("\(subTLVs.count) SSL sub-TLVs") }
    for ((type, value), tlv) in zip(expectedSub, subTLVs) {
        guard tlv.type == type, Array(tlv.value) == value else { fail("SSL sub-TLV \(tlv.type), expected \(type)") }
    }
}

/// Splits `bytes` into type-length-value triples; `nil` unless the lengths add up exactly.
func readTLVs(_ bytes: ArraySlice<UInt8>) -> [(type: UInt8, value: ArraySlice<UInt8>)]? {
    var rest = bytes
    var tlvs: [(type: UInt8, value: ArraySlice<UInt8>)] = []
    while !rest.isEmpty {
        guard rest.count >= 3 else { return nil }
        let type = rest[rest.startIndex]
        let length = Int(rest[rest.startIndex + 1]) << 8 | Int(rest[rest.startIndex + 2])
        guard rest.count >= 3 + length else { return nil }
        tlvs.append((type, rest.dropFirst(3).prefix(length)))
        rest = rest.dropFirst(3 + length)
    }
    return tlvs
}
