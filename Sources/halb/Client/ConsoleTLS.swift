import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// HTTPS between the console and its clients (devices and admin commands): the console's certificate and key, and
/// the CA bundle a client trusts the console by.
enum ConsoleTLS {
    /// The console's HTTPS server (TLS 1.2 or newer) with the PEM certificate chain and key in these files.
    ///
    /// - Throws: ``ClientError`` naming the file and what is wrong with it (unreadable, not PEM, key not matching).
    static func server(certificate: String, key: String, http1: HTTP1Channel.Configuration) throws -> HTTPServerBuilder {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw ClientError("--tls-certificate \(certificate): not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ClientError("--tls-certificate \(certificate): holds no certificate") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw ClientError("--tls-key \(key): not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Building the context checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: configuration)
            return try .tls(.http1(configuration: http1), tlsConfiguration: configuration)
        } catch {
            throw ClientError("--tls-key \(key) does not go with --tls-certificate \(certificate) (\(error))")
        }
    }

    /// An HTTP client for the console: the shared one (the system's trust store), or with `caFile` one that trusts
    /// only the CA certificates in that PEM file. Shut an owned client down when done.
    static func client(trusting caFile: String?) throws -> (client: HTTPClient, owned: Bool) {
        guard let caFile else { return (HTTPClient.shared, false) }
        do {
            _ = try NIOSSLCertificate.fromPEMFile(caFile)
        } catch {
            throw ClientError("\(caFile): not a readable PEM file of CA certificates (\(error))")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tls.minimumTLSVersion = .tlsv12
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        // AsyncHTTPClient retries a failed TLS handshake (such as an untrusted certificate) until the connect
        // timeout: keep that short, so a wrong CA fails in seconds with the certificate error.
        configuration.timeout.connect = .seconds(5)
        return (HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration), true)
    }
}
