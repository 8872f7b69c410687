import Foundation
import GRDB

/// A row of `certificates`: a site's certificate chain, its private key sealed with the console's secrets key, and
/// what the leaf says of itself.
struct CertificateRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "certificates"

    var site: String
    var name: String
    var certificate: String
    /// AES-GCM's combined nonce, ciphertext and tag, under the secrets key, the site and name as associated data.
    var privateKeySealed: Data
    var subject: String
    var notBefore: String
    var notAfter: String
    var fingerprint: String
    var chainLength: Int
    var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case site, name, certificate, subject, fingerprint
        case privateKeySealed = "private_key_sealed"
        case notBefore = "not_before"
        case notAfter = "not_after"
        case chainLength = "chain_length"
        case updatedAt = "updated_at"
    }

    enum Columns {
        static let site = Column(CodingKeys.site)
        static let name = Column(CodingKeys.name)
    }
}
