import GRDB

/// A row of `agents`: an enrolled device, its credential and signing key, and what it last reported.
struct AgentRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "agents"

    var site: String
    var device: String
    var credentialID: String
    var credentialHash: String
    var signingKey: String
    var enrolledAt: String
    var lastSeen: String?
    var softwareVersion: String?
    var appliedVersion: Int?
    /// The last refused version and why (NACK); cleared by an ACK.
    var nackVersion: Int?
    var nackError: String?
    /// The last heartbeat, as JSON (an ``AgentReport``).
    var report: String?
    /// Since when the device has claimed to be primary, per virtual router (JSON, see ``PrimaryClaims``).
    var primarySince: String?

    enum CodingKeys: String, CodingKey {
        case site, device, report
        case credentialID = "credential_id"
        case credentialHash = "credential_hash"
        case signingKey = "signing_key"
        case enrolledAt = "enrolled_at"
        case lastSeen = "last_seen"
        case softwareVersion = "software_version"
        case appliedVersion = "applied_version"
        case nackVersion = "nack_version"
        case nackError = "nack_error"
        case primarySince = "primary_since"
    }

    enum Columns {
        static let site = Column(CodingKeys.site)
        static let device = Column(CodingKeys.device)
        static let credentialID = Column(CodingKeys.credentialID)
        static let lastSeen = Column(CodingKeys.lastSeen)
        static let softwareVersion = Column(CodingKeys.softwareVersion)
        static let appliedVersion = Column(CodingKeys.appliedVersion)
        static let nackVersion = Column(CodingKeys.nackVersion)
        static let nackError = Column(CodingKeys.nackError)
        static let report = Column(CodingKeys.report)
        static let primarySince = Column(CodingKeys.primarySince)
    }
}
