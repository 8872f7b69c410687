import Crypto
import SwiftASN1
import X509

/// A certificate a TLS server presented: its DER bytes, SHA-256 fingerprint and subject.
public struct PresentedCertificate: Sendable, Hashable {
    /// The certificate, DER encoded, as sent.
    public var der: [UInt8]
    /// SHA-256 of ``der``, 64 lowercase hex digits: what `openssl x509 -noout -fingerprint -sha256` prints, less
    /// the colons.
    public var sha256: String
    /// The subject, as RFC 4514 writes it (`CN=console,O=HALB (self-signed)`), or a note when it cannot be read.
    public var subject: String

    /// Reads a DER certificate.
    public init(der: [UInt8]) {
        self.der = der
        self.sha256 = SHA256.hash(data: der).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }.joined()
        do {
            self.subject = try Certificate(derEncoded: der).subject.description
        } catch {
            self.subject = "(subject unreadable)"
        }
    }

    /// The certificate as PEM text, the exact bytes presented, ending in a newline.
    public var pem: String { PEMDocument(type: "CERTIFICATE", derBytes: self.der).pemString + "\n" }
}
