import Crypto
import Foundation
import HALBAppliance
import HALBCertificates
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// A TLS server on 127.0.0.1, port chosen by the system, presenting `chain` (the first certificate's key is
/// `key`); or, with no chain, a TCP server that accepts and says nothing.
private final class LoopbackServer: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress?.port ?? 0 }

    init(chain: [String], key: String?) async throws {
        let context: NIOSSLContext?
        if let key {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try chain.map {
                    .certificate(try NIOSSLCertificate(bytes: Array($0.utf8), format: .pem))
                },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            )
            context = try NIOSSLContext(configuration: configuration)
        } else {
            context = nil
        }
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func close() async {
        try? await self.channel.close()
    }
}

/// The SHA-256 of a PEM certificate's DER bytes, 64 lowercase hex digits.
private func fingerprint(_ pem: String) throws -> String {
    let der = try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem).toDERBytes()
    return SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
}

@Suite struct ConsoleCertificateFetcherTests {
    @Test func theCertificateWithTheFingerprintIsWrittenAsPEM() async throws {
        let console = try SelfSignedCertificate.make(names: ["127.0.0.1", "console.test"])
        let server = try await LoopbackServer(chain: [console.certificate], key: console.key)
        let url = try ApplianceValidation.console("https://127.0.0.1:\(server.port)")
        let expected = try fingerprint(console.certificate)
        let colons = stride(from: 0, to: 64, by: 2).map {
            expected.dropFirst($0).prefix(2).uppercased()
        }.joined(separator: ":")
        let sha256 = try ApplianceValidation.fingerprint(colons, field: "--sha256")
        let found = try await ConsoleCertificateFetcher.fetch(console: url, sha256: sha256, timeout: .seconds(10))
        await server.close()
        #expect(found.sha256 == expected)
        #expect(found.subject == "O=HALB (self-signed),CN=127.0.0.1")
        #expect(found.pem == console.certificate)

        let directory = try TemporaryDirectory()
        let out = directory.path + "/console-ca.pem"
        try ApplianceFileWriter.write(Array(found.pem.utf8), to: out, mode: 0o644)
        #expect(directory.read("console-ca.pem") == console.certificate)
        #expect(directory.mode("console-ca.pem") == 0o644)
    }

    @Test func anyCertificateOfTheChainCanBePinned() async throws {
        let leaf = try SelfSignedCertificate.make(names: ["127.0.0.1"])
        let ca = try SelfSignedCertificate.make(names: ["HALB test CA"])
        let server = try await LoopbackServer(chain: [leaf.certificate, ca.certificate], key: leaf.key)
        let url = try ApplianceValidation.console("https://127.0.0.1:\(server.port)")
        let found = try await ConsoleCertificateFetcher.fetch(
            console: url,
            sha256: try fingerprint(ca.certificate),
            timeout: .seconds(10)
        )
        await server.close()
        #expect(found.pem == ca.certificate)
        #expect(found.subject == "O=HALB (self-signed),CN=HALB test CA")
    }

    @Test func aWrongFingerprintWritesNothingAndNamesWhatWasPresented() async throws {
        let console = try SelfSignedCertificate.make(names: ["127.0.0.1"])
        let server = try await LoopbackServer(chain: [console.certificate], key: console.key)
        let url = try ApplianceValidation.console("https://127.0.0.1:\(server.port)")
        let message: String
        do {
            _ = try await ConsoleCertificateFetcher.fetch(
                console: url,
                sha256: sampleFingerprint,
                timeout: .seconds(10)
            )
            message = "accepted"
        } catch {
            message = error.description
        }
        await server.close()
        #expect(message.hasPrefix("--sha256: \(sampleFingerprint): none of the 1 certificates"), "\(message)")
        #expect(
            message.hasSuffix(
                "it presented:\n  \(try fingerprint(console.certificate)) O=HALB (self-signed),CN=127.0.0.1"
            ),
            "\(message)"
        )
    }

    @Test func aServerThatNeverHandsShakesTimesOut() async throws {
        let server = try await LoopbackServer(chain: [], key: nil)
        let url = try ApplianceValidation.console("https://127.0.0.1:\(server.port)")
        let message: String
        do {
            _ = try await ConsoleCertificateFetcher.fetch(
                console: url,
                sha256: sampleFingerprint,
                timeout: .milliseconds(300)
            )
            message = "accepted"
        } catch {
            message = error.description
        }
        await server.close()
        // The fetch's own deadline ended it (no time bound here: a loaded machine may take longer to say so).
        #expect(message.contains("no TLS handshake within 0.3 seconds"), "\(message)")
    }

    @Test func anHTTPConsoleIsRefused() async throws {
        let url = try ApplianceValidation.console("http://127.0.0.1:1")
        let message: String
        do {
            _ = try await ConsoleCertificateFetcher.fetch(console: url, sha256: sampleFingerprint, timeout: .seconds(1))
            message = "accepted"
        } catch {
            message = error.description
        }
        #expect(message.contains("fetch-ca needs an https:// console"))
    }
}
