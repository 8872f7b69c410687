import GRDB

/// A row of `audit`: who did what, when (`id` is given by SQLite on insert).
struct AuditRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "audit"

    var id: Int64?
    var at: String
    var actor: String
    var action: String
    var target: String
    var site: String?
    var version: Int?
    var detail: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let site = Column(CodingKeys.site)
        static let actor = Column(CodingKeys.actor)
        static let action = Column(CodingKeys.action)
        static let at = Column(CodingKeys.at)
    }
}
