import AsyncHTTPClient
import HALBAgent
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
    static func server(certificate: String, key: String, http1: HTTP1Channel.Configuration) throws -> HTTPServerBuilder
    {
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

    /// An HTTP client for the console, which the caller shuts down when done: with `caFile`, one that trusts only
    /// the CA certificates in that PEM file, else the system's trust store. It connects within
    /// ``ConnectionFailure/connectTimeout`` and does not retry a failed connect, so a refused connection fails at
    /// once and a wrong CA within seconds, with the reason.
    static func client(trusting caFile: String?) throws -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if let caFile {
            do {
                _ = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw ClientError("\(caFile): not a readable PEM file of CA certificates (\(error))")
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            tls.minimumTLSVersion = .tlsv12
            configuration.tlsConfiguration = tls
        }
        return ConnectionFailure.makeClient(configuration: configuration)
    }
}
