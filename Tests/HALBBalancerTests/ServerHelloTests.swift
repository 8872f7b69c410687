import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import Testing

@testable import HALBBalancer

/// The ServerHello reader behind the cipher in PROXY v2 headers: the suite BoringSSL really chose, read from the
/// bytes it sent, for TLS 1.3 and 1.2; truncations and other bytes never crash it.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl"))
struct ServerHelloTests {
    /// The first bytes a TLS server (swift-nio-ssl) sends in answer to a client allowed only `suites` (TLS 1.2) or
    /// TLS 1.3.
    private static func serverHello(tls13: Bool, suites: String? = nil) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-serverhello-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (certificate, key) = try makeTestCertificate("serverhello.test", in: directory)
        var serverConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        serverConfiguration.minimumTLSVersion = .tlsv12
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.certificateVerification = .none
        clientConfiguration.maximumTLSVersion = tls13 ? .tlsv13 : .tlsv12
        if let suites { clientConfiguration.cipherSuites = suites }
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        defer {
            _ = try? client.finish()
            _ = try? server.finish()
        }
        try client.pipeline.syncOperations.addHandler(
            try NIOSSLClientHandler(context: NIOSSLContext(configuration: clientConfiguration), serverHostname: nil)
        )
        try server.pipeline.syncOperations.addHandler(
            NIOSSLServerHandler(context: NIOSSLContext(configuration: serverConfiguration))
        )
        server.pipeline.fireChannelActive()
        try client.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 443)).wait()
        while let hello = try client.readOutbound(as: ByteBuffer.self) { try server.writeInbound(hello) }
        var bytes: [UInt8] = []
        while let buffer = try server.readOutbound(as: ByteBuffer.self) { bytes += Array(buffer.readableBytesView) }
        return bytes
    }

    @Test func theCipherOfARealServerHelloIsRead() throws {
        let tls13 = try Self.serverHello(tls13: true)
        guard case .cipherSuite(let suite) = ServerHello.read(tls13) else {
            Issue.record("no cipher suite in \(tls13.prefix(80))")
            return
        }
        #expect(ServerHello.name(ofCipherSuite: suite)?.hasPrefix("TLS_") == true, "0x\(String(suite, radix: 16))")

        let tls12 = try Self.serverHello(tls13: false, suites: "ECDHE-ECDSA-CHACHA20-POLY1305")
        #expect(ServerHello.read(tls12) == .cipherSuite(0xCCA9))
        #expect(ServerHello.name(ofCipherSuite: 0xCCA9) == "ECDHE-ECDSA-CHACHA20-POLY1305")
    }

    @Test func truncationsNeedMoreAndOtherBytesAreNotAServerHello() throws {
        let hello = try Self.serverHello(tls13: false, suites: "ECDHE-ECDSA-AES128-GCM-SHA256")
        let complete = ServerHello.read(hello)
        #expect(complete == .cipherSuite(0xC02B))
        // The suite is complete after 5 + 4 + 2 + 32 + 1 + session id + 2 bytes; every shorter prefix needs more.
        let needed = 44 + Int(hello[43]) + 2
        for length in 0..<needed {
            #expect(ServerHello.read(Array(hello.prefix(length))) == .needMore, "\(length) bytes")
        }
        #expect(ServerHello.read(Array(hello.prefix(needed))) == complete)
        #expect(ServerHello.read(Array("HTTP/1.1 200 OK\r\n".utf8)) == .notServerHello)
        #expect(ServerHello.read([22, 3, 3, 0, 40, 1]) == .notServerHello)  // a ClientHello
        // A session id longer than 32 bytes.
        #expect(ServerHello.read([22, 3, 3, 0, 80, 2] + [UInt8](repeating: 0, count: 37) + [33]) == .notServerHello)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let garbage = (0..<Int.random(in: 0...120, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = ServerHello.read(garbage)
            _ = ServerHello.read([22, 3] + garbage)
        }
    }
}
