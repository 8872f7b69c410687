import GRDB

/// A row of `site_versions`: one version of a site, its document (YAML, as ``SiteWriter`` writes it) and who made it.
struct SiteVersionRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "site_versions"

    var site: String
    var version: Int
    var document: String
    var author: String
    var createdAt: String
    var change: String

    enum CodingKeys: String, CodingKey {
        case site, version, document, author, change
        case createdAt = "created_at"
    }

    enum Columns {
        static let site = Column(CodingKeys.site)
        static let version = Column(CodingKeys.version)
    }
}
