import HALBCore
import NIOCore
import Testing

@testable import HALBBalancer

@Suite struct ProxyHeaderTests {
    private func header(
        _ version: ProxyProtocolVersion,
        _ source: SocketAddress?,
        _ destination: SocketAddress?
    ) -> [UInt8] {
        var buffer = ByteBuffer()
        ProxyHeader.write(version, source: source, destination: destination, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func v1ForIPv4() throws {
        let bytes = self.header(
            .v1,
            try SocketAddress(ipAddress: "198.51.100.7", port: 51234),
            try SocketAddress(ipAddress: "192.0.2.10", port: 443)
        )
        #expect(String(decoding: bytes, as: UTF8.self) == "PROXY TCP4 198.51.100.7 192.0.2.10 51234 443\r\n")
    }

    @Test func v1ForIPv6() throws {
        let bytes = self.header(
            .v1,
            try SocketAddress(ipAddress: "2001:db8::7", port: 1),
            try SocketAddress(ipAddress: "2001:db8::10", port: 80)
        )
        #expect(String(decoding: bytes, as: UTF8.self) == "PROXY TCP6 2001:db8::7 2001:db8::10 1 80\r\n")
    }

    @Test func v1UnknownWhenFamiliesDiffer() throws {
        let bytes = self.header(
            .v1,
            try SocketAddress(ipAddress: "2001:db8::7", port: 1),
            try SocketAddress(ipAddress: "192.0.2.1", port: 2)
        )
        #expect(String(decoding: bytes, as: UTF8.self) == "PROXY UNKNOWN\r\n")
    }

    @Test func v2ForIPv4IsTheSpecLayout() throws {
        let bytes = self.header(
            .v2,
            try SocketAddress(ipAddress: "198.51.100.7", port: 0x1234),
            try SocketAddress(ipAddress: "192.0.2.10", port: 443)
        )
        #expect(
            bytes
                == ProxyHeader.v2Signature + [
                    0x21, 0x11, 0x00, 0x0C, 198, 51, 100, 7, 192, 0, 2, 10, 0x12, 0x34, 0x01, 0xBB,
                ]
        )
    }

    @Test func v2ForIPv6() throws {
        let bytes = self.header(
            .v2,
            try SocketAddress(ipAddress: "2001:db8::7", port: 80),
            try SocketAddress(ipAddress: "2001:db8::10", port: 443)
        )
        #expect(bytes.count == 16 + 36)
        #expect(Array(bytes[12..<16]) == [0x21, 0x21, 0x00, 0x24])
        #expect(Array(bytes[16..<20]) == [0x20, 0x01, 0x0d, 0xb8])
        #expect(bytes[31] == 7)
        #expect(bytes[47] == 0x10)
        #expect(Array(bytes[48..<52]) == [0x00, 0x50, 0x01, 0xBB])
    }

    @Test func v2LocalWithoutAddresses() {
        #expect(self.header(.v2, nil, nil) == ProxyHeader.v2Signature + [0x20, 0x00, 0x00, 0x00])
    }

    @Test func v2CarriesTheTLSSessionAsTLVs() throws {
        var buffer = ByteBuffer()
        ProxyHeader.write(
            .v2,
            source: try SocketAddress(ipAddress: "198.51.100.7", port: 0x1234),
            destination: try SocketAddress(ipAddress: "192.0.2.10", port: 443),
            tls: .init(serverName: "rdp.example.com", version: "TLSv1.3"),
            into: &buffer
        )
        let bytes = Array(buffer.readableBytesView)
        let authority: [UInt8] = [0x02, 0x00, 0x0F] + Array("rdp.example.com".utf8)
        let ssl: [UInt8] = [0x20, 0x00, 0x0F, 0x01, 0, 0, 0, 0, 0x21, 0x00, 0x07] + Array("TLSv1.3".utf8)
        // The length covers the addresses (12 bytes) and the TLVs.
        #expect(bytes[12...15] == [0x21, 0x11, 0x00, UInt8(12 + authority.count + ssl.count)])
        #expect(Array(bytes[28...]) == authority + ssl)
    }

    @Test func v2CarriesTheCipherAndTheApplicationProtocol() throws {
        var buffer = ByteBuffer()
        ProxyHeader.write(
            .v2,
            source: try SocketAddress(ipAddress: "198.51.100.7", port: 0x1234),
            destination: try SocketAddress(ipAddress: "192.0.2.10", port: 443),
            tls: .init(serverName: nil, version: "TLSv1.2", cipher: "ECDHE-RSA-AES128-GCM-SHA256", alpn: "http/1.1"),
            into: &buffer
        )
        let bytes = Array(buffer.readableBytesView)
        // PP2_TYPE_ALPN first, then PP2_TYPE_SSL with the version and cipher sub-TLVs (no authority without SNI).
        let alpn: [UInt8] = [0x01, 0x00, 0x08] + Array("http/1.1".utf8)
        let version: [UInt8] = [0x21, 0x00, 0x07] + Array("TLSv1.2".utf8)
        let cipher: [UInt8] = [0x23, 0x00, 0x1B] + Array("ECDHE-RSA-AES128-GCM-SHA256".utf8)
        let sslValue: [UInt8] = [0x01, 0, 0, 0, 0] + version + cipher
        let ssl: [UInt8] = [0x20, 0x00, UInt8(sslValue.count)] + sslValue
        #expect(Array(bytes[28...]) == alpn + ssl)
        #expect(Int(bytes[14]) << 8 | Int(bytes[15]) == 12 + alpn.count + ssl.count)
    }

    @Test func offWritesNothing() throws {
        #expect(self.header(.off, try SocketAddress(ipAddress: "192.0.2.1", port: 1), nil).isEmpty)
    }
}
