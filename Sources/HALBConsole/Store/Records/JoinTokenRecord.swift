import GRDB

/// A row of `join_tokens`: a one-time token for one device of a site to enrol with.
struct JoinTokenRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "join_tokens"

    var id: String
    var site: String
    var device: String
    var secretHash: String
    var createdAt: String
    var expiresAt: String
    /// When it was used; `nil` while it may still be.
    var usedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, site, device
        case secretHash = "secret_hash"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case usedAt = "used_at"
    }

    enum Columns {
        static let usedAt = Column(CodingKeys.usedAt)
    }
}
