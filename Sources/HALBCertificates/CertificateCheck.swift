import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// What a checked certificate chain says of itself.
public struct CertificateSummary: Sendable, Hashable {
    /// The leaf certificate's subject, as RFC 4514 writes it (`CN=rdp.example.com,O=Example`).
    public var subject: String
    /// The leaf certificate's subject alternative names: `DNS:name`, `IP:address`, `URI:...`, `email:...`.
    public var subjectAlternativeNames: [String]
    public var notValidBefore: Date
    public var notValidAfter: Date
    /// How many certificates the chain holds (the leaf and its intermediates).
    public var chainLength: Int
    /// The leaf certificate in DER, for a fingerprint.
    public var leafDER: [UInt8]
}

/// Why a certificate chain or its private key cannot be used; the description starts with the field it names.
public struct CertificateProblem: Error, CustomStringConvertible, Sendable, Hashable {
    /// The field the problem is in (`certificate`, `privateKey`, or the names the caller gave).
    public var field: String
    /// What is wrong with it.
    public var reason: String

    public var description: String { "\(self.field): \(self.reason)" }
}

/// Reads and checks a certificate chain and its private key: both PEM, the key the leaf certificate's own, the
/// leaf valid now. Used by the console when a certificate is uploaded and by the data plane when it loads one, so
/// both say the same of the same files.
public enum CertificateCheck {
    /// Checks `certificatePEM` (the leaf first, then its intermediates) and `privateKeyPEM` at `now`.
    ///
    /// - Parameters:
    ///   - certificateField: how problems with the chain name it (`certificate`, or a payload's field path).
    ///   - keyField: how problems with the key name it.
    /// - Returns: what the leaf says of itself.
    /// - Throws: ``CertificateProblem`` naming the field: not PEM, no certificate, expired, not yet valid, or a key
    ///   that does not belong to the leaf certificate.
    public static func check(
        certificatePEM: String,
        privateKeyPEM: String,
        certificateField: String = "certificate",
        keyField: String = "privateKey",
        now: Date = Date()
    ) throws(CertificateProblem) -> CertificateSummary {
        let chain = try Self.chain(certificatePEM, field: certificateField)
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        } catch {
            throw CertificateProblem(field: keyField, reason: "cannot be read as a PEM private key (\(error))")
        }
        let summary = try Self.summary(of: chain, field: certificateField, now: now)
        guard key.publicKey == chain[0].publicKey else {
            throw CertificateProblem(
                field: keyField,
                reason: "does not belong to \(certificateField) (\(summary.subject))"
            )
        }
        return summary
    }

    /// What the leaf of `chainDER` (DER certificates, the leaf first) says of itself, once it is valid at `now`.
    ///
    /// - Throws: ``CertificateProblem`` naming `field`: no certificate, one that cannot be read, expired, not yet
    ///   valid.
    public static func summary(
        ofDER chainDER: [[UInt8]],
        field: String = "certificate",
        now: Date = Date()
    )
        throws(CertificateProblem) -> CertificateSummary
    {
        var chain: [Certificate] = []
        for der in chainDER {
            do {
                chain.append(try Certificate(derEncoded: der))
            } catch {
                throw CertificateProblem(field: field, reason: "cannot be read as a certificate (\(error))")
            }
        }
        return try Self.summary(of: chain, field: field, now: now)
    }

    /// The subject alternative names of the leaf of `pem` (`DNS:name`, `IP:address`, ...), without checking its
    /// validity: for showing a stored chain. None when it cannot be read.
    public static func subjectAlternativeNames(ofPEM pem: String) -> [String] {
        guard let leaf = (try? Self.chain(pem, field: "certificate"))?.first else { return [] }
        let names = (try? leaf.extensions.subjectAlternativeNames).flatMap { $0 }.map { Array($0) } ?? []
        return names.map(Self.show)
    }

    private static func chain(_ pem: String, field: String) throws(CertificateProblem) -> [Certificate] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw CertificateProblem(field: field, reason: "cannot be read as PEM (\(error))")
        }
        guard !documents.isEmpty else {
            throw CertificateProblem(
                field: field,
                reason: "cannot be read as PEM (no -----BEGIN CERTIFICATE----- block)"
            )
        }
        var chain: [Certificate] = []
        for document in documents where document.discriminator == "CERTIFICATE" {
            do {
                chain.append(try Certificate(derEncoded: document.derBytes))
            } catch {
                throw CertificateProblem(field: field, reason: "cannot be read as a certificate (\(error))")
            }
        }
        guard !chain.isEmpty else { throw CertificateProblem(field: field, reason: "holds no certificate") }
        return chain
    }

    private static func summary(
        of chain: [Certificate],
        field: String,
        now: Date
    ) throws(CertificateProblem)
        -> CertificateSummary
    {
        guard let leaf = chain.first else { throw CertificateProblem(field: field, reason: "holds no certificate") }
        guard leaf.notValidAfter > now else {
            throw CertificateProblem(field: field, reason: "expired on \(Self.show(leaf.notValidAfter))")
        }
        guard leaf.notValidBefore <= now else {
            throw CertificateProblem(field: field, reason: "not valid before \(Self.show(leaf.notValidBefore))")
        }
        var der = DER.Serializer()
        let leafDER = (try? der.serialize(leaf)).map { der.serializedBytes } ?? []
        let names = (try? leaf.extensions.subjectAlternativeNames).flatMap { $0 }.map { Array($0) } ?? []
        return CertificateSummary(
            subject: leaf.subject.description,
            subjectAlternativeNames: names.map(Self.show),
            notValidBefore: leaf.notValidBefore,
            notValidAfter: leaf.notValidAfter,
            chainLength: chain.count,
            leafDER: leafDER
        )
    }

    private static func show(_ name: GeneralName) -> String {
        switch name {
        case .dnsName(let name): return "DNS:\(name)"
        case .rfc822Name(let address): return "email:\(address)"
        case .uniformResourceIdentifier(let uri): return "URI:\(uri)"
        case .ipAddress(let octets): return "IP:\(Self.show(address: Array(octets.bytes)))"
        default: return "\(name)"
        }
    }

    /// An IPv4 or IPv6 address from its bytes.
    private static func show(address bytes: [UInt8]) -> String {
        let family = bytes.count == 16 ? AF_INET6 : AF_INET
        guard bytes.count == 4 || bytes.count == 16 else { return bytes.map { String($0) }.joined(separator: ".") }
        var text = [UInt8](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = text.withUnsafeMutableBufferPointer { output in
            bytes.withUnsafeBytes { input in
                output.withMemoryRebound(to: CChar.self) {
                    inet_ntop(family, input.baseAddress, $0.baseAddress, socklen_t($0.count)) != nil
                }
            }
        }
        return ok ? String(decoding: text.prefix { $0 != 0 }, as: UTF8.self) : "?"
    }

    private static func show(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
