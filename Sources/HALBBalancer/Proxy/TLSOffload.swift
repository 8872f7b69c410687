import Foundation
import HALBCertificates
import HALBCore
import NIOSSL

/// What an offloading `ssl` payload terminates TLS with: file paths and settings, as configured.
public struct TLSOffloadConfiguration: Sendable, Hashable {
    /// The PEM file of the certificate chain, leaf first.
    public var certificate: String
    /// The PEM file of the private key.
    public var privateKey: String
    /// The lowest TLS version accepted.
    public var minimumTLSVersion: TLSProtocolVersion
    /// The TLS 1.2 cipher suites offered.
    public var ciphers: CipherPolicy
    /// Re-encryption toward the gateways; `nil`: plain TCP.
    public var gatewayTLS: GatewayTLS?
    /// The application protocols offered to clients (ALPN), in order of preference; empty: none.
    public var alpn: [String]

    public init(
        certificate: String,
        privateKey: String,
        minimumTLSVersion: TLSProtocolVersion = .v1_2,
        ciphers: CipherPolicy = .modern,
        gatewayTLS: GatewayTLS? = nil,
        alpn: [String] = []
    ) {
        self.alpn = alpn
        self.certificate = certificate
        self.privateKey = privateKey
        self.minimumTLSVersion = minimumTLSVersion
        self.ciphers = ciphers
        self.gatewayTLS = gatewayTLS
    }
}

/// The loaded certificate and key of an offloading payload: the TLS context new connections use, and the
/// leaf certificate's validity for `/status` and the expiry metric.
public struct TLSOffload: Sendable {
    let context: NIOSSLContext
    /// Re-encryption: the client context for the gateway connections of clients that negotiated no ALPN protocol.
    let gatewayContext: NIOSSLContext?
    /// Re-encryption with ALPN: a client context per protocol, offering the gateway the one the client picked.
    let gatewayContexts: [String: NIOSSLContext]
    /// The leaf certificate's common name, as `CN=...`.
    public let subject: String
    /// When the leaf certificate expires.
    public let notValidAfter: Date

    /// ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla's "intermediate" TLS 1.2 suites, without DHE).
    static let modernSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ]
    /// `modernSuites`, then ECDHE with AES-CBC for older clients.
    static let intermediateSuites =
        Self.modernSuites + [
            "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        ]

    /// Reads and checks the files of `configuration` at `now`.
    ///
    /// - Throws: ``TLSOffloadError`` naming the file and the problem: unreadable, not PEM, no certificate, not yet
    ///   or no longer valid, a key that does not belong to the certificate, or cipher suites the library does not know.
    public static func load(
        _ configuration: TLSOffloadConfiguration,
        now: Date = Date()
    ) throws(TLSOffloadError) -> TLSOffload {
        guard !configuration.certificate.isEmpty else {
            // The agent turns a managed certificate into files; a device run from a site file has none.
            throw TLSOffloadError(
                "managedCertificate: a certificate uploaded to the console reaches managed devices only; a device run from a site file needs certificate and privateKey (PEM files)"
            )
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(configuration.certificate)
        } catch {
            throw TLSOffloadError("certificate \(configuration.certificate): cannot be read as PEM (\(error))")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: configuration.privateKey, format: .pem)
        } catch {
            throw TLSOffloadError(
                "privateKey \(configuration.privateKey): cannot be read as a PEM private key (\(error))"
            )
        }
        let (context, summary) = try Self.serverContext(
            chain: chain,
            key: key,
            configuration: configuration,
            certificateName: "certificate \(configuration.certificate)",
            keyName: "privateKey \(configuration.privateKey)",
            now: now
        )
        var gatewayContext: NIOSSLContext?
        var gatewayContexts: [String: NIOSSLContext] = [:]
        if let gatewayTLS = configuration.gatewayTLS {
            var client = TLSConfiguration.makeClientConfiguration()
            client.minimumTLSVersion = .tlsv12
            client.certificateVerification = gatewayTLS.verify ? .fullVerification : .none
            if let bundle = gatewayTLS.caBundle {
                do {
                    guard try !NIOSSLCertificate.fromPEMFile(bundle).isEmpty else {
                        throw TLSOffloadError("gatewayTLS.caBundle \(bundle): holds no certificate")
                    }
                } catch let error as TLSOffloadError {
                    throw error
                } catch {
                    throw TLSOffloadError("gatewayTLS.caBundle \(bundle): cannot be read as PEM (\(error))")
                }
                client.trustRoots = .file(bundle)
            }
            do {
                gatewayContext = try NIOSSLContext(configuration: client)
                for name in configuration.alpn {
                    client.applicationProtocols = [name]
                    gatewayContexts[name] = try NIOSSLContext(configuration: client)
                }
            } catch {
                throw TLSOffloadError("gatewayTLS: \(error)")
            }
        }
        return TLSOffload(
            context: context,
            gatewayContext: gatewayContext,
            gatewayContexts: gatewayContexts,
            subject: summary.subject,
            notValidAfter: summary.notValidAfter
        )
    }

    /// The server context of `chain` and `key` with `configuration`'s TLS settings, once the leaf certificate is
    /// valid at `now` and the key belongs to it.
    private static func serverContext(
        chain: [NIOSSLCertificate],
        key: NIOSSLPrivateKey,
        configuration: TLSOffloadConfiguration,
        certificateName: String,
        keyName: String,
        now: Date
    ) throws(TLSOffloadError) -> (context: NIOSSLContext, summary: CertificateSummary) {
        // Subject, names and validity from the certificate itself (swift-certificates), as the console reads them.
        let summary: CertificateSummary
        do {
            summary = try CertificateCheck.summary(
                ofDER: chain.map { (try? $0.toDERBytes()) ?? [] },
                field: certificateName,
                now: now
            )
        } catch {
            throw TLSOffloadError(error.description)
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        tls.minimumTLSVersion = configuration.minimumTLSVersion == .v1_3 ? .tlsv13 : .tlsv12
        tls.applicationProtocols = configuration.alpn
        let suites: [String] =
            switch configuration.ciphers {
            case .modern: Self.modernSuites
            case .intermediate: Self.intermediateSuites
            case .list(let names): names
            }
        // BoringSSL traps on a cipher list it cannot use: only known names get this far.
        guard !suites.isEmpty, suites.allSatisfy(CipherPolicy.knownSuites.contains) else {
            throw TLSOffloadError("ciphers \(suites.joined(separator: ":")): not all known TLS 1.2 cipher suites")
        }
        tls.cipherSuites = suites.joined(separator: ":")
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw TLSOffloadError("\(keyName) does not belong to \(certificateName) (\(error))")
        }
        return (context, summary)
    }
}

/// Why an offloading payload's certificate or key cannot be used.
public struct TLSOffloadError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
