import Crypto
import Foundation
import SwiftASN1
import X509

/// SHA-256 fingerprints of certificates, written as `openssl x509 -noout -fingerprint -sha256` writes them
/// (`AB:CD:…`, 32 bytes), so that an operator compares them at a glance.
public enum CertificateFingerprint {
    /// The fingerprint of DER bytes.
    public static func sha256(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    /// The fingerprint of each certificate in a PEM file, in the file's order.
    public static func sha256(pemFile path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try PEMDocument.parseMultiple(pemString: text)
            .filter { $0.discriminator == "CERTIFICATE" }
            .map { document in
                // Parsed, so that the fingerprint is that of a certificate and not of any PEM block.
                _ = try Certificate(derEncoded: document.derBytes)
                return Self.sha256(der: document.derBytes)
            }
    }
}
