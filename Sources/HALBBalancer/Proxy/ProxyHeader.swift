import HALBCore
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Encodes PROXY protocol headers (HAProxy's PROXY protocol spec, versions 1 and 2) that tell a gateway the
/// client's address and the address the client connected to.
public enum ProxyHeader {
    /// The 12-byte signature that starts every v2 header.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// What the device knows of a client's TLS session when it offloads TLS, for the v2 header's TLVs.
    public struct TLSInfo: Sendable, Equatable {
        /// The server name the client asked for (SNI), sent as `PP2_TYPE_AUTHORITY`.
        public var serverName: String?
        /// The negotiated version, such as `TLSv1.3`, sent as `PP2_SUBTYPE_SSL_VERSION` inside `PP2_TYPE_SSL`.
        public var version: String?
        /// The negotiated cipher suite's OpenSSL name, such as `TLS_AES_128_GCM_SHA256`, sent as
        /// `PP2_SUBTYPE_SSL_CIPHER` inside `PP2_TYPE_SSL`.
        public var cipher: String?
        /// The application protocol negotiated with ALPN, such as `http/1.1`, sent as `PP2_TYPE_ALPN`.
        public var alpn: String?

        public init(serverName: String?, version: String?, cipher: String? = nil, alpn: String? = nil) {
            self.serverName = serverName
            self.version = version
            self.cipher = cipher
            self.alpn = alpn
        }

        /// The TLVs: `PP2_TYPE_ALPN` (0x01) and `PP2_TYPE_AUTHORITY` (0x02) when known, and `PP2_TYPE_SSL` (0x20)
        /// with the client flag `PP2_CLIENT_SSL`, verify 0 (no client certificate is asked for, as with HAProxy),
        /// and the version (0x21) and cipher (0x23) sub-TLVs.
        var tlvs: [UInt8] {
            var bytes: [UInt8] = []
            func tlv(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
                [type, UInt8(value.count >> 8), UInt8(value.count & 0xff)] + value
            }
            if let alpn, alpn.utf8.count <= 255 { bytes += tlv(0x01, Array(alpn.utf8)) }
            if let serverName, serverName.utf8.count <= 255 { bytes += tlv(0x02, Array(serverName.utf8)) }
            var ssl: [UInt8] = [0x01, 0, 0, 0, 0]
            if let version { ssl += tlv(0x21, Array(version.utf8)) }
            if let cipher, cipher.utf8.count <= 255 { ssl += tlv(0x23, Array(cipher.utf8)) }
            bytes += tlv(0x20, ssl)
            return bytes
        }
    }

    /// Writes the header for a proxied TCP connection into `buffer`.
    ///
    /// - Parameters:
    ///   - version: v1 or v2 (`off` writes nothing).
    ///   - source: the client's address.
    ///   - destination: the address the client connected to (the VIP and port).
    ///   - buffer: where the header goes.
    ///   - tls: with TLS offload, the client's TLS session, added to a v2 `PROXY` header as TLVs.
    /// When the addresses are not both IPv4 or both IPv6, v1 writes `PROXY UNKNOWN` and v2 a `LOCAL` header.
    public static func write(
        _ version: ProxyProtocolVersion,
        source: SocketAddress?,
        destination: SocketAddress?,
        tls: TLSInfo? = nil,
        into buffer: inout ByteBuffer
    ) {
        switch version {
        case .off:
            return
        case .v1:
            if let source, let destination, let family = Self.family(source, destination),
                let sourceIP = source.ipAddress, let destinationIP = destination.ipAddress,
                let sourcePort = source.port, let destinationPort = destination.port
            {
                let proto = family == .v4 ? "TCP4" : "TCP6"
                buffer.writeString("PROXY \(proto) \(sourceIP) \(destinationIP) \(sourcePort) \(destinationPort)\r\n")
            } else {
                buffer.writeString("PROXY UNKNOWN\r\n")
            }
        case .v2:
            buffer.writeBytes(Self.v2Signature)
            switch (source, destination) {
            case (.v4?, .v4?), (.v6?, .v6?):
                guard let s = source?.ipBytes, let d = destination?.ipBytes, let sp = source?.port,
                    let dp = destination?.port
                else { fallthrough }
                let tlvs = tls?.tlvs ?? []
                buffer.writeInteger(UInt8(0x21))  // version 2, PROXY
                buffer.writeInteger(UInt8(s.count == 4 ? 0x11 : 0x21))  // TCP over IPv4 or IPv6
                buffer.writeInteger(UInt16(s.count * 2 + 4 + tlvs.count))
                buffer.writeBytes(s)
                buffer.writeBytes(d)
                buffer.writeInteger(UInt16(sp))
                buffer.writeInteger(UInt16(dp))
                buffer.writeBytes(tlvs)
            default:
                buffer.writeInteger(UInt8(0x20))  // version 2, LOCAL
                buffer.writeInteger(UInt8(0x00))
                buffer.writeInteger(UInt16(0))
            }
        }
    }

    private enum Family { case v4, v6 }

    private static func family(_ a: SocketAddress, _ b: SocketAddress) -> Family? {
        switch (a, b) {
        case (.v4, .v4): .v4
        case (.v6, .v6): .v6
        default: nil
        }
    }
}
