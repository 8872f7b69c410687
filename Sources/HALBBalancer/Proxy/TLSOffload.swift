import Foundation
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

    public init(
        certificate: String,
        privateKey: String,
        minimumTLSVersion: TLSProtocolVersion = .v1_2,
        ciphers: CipherPolicy = .modern,
        gatewayTLS: GatewayTLS? = nil
    ) {
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
    /// Re-encryption: the client context for the gateway connections.
    let gatewayContext: NIOSSLContext?
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
    static let intermediateSuites = Self.modernSuites + [
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
    ]

    /// Reads and checks the files of `configuration` at `now`.
    ///
    /// - Throws: ``TLSOffloadError`` naming the file and the problem: unreadable, not PEM, no certificate, not yet
    ///   or no longer valid, a key that does not belong to the certificate, or cipher suites the library does not know.
    public static func load(_ configuration: TLSOffloadConfiguration, now: Date = Date()) throws(TLSOffloadError) -> TLSOffload {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(configuration.certificate)
        } catch {
            throw TLSOffloadError("certificate \(configuration.certificate): cannot be read as PEM (\(error))")
        }
        guard let leaf = chain.first else {
            throw TLSOffloadError("certificate \(configuration.certificate): holds no certificate")
        }
        let notBefore = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        guard notAfter > now else {
            throw TLSOffloadError("certificate \(configuration.certificate): expired on \(Self.show(notAfter))")
        }
        guard notBefore <= now else {
            throw TLSOffloadError("certificate \(configuration.certificate): not valid before \(Self.show(notBefore))")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: configuration.privateKey, format: .pem)
        } catch {
            throw TLSOffloadError("privateKey \(configuration.privateKey): cannot be read as a PEM private key (\(error))")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = configuration.minimumTLSVersion == .v1_3 ? .tlsv13 : .tlsv12
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
            throw TLSOffloadError(
                "privateKey \(configuration.privateKey) does not belong to certificate \(configuration.certificate) (\(error))"
            )
        }
        // The description reads <NIOSSLCertificate;serial_number=...;common_name=NAME;...>.
        let subject = "\(leaf)".firstMatch(of: /common_name=([^;>]*)/).map { "CN=" + $0.1 } ?? "?"
        var gatewayContext: NIOSSLContext?
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
            } catch {
                throw TLSOffloadError("gatewayTLS: \(error)")
            }
        }
        return TLSOffload(context: context, gatewayContext: gatewayContext, subject: subject, notValidAfter: notAfter)
    }

    private static func show(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

/// Why an offloading payload's certificate or key cannot be used.
public struct TLSOffloadError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
