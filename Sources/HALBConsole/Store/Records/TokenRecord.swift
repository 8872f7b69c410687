import GRDB
import HALBWire

/// A row of `tokens`: a session or API token, by the SHA-256 hash of its secret.
struct TokenRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "tokens"

    var id: String
    var secretHash: String
    var user: String
    var name: String
    var role: Role
    var kind: Identity.Kind
    var createdAt: String
    var expiresAt: String?
    /// The API token it was made with, if any: it is revoked with that one.
    var parent: String?

    enum CodingKeys: String, CodingKey {
        case id, user, name, role, kind, parent
        case secretHash = "secret_hash"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let user = Column(CodingKeys.user)
        static let kind = Column(CodingKeys.kind)
        static let createdAt = Column(CodingKeys.createdAt)
    }

    /// The token as the API shows it.
    var info: TokenInfo {
        TokenInfo(
            id: self.id,
            name: self.name,
            user: self.user,
            role: self.role,
            kind: self.kind.rawValue,
            createdAt: self.createdAt,
            expiresAt: self.expiresAt
        )
    }
}

extension Identity.Kind: Codable, DatabaseValueConvertible {}
