import Crypto
import Foundation
import SwiftASN1
import X509

/// A self-signed certificate and its key, for a console that has none configured yet (HTTPS from the first start;
/// clients trust it by its file, or by its fingerprint).
public enum SelfSignedCertificate {
    /// A P-256 certificate for `names` (the first is the common name; each is a DNS name, or an IP address when it
    /// parses as one), valid from an hour ago for `days`, and its PKCS#8 key, as PEM text.
    public static func make(names: [String], days: Int = 825) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName {
            CommonName(names.first ?? "halb")
            OrganizationName("HALB (self-signed)")
        }
        let alternativeNames = names.map { name -> GeneralName in
            if let bytes = Self.ipAddressBytes(name) { return .ipAddress(ASN1OctetString(contentBytes: bytes[...])) }
            return .dnsName(name)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: privateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                // Its own CA, as `openssl req -x509` makes one: clients trust it by this file as their CA, and
                // BoringSSL (SwiftNIO's TLS, which halb's devices and commands use) refuses a trust anchor that may
                // not sign certificates.
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(alternativeNames)
            },
            issuerPrivateKey: privateKey
        )
        return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }

    /// The bytes of an IPv4 or IPv6 address literal.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
