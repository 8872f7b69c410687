/// Reads the cipher suite the device's TLS library chose from the ServerHello it sends (RFC 8446 §4.1.3, RFC 5246
/// §7.4.1.3): the first handshake message of the server's first flight, unencrypted in TLS 1.2 and 1.3 alike. The
/// TLS library does not tell which suite it negotiated, and a PROXY v2 header carries it to the gateways.
///
/// A pure function of the first bytes the server sends.
public enum ServerHello {
    /// The most bytes looked at: the cipher suite sits within the first 76 bytes of a ServerHello.
    public static let maximumBufferSize = 512

    public enum Result: Sendable, Equatable {
        /// More bytes are needed.
        case needMore
        /// The negotiated cipher suite's number (`0x1301` is TLS_AES_128_GCM_SHA256).
        case cipherSuite(UInt16)
        /// Not a ServerHello at the start.
        case notServerHello
    }

    /// Reads `bytes`, the first bytes the server sent.
    public static func read(_ bytes: [UInt8]) -> Result {
        // Record header: handshake (22), version 3.x, length; then the handshake header: ServerHello (2), length.
        if bytes.count >= 1, bytes[0] != 22 { return .notServerHello }
        if bytes.count >= 2, bytes[1] != 3 { return .notServerHello }
        if bytes.count >= 6, bytes[5] != 2 { return .notServerHello }
        // Then legacy_version (2), random (32), legacy_session_id (1 + up to 32), cipher_suite (2).
        let sessionIDLength = 5 + 4 + 2 + 32
        guard bytes.count > sessionIDLength else {
            return bytes.count > Self.maximumBufferSize ? .notServerHello : .needMore
        }
        let length = Int(bytes[sessionIDLength])
        guard length <= 32 else { return .notServerHello }
        let suite = sessionIDLength + 1 + length
        guard bytes.count >= suite + 2 else { return .needMore }
        return .cipherSuite(UInt16(bytes[suite]) << 8 | UInt16(bytes[suite + 1]))
    }

    /// The OpenSSL name of a cipher suite the device can negotiate (what HAProxy sends as
    /// `PP2_SUBTYPE_SSL_CIPHER`), or `nil` for another number.
    public static func name(ofCipherSuite suite: UInt16) -> String? {
        switch suite {
        case 0x1301: "TLS_AES_128_GCM_SHA256"
        case 0x1302: "TLS_AES_256_GCM_SHA384"
        case 0x1303: "TLS_CHACHA20_POLY1305_SHA256"
        case 0xC02B: "ECDHE-ECDSA-AES128-GCM-SHA256"
        case 0xC02F: "ECDHE-RSA-AES128-GCM-SHA256"
        case 0xC02C: "ECDHE-ECDSA-AES256-GCM-SHA384"
        case 0xC030: "ECDHE-RSA-AES256-GCM-SHA384"
        case 0xCCA9: "ECDHE-ECDSA-CHACHA20-POLY1305"
        case 0xCCA8: "ECDHE-RSA-CHACHA20-POLY1305"
        case 0xC009: "ECDHE-ECDSA-AES128-SHA"
        case 0xC013: "ECDHE-RSA-AES128-SHA"
        case 0xC00A: "ECDHE-ECDSA-AES256-SHA"
        case 0xC014: "ECDHE-RSA-AES256-SHA"
        case 0x009C: "AES128-GCM-SHA256"
        case 0x009D: "AES256-GCM-SHA384"
        case 0x002F: "AES128-SHA"
        case 0x0035: "AES256-SHA"
        default: nil
        }
    }
}
