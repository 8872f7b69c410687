import NIOCore
import NIOEmbedded
import NIOSSL
import Testing

@testable import HALBBalancer

/// The ClientHello reader behind SNI routing: real ClientHellos from a TLS client, every truncation, fragmentation,
/// and garbage of all kinds. It must never crash, never need more than its bound, and answer the same every time.
@Suite struct ClientHelloTests {
    /// The first bytes a TLS client (swift-nio-ssl, that is BoringSSL) sends, for `serverName`.
    private static func clientHello(serverName: String?) throws -> [UInt8] {
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandler(
            try NIOSSLClientHandler(context: context, serverHostname: serverName)
        )
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 443)).wait()
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += Array(buffer.readableBytesView) }
        return bytes
    }

    /// `hello` re-framed into records of at most `size` handshake bytes each.
    private static func fragmented(_ hello: [UInt8], recordSize size: Int) -> [UInt8] {
        let handshake = Array(hello.dropFirst(5))
        var result: [UInt8] = []
        var start = 0
        while start < handshake.count {
            let chunk = handshake[start..<min(start + size, handshake.count)]
            result += [22, 3, 1, UInt8(chunk.count >> 8), UInt8(chunk.count & 0xff)] + chunk
            start += size
        }
        return result
    }

    @Test func theServerNameOfARealClientHelloIsRead() throws {
        let hello = try Self.clientHello(serverName: "Desktop.Example.COM")
        #expect(hello.count > 100)
        #expect(ClientHello.read(hello) == .complete(serverName: "desktop.example.com"))
        #expect(ClientHello.read(try Self.clientHello(serverName: nil)) == .complete(serverName: nil))
    }

    @Test func aServerNameWithAnEmptyLabelIsMalformed() throws {
        // Found by Fuzz/fuzz-client-hello: "a.." was read as "a.", a name with a trailing dot after all.
        let hello = try Self.clientHello(serverName: "a.example.test")
        let written = Array("a.example.test".utf8)
        let at = try #require(hello.indices.first { hello[$0...].starts(with: written) })
        func with(_ name: String) -> [UInt8] {
            var patched = hello
            patched.replaceSubrange(at..<(at + written.count), with: Array(name.utf8))
            return patched
        }
        #expect(ClientHello.read(with("a.example.tes.")) == .complete(serverName: "a.example.tes"))
        for name in ["a.example.te..", "a..example.tes", ".a.example.tes", "..............", "a.example.t..."] {
            #expect(ClientHello.read(with(name)) == .rejected(.malformed), "\(name)")
        }
    }

    @Test func everyTruncationNeedsMoreAndBytesAfterTheHelloDoNotMatter() throws {
        let hello = try Self.clientHello(serverName: "a.example.test")
        for length in 0..<hello.count {
            #expect(ClientHello.read(Array(hello.prefix(length))) == .needMore, "\(length) bytes")
        }
        #expect(ClientHello.read(hello + [23, 3, 3, 0, 1, 0]) == .complete(serverName: "a.example.test"))
    }

    @Test func aClientHelloSplitOverRecordsIsReassembled() throws {
        let hello = try Self.clientHello(serverName: "a.example.test")
        for size in [1, 2, 7, 100] {
            let records = Self.fragmented(hello, recordSize: size)
            #expect(ClientHello.read(records) == .complete(serverName: "a.example.test"), "records of \(size)")
            #expect(ClientHello.read(Array(records.dropLast())) == .needMore)
        }
    }

    @Test func whatIsNotARoutableClientHelloIsRefusedWithItsReason() {
        #expect(ClientHello.read(Array("GET / HTTP/1.1\r\n".utf8)) == .rejected(.notTLS))
        #expect(ClientHello.read([22, 2]) == .rejected(.notTLS))  // SSL 2 style version
        #expect(ClientHello.read([22, 3, 1, 0, 0]) == .rejected(.malformed))  // an empty record
        #expect(ClientHello.read([22, 3, 1, 0x48, 0x01]) == .rejected(.malformed))  // a record over 16 KiB
        #expect(ClientHello.read([22, 3, 1, 0, 4, 2, 0, 0, 0]) == .rejected(.notClientHello))  // a ServerHello
        // A ClientHello that says it is 64 KiB long is refused at once, before it arrives.
        #expect(ClientHello.read([22, 3, 1, 0x40, 0x00, 1, 0x01, 0x00, 0x00]) == .rejected(.tooLarge))
        // Lengths that do not add up: a 6-byte body cannot hold version, random and the rest.
        #expect(ClientHello.read([22, 3, 1, 0, 10, 1, 0, 0, 6, 3, 3, 0, 0, 0, 0]) == .rejected(.malformed))
        // An alert record before the hello is complete.
        #expect(ClientHello.read([22, 3, 1, 0, 2, 1, 0, 21, 3, 3, 0, 2, 2, 40]) == .rejected(.malformed))
    }

    @Test func aHelloDrippedInTinyRecordsIsBoundedInMemory() {
        // A 16 KiB ClientHello in one-byte records would take 96 KiB: refused once 32 KiB are buffered.
        var bytes: [UInt8] = [22, 3, 1, 0, 1, 1, 22, 3, 1, 0, 1, 0, 22, 3, 1, 0, 1, 0x40, 22, 3, 1, 0, 1, 0]
        var result = ClientHello.Result.needMore
        while result == .needMore, bytes.count < 200_000 {
            bytes += [22, 3, 1, 0, 1, 0]
            result = ClientHello.read(bytes)
        }
        #expect(result == .rejected(.tooLarge))
        #expect(bytes.count <= ClientHello.maximumBufferSize + 6)
    }

    @Test func garbageAndMutatedHellosNeverCrashAndAlwaysGetTheSameAnswer() throws {
        var generator = SeededGenerator(seed: 0x5eed)
        let hello = try Self.clientHello(serverName: "desktop.example.com")
        var outcomes: [String: Int] = [:]
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                // Random bytes, often with a plausible record header in front.
                bytes = (0..<Int.random(in: 0...600, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                if round % 4 == 0 {
                    bytes =
                        [
                            22, 3, 1, UInt8.random(in: 0...2, using: &generator),
                            UInt8.random(in: 0...255, using: &generator), 1,
                        ] + bytes
                }
            } else {
                // The real hello with a few bytes changed (lengths included).
                bytes = hello
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
            }
            let result = ClientHello.read(bytes)
            #expect(ClientHello.read(bytes) == result)
            let key =
                switch result {
                case .needMore: "needMore"
                case .complete: "complete"
                case .rejected(let reason): reason.rawValue
                }
            outcomes[key, default: 0] += 1
        }
        // The inputs reached every kind of answer (the generator is not stuck in one corner).
        for key in ["needMore", "complete", "not_tls", "not_client_hello", "malformed"] {
            #expect(outcomes[key, default: 0] > 0, "\(outcomes)")
        }
    }
}

/// A small deterministic random generator (SplitMix64), so a failing case can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
