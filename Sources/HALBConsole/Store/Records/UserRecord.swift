import GRDB
import HALBWire

/// A row of `users`: a user, its password's bcrypt hash and its role.
struct UserRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "users"

    var name: String
    var passwordHash: String
    var role: Role
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case name, role
        case passwordHash = "password_hash"
        case createdAt = "created_at"
    }

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let passwordHash = Column(CodingKeys.passwordHash)
    }
}

extension Role: DatabaseValueConvertible {}
