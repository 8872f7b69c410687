import GRDB

/// A row of `sites`: a site and its current version.
struct SiteRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "sites"

    var name: String
    var version: Int

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let version = Column(CodingKeys.version)
    }
}
