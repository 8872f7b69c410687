/// Reads the server name (SNI, RFC 6066 §3) from the first bytes a TLS client sends, without terminating TLS: the
/// TLS records (RFC 8446 §5.1) are reassembled into the ClientHello handshake message (§4.1.2), whose extensions
/// are searched for `server_name`.
///
/// A pure function of the bytes received so far: the caller reads more while the answer is ``Result/needMore``,
/// and never holds more than ``maximumBufferSize`` bytes.
public enum ClientHello {
    /// Why a client's first bytes were refused.
    public enum Rejection: String, Sendable, CaseIterable {
        /// The bytes are not a TLS handshake record (plain HTTP, say).
        case notTLS = "not_tls"
        /// A TLS handshake, but not a ClientHello.
        case notClientHello = "not_client_hello"
        /// A length or field that does not add up.
        case malformed
        /// Longer than ``ClientHello/maximumSize`` (or spread over more bytes than ``ClientHello/maximumBufferSize``).
        case tooLarge = "too_large"
        /// Not complete within `timeouts.clientHello` (set by the proxy, not by this reader).
        case timeout
        /// Dripped in more than ``ClientHello/maximumReads`` pieces (set by the proxy, which re-reads the bytes
        /// received so far on each piece).
        case fragmented
    }

    public enum Result: Sendable, Equatable {
        /// The ClientHello is not complete yet.
        case needMore
        /// The ClientHello is complete; its server name (lowercased, without a trailing dot), if it has one.
        case complete(serverName: String?)
        /// Not a ClientHello that can be routed.
        case rejected(Rejection)
    }

    /// The largest ClientHello message accepted (a ClientHello with post-quantum key shares is about 2 KiB).
    public static let maximumSize = 16_384
    /// The most bytes read while looking for the ClientHello (records split into small fragments add headers).
    public static let maximumBufferSize = 32_768
    /// The most socket reads a ClientHello may take (one or two for real clients).
    public static let maximumReads = 64

    /// Reads `bytes`, the first bytes of a connection.
    public static func read(_ bytes: [UInt8]) -> Result {
        var handshake: [UInt8] = []
        var position = 0
        while true {
            // The record header: content type 22 (handshake), version 3.x, length.
            let available = bytes.count - position
            if available >= 1, bytes[position] != 22 { return .rejected(position == 0 ? .notTLS : .malformed) }
            if available >= 2, bytes[position + 1] != 3 { return .rejected(position == 0 ? .notTLS : .malformed) }
            if available >= 5 {
                let length = Int(bytes[position + 3]) << 8 | Int(bytes[position + 4])
                guard length > 0, length <= 16_384 else { return .rejected(.malformed) }
                if available >= 5 + length {
                    handshake.append(contentsOf: bytes[(position + 5)..<(position + 5 + length)])
                    position += 5 + length
                } else {
                    // A partial record: look at what it holds so far, to refuse early.
                    handshake.append(contentsOf: bytes[(position + 5)...])
                    position = bytes.count
                }
            }
            // The handshake header: type 1 (ClientHello) and a 24-bit length.
            if handshake.count >= 1, handshake[0] != 1 { return .rejected(.notClientHello) }
            if handshake.count >= 4 {
                let length = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard length <= Self.maximumSize else { return .rejected(.tooLarge) }
                if handshake.count >= 4 + length {
                    return Self.serverName(inBody: handshake[4..<(4 + length)])
                }
            }
            if bytes.count > Self.maximumBufferSize { return .rejected(.tooLarge) }
            if position >= bytes.count || bytes.count - position < 5 { return .needMore }
        }
    }

    /// The server name in a complete ClientHello body.
    private static func serverName(inBody body: ArraySlice<UInt8>) -> Result {
        var reader = Reader(bytes: body)
        // legacy_version, random, legacy_session_id, cipher_suites, legacy_compression_methods.
        guard reader.skip(2 + 32),
            let sessionID = reader.vector(lengthBytes: 1), sessionID.count <= 32,
            let suites = reader.vector(lengthBytes: 2), suites.count >= 2, suites.count % 2 == 0,
            let compression = reader.vector(lengthBytes: 1), !compression.isEmpty
        else { return .rejected(.malformed) }
        if reader.isAtEnd { return .complete(serverName: nil) }
        guard let extensionBytes = reader.vector(lengthBytes: 2), reader.isAtEnd else { return .rejected(.malformed) }
        var extensions = Reader(bytes: extensionBytes)
        var serverName: String?
        var seen: Set<UInt16> = []
        while !extensions.isAtEnd {
            guard let type = extensions.uint16(), let data = extensions.vector(lengthBytes: 2) else {
                return .rejected(.malformed)
            }
            // RFC 8446 §4.2: no extension type twice.
            guard seen.insert(type).inserted else { return .rejected(.malformed) }
            guard type == 0 else { continue }
            var names = Reader(bytes: data)
            guard let list = names.vector(lengthBytes: 2), names.isAtEnd, !list.isEmpty else {
                return .rejected(.malformed)
            }
            var entries = Reader(bytes: list)
            while !entries.isAtEnd {
                guard let nameType = entries.uint8(), let name = entries.vector(lengthBytes: 2) else {
                    return .rejected(.malformed)
                }
                // host_name (0) is the only type defined; others are skipped.
                guard nameType == 0, serverName == nil else { continue }
                guard let host = Self.hostName(name) else { return .rejected(.malformed) }
                serverName = host
            }
        }
        return .complete(serverName: serverName)
    }

    /// A host name of letters, digits, hyphens, underscores and dots, lowercased and without a trailing dot; its
    /// labels are 1-63 characters (no leading dot, no `..`: such a name would be one no route can name).
    private static func hostName(_ bytes: ArraySlice<UInt8>) -> String? {
        var name = bytes
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        guard !name.isEmpty, name.count <= 253,
            !name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).contains(where: {
                $0.isEmpty || $0.count > 63
            }),
            name.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            })
        else { return nil }
        return String(decoding: name, as: UTF8.self).lowercased()
    }

    /// Reads big-endian fields and length-prefixed vectors, never past the end.
    private struct Reader {
        var bytes: ArraySlice<UInt8>

        var isAtEnd: Bool { self.bytes.isEmpty }

        mutating func skip(_ count: Int) -> Bool {
            guard self.bytes.count >= count else { return false }
            self.bytes = self.bytes.dropFirst(count)
            return true
        }

        mutating func uint8() -> UInt8? {
            guard let byte = self.bytes.first else { return nil }
            self.bytes = self.bytes.dropFirst()
            return byte
        }

        mutating func uint16() -> UInt16? {
            guard self.bytes.count >= 2 else { return nil }
            let value = UInt16(self.bytes[self.bytes.startIndex]) << 8 | UInt16(self.bytes[self.bytes.startIndex + 1])
            self.bytes = self.bytes.dropFirst(2)
            return value
        }

        mutating func vector(lengthBytes: Int) -> ArraySlice<UInt8>? {
            guard self.bytes.count >= lengthBytes else { return nil }
            let length = self.bytes.prefix(lengthBytes).reduce(0) { $0 << 8 | Int($1) }
            guard self.bytes.count >= lengthBytes + length else { return nil }
            let vector = self.bytes.dropFirst(lengthBytes).prefix(length)
            self.bytes = self.bytes.dropFirst(lengthBytes + length)
            return vector
        }
    }
}
