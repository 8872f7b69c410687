import Crypto
import Foundation
import GRDB
import HALBCore
import HALBWire

/// Who a request comes from, once its token is checked.
public struct Identity: Sendable, Hashable {
    /// How the request was authenticated.
    public enum Kind: String, Sendable, Hashable {
        /// A session token from `POST /api/v1/login`: the user proved their password.
        case session
        /// An API token: it proves only that whoever holds it was given it.
        case api
    }

    public var user: String
    /// What this token may do (a user's token may have less than the user).
    public var role: Role
    /// The token that authenticated the request.
    public var tokenID: String
    public var kind: Kind
    /// When the token expires (`nil`: never, until revoked).
    public var expiresAt: String?

    /// Creates an identity.
    public init(user: String, role: Role, tokenID: String, kind: Kind, expiresAt: String? = nil) {
        self.user = user
        self.role = role
        self.tokenID = tokenID
        self.kind = kind
        self.expiresAt = expiresAt
    }
}

/// One stored version of a site: the parsed site, and its canonical document (every field explicit, text quoted),
/// made once, which the API answers (as JSON), exports (as YAML) and devices' site files are cut from.
public struct StoredSite: Sendable {
    public let name: String
    public let version: Int
    public let site: Site
    /// The document as ``SiteWriter`` writes it, `version` included.
    public let document: ConfigNode
    /// ``document`` as YAML: what the store keeps and `export` answers.
    public let yaml: String

    init(name: String, version: Int, site: Site) {
        self.name = name
        self.version = version
        self.site = site
        self.document = SiteWriter.node(site)
        self.yaml = self.document.yaml()
    }
}

/// The console's store (``ConsoleStorage``) in one SQLite file: sites with their whole history, users, tokens,
/// the audit log, enrolled devices and certificates.
///
/// Every change runs in one transaction: the site is edited as a document, read back by ``SiteReader`` (so it is
/// valid as a whole, or nothing is stored), written as a new version and audited. The file is in WAL mode with
/// `synchronous = FULL`, so a change the API acknowledged survives a crash of the process or the machine.
public final class ConsoleStore: ConsoleStorage {
    let writer: any DatabaseWriter
    /// Wakes the devices' long polls when a site changes.
    let changes = SiteChangeNotifier()
    /// The current versions, parsed once.
    let parsed = ParsedSites()
    /// Seals the private keys of uploaded certificates in the store (AES-GCM): a copy of the database alone does
    /// not give them away. Kept in `secrets.key` beside the database, readable by the console's user only.
    private let secretsKeyBytes: [UInt8]
    var secretsKey: SymmetricKey { SymmetricKey(data: self.secretsKeyBytes) }

    /// Opens (creating if need be) `console.sqlite` in `directory` and migrates it.
    ///
    /// - Throws: a GRDB error when the file cannot be opened or migrated.
    /// The directory is made readable by the console's user only: the store holds password hashes and the devices'
    /// signing keys.
    public convenience init(directory: URL) throws {
        try FileManager.default.createDirectory(
            at: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let path = directory.appendingPathComponent("console.sqlite").path
        let pool = try DatabasePool(path: path, configuration: configuration)
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
        try self.init(writer: pool, secretsKey: try Self.secretsKey(in: directory))
    }

    /// A store in memory, for tests.
    public static func inMemory() throws -> ConsoleStore {
        try ConsoleStore(writer: DatabaseQueue(), secretsKey: SymmetricKey(size: .bits256))
    }

    private init(writer: any DatabaseWriter, secretsKey: SymmetricKey) throws {
        self.writer = writer
        self.secretsKeyBytes = secretsKey.withUnsafeBytes { Array($0) }
        try Self.migrator.migrate(writer)
    }

    /// The key in `directory/secrets.key`, made (32 random bytes, mode 0600) on the first start.
    private static func secretsKey(in directory: URL) throws -> SymmetricKey {
        let file = directory.appendingPathComponent("secrets.key")
        if let data = FileManager.default.contents(atPath: file.path) {
            guard data.count == 32 else {
                throw ConsoleError.conflict(
                    "\(file.path) is not a key of 32 bytes (\(data.count)); restore it from a backup"
                )
            }
            return SymmetricKey(data: data)
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: file.path, contents: bytes, attributes: [.posixPermissions: 0o600])
        else {
            throw ConsoleError.conflict("cannot create \(file.path)")
        }
        return key
    }

    /// Append-only: a released migration is never changed, only followed by new ones.
    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: sites, versions, users, tokens, audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sites (
                        name TEXT PRIMARY KEY NOT NULL,
                        version INTEGER NOT NULL
                    );
                    CREATE TABLE site_versions (
                        site TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
                        version INTEGER NOT NULL,
                        document TEXT NOT NULL,
                        author TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        change TEXT NOT NULL,
                        PRIMARY KEY (site, version)
                    );
                    CREATE TABLE users (
                        name TEXT PRIMARY KEY NOT NULL,
                        password_hash TEXT NOT NULL,
                        role TEXT NOT NULL CHECK (role IN ('admin', 'read-only')),
                        created_at TEXT NOT NULL
                    );
                    CREATE TABLE tokens (
                        id TEXT PRIMARY KEY NOT NULL,
                        secret_hash TEXT NOT NULL,
                        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL CHECK (role IN ('admin', 'read-only')),
                        kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
                        created_at TEXT NOT NULL,
                        expires_at TEXT
                    );
                    CREATE TABLE audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        target TEXT NOT NULL,
                        site TEXT,
                        version INTEGER,
                        detail TEXT NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v2: device enrolment and agent status") { db in
            try db.execute(
                sql: """
                    CREATE TABLE join_tokens (
                        id TEXT PRIMARY KEY NOT NULL,
                        site TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
                        device TEXT NOT NULL,
                        secret_hash TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        used_at TEXT
                    );
                    CREATE TABLE agents (
                        site TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
                        device TEXT NOT NULL,
                        credential_id TEXT NOT NULL UNIQUE,
                        credential_hash TEXT NOT NULL,
                        signing_key TEXT NOT NULL,
                        enrolled_at TEXT NOT NULL,
                        last_seen TEXT,
                        software_version TEXT,
                        applied_version INTEGER,
                        nack_version INTEGER,
                        nack_error TEXT,
                        report TEXT,
                        PRIMARY KEY (site, device)
                    );
                    """
            )
        }
        migrator.registerMigration("v3: certificates") { db in
            try db.execute(
                sql: """
                    CREATE TABLE certificates (
                        site TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        certificate TEXT NOT NULL,
                        private_key_sealed BLOB NOT NULL,
                        subject TEXT NOT NULL,
                        not_before TEXT NOT NULL,
                        not_after TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        chain_length INTEGER NOT NULL,
                        updated_at TEXT NOT NULL,
                        PRIMARY KEY (site, name)
                    );
                    """
            )
        }
        migrator.registerMigration("v4: tokens made by tokens") { db in
            // A token minted with another API token is revoked with it and expires no later.
            try db.execute(sql: "ALTER TABLE tokens ADD COLUMN parent TEXT REFERENCES tokens(id) ON DELETE CASCADE")
        }
        migrator.registerMigration("v5: since when a device claims to be primary") { db in
            try db.execute(sql: "ALTER TABLE agents ADD COLUMN primary_since TEXT")
        }
        return migrator
    }

    // MARK: - Sites

    /// Every site with its current version, by name.
    public func sites() async throws -> [(name: String, version: Int)] {
        try await self.writer.read { db in
            try SiteRecord.order(SiteRecord.Columns.name).fetchAll(db).map { ($0.name, $0.version) }
        }
    }

    /// The current version of site `name`.
    ///
    /// - Throws: ``ConsoleError/notFound(_:)`` when there is no such site.
    public func site(_ name: String) async throws -> StoredSite {
        try await self.writer.read { db in try self.current(name, db) }
    }

    /// Version `version` of site `name`.
    public func site(_ name: String, version: Int) async throws -> StoredSite {
        try await self.writer.read { db in
            guard let document = try SiteVersionRecord.fetchOne(db, key: ["site": name, "version": version])?.document
            else {
                _ = try Self.currentVersion(name, db)
                throw ConsoleError.notFound("site \(name) has no version \(version)")
            }
            return try self.parsed.site(name, version: version, source: document, current: false)
        }
    }

    /// Creates a site from `document` as version 1.
    ///
    /// - Throws: ``ConsoleError`` when the document is invalid or the name is taken; nothing is stored then.
    public func createSite(_ document: ConfigNode, actor: String) async throws -> StoredSite {
        let stored = try await self.writer.write { db in
            let site = try Self.read(document.replacing("version", with: .plain("1")))
            if try Self.exists(site.name, db) { throw ConsoleError.conflict("site \(site.name) exists already") }
            try Self.checkCertificates(of: site, db)
            let stored = StoredSite(name: site.name, version: 1, site: site)
            try SiteRecord(name: site.name, version: 1).insert(db)
            try Self.storeVersion(stored, change: "create site", author: actor, db)
            try Self.audit(
                actor: actor,
                action: "create",
                target: "site \(site.name)",
                site: site.name,
                version: 1,
                detail: "",
                db
            )
            return stored
        }
        self.parsed.remember(stored, source: stored.yaml)
        return stored
    }

    /// Changes site `name` in one transaction: `edit` turns the current document into the new one, which must be
    /// valid as a whole; it is stored as the next version and audited.
    ///
    /// - Parameters:
    ///   - basedOn: the version the caller read; another current version fails with 412, so no change is lost.
    ///   - actor: who, for the history and the audit log.
    ///   - change: what, in words (`update gateway gw1`).
    ///   - edit: the change; may throw ``ConsoleError``.
    /// - Throws: ``ConsoleError`` (and nothing is stored) when the site is missing, the version stale, the edit
    ///   refused or the result invalid.
    public func changeSite(
        _ name: String,
        basedOn: Int,
        actor: String,
        change: String,
        edit: @escaping @Sendable (ConfigNode) throws -> ConfigNode
    ) async throws -> StoredSite {
        let stored = try await self.writer.write { db in
            let current = try self.current(name, db)
            guard current.version == basedOn else {
                throw ConsoleError.staleVersion(sent: basedOn, current: current.version)
            }
            let version = current.version + 1
            let edited = try edit(current.document).replacing("version", with: .plain(String(version)))
            let site = try Self.read(edited)
            guard site.name == name else {
                throw ConsoleError.invalid([
                    ConfigurationIssue(path: "site", message: "a site cannot be renamed (from \(name) to \(site.name))")
                ])
            }
            try Self.checkCertificates(of: site, db)
            let stored = StoredSite(name: name, version: version, site: site)
            try SiteRecord(name: name, version: version).update(db)
            try Self.storeVersion(stored, change: change, author: actor, db)
            let detail = SiteDifference.describe(from: current.document, to: stored.document)
            try Self.audit(
                actor: actor,
                action: "update",
                target: change,
                site: name,
                version: version,
                detail: detail,
                db
            )
            return stored
        }
        self.parsed.remember(stored, source: stored.yaml)
        await self.changes.changed(name)
        return stored
    }

    /// Deletes site `name` and its history; the audit log keeps the deletion.
    public func deleteSite(_ name: String, basedOn: Int, actor: String) async throws {
        try await self.writer.write { db in
            let current = try Self.currentVersion(name, db)
            guard current == basedOn else {
                throw ConsoleError.staleVersion(sent: basedOn, current: current)
            }
            try SiteVersionRecord.filter(SiteVersionRecord.Columns.site == name).deleteAll(db)
            try SiteRecord.deleteOne(db, key: name)
            try Self.audit(
                actor: actor,
                action: "delete",
                target: "site \(name)",
                site: name,
                version: current,
                detail: "",
                db
            )
        }
        self.parsed.forget(name)
    }

    /// The history of site `name`, newest first.
    public func versions(of name: String) async throws -> [SiteVersionInfo] {
        try await self.writer.read { db in
            _ = try Self.currentVersion(name, db)
            return try SiteVersionRecord.filter(SiteVersionRecord.Columns.site == name)
                .order(SiteVersionRecord.Columns.version.desc)
                .fetchAll(db)
                .map {
                    SiteVersionInfo(version: $0.version, author: $0.author, createdAt: $0.createdAt, change: $0.change)
                }
        }
    }

    // MARK: - Users and tokens

    /// Whether any user exists (the first start creates the admin).
    public func hasUsers() async throws -> Bool {
        try await self.writer.read { db in try UserRecord.fetchCount(db) > 0 }
    }

    /// Creates user `name` with `password` (stored as a bcrypt hash).
    ///
    /// - Throws: ``ConsoleError`` when the name is taken or empty, or the password too short.
    public func createUser(_ name: String, password: String, role: Role, actor: String) async throws -> UserInfo {
        guard name.range(of: #"^[A-Za-z0-9._-]{1,64}$"#, options: .regularExpression) != nil else {
            throw ConsoleError.invalidRequest([
                ConfigurationIssue(
                    path: "name",
                    message: "\"\(name.prefix(80))\" is not a user name (1-64 of A-Z a-z 0-9 . _ -)"
                )
            ])
        }
        guard password.count >= 12 else {
            throw ConsoleError.invalidRequest([
                ConfigurationIssue(path: "password", message: "is shorter than 12 characters")
            ])
        }
        let hash = Credentials.hashPassword(password)
        return try await self.writer.write { db in
            if try UserRecord.exists(db, key: name) {
                throw ConsoleError.conflict("user \(name) exists already")
            }
            let now = Self.timestamp()
            try UserRecord(name: name, passwordHash: hash, role: role, createdAt: now).insert(db)
            try Self.audit(
                actor: actor,
                action: "create",
                target: "user \(name)",
                site: nil,
                version: nil,
                detail: "role \(role.rawValue)",
                db
            )
            return UserInfo(name: name, role: role, createdAt: now)
        }
    }

    /// Every user, by name.
    public func users() async throws -> [UserInfo] {
        try await self.writer.read { db in
            try UserRecord.order(UserRecord.Columns.name).fetchAll(db).map {
                UserInfo(name: $0.name, role: $0.role, createdAt: $0.createdAt)
            }
        }
    }

    /// Deletes user `name` and its tokens.
    public func deleteUser(_ name: String, actor: String) async throws {
        try await self.writer.write { db in
            guard try UserRecord.deleteOne(db, key: name) else { throw ConsoleError.notFound("no user named \(name)") }
            try Self.audit(
                actor: actor,
                action: "delete",
                target: "user \(name)",
                site: nil,
                version: nil,
                detail: "",
                db
            )
        }
    }

    /// Sets user `name`'s password and ends its login sessions (but `keepingSession`, the caller's own). With
    /// `currentPassword` (a user changing their own), that must be the user's password.
    ///
    /// - Throws: ``ConsoleError`` for an unknown user, a wrong current password or a too-short new one; nothing
    ///   changes then.
    public func changePassword(
        of name: String,
        to password: String,
        currentPassword: String?,
        keepingSession: String?,
        actor: String
    ) async throws {
        guard password.count >= 12 else {
            throw ConsoleError.invalidRequest([
                ConfigurationIssue(path: "password", message: "is shorter than 12 characters")
            ])
        }
        let stored = try await self.writer.read { db in
            try UserRecord.fetchOne(db, key: name)?.passwordHash
        }
        guard let stored else { throw ConsoleError.notFound("no user named \(name)") }
        if let currentPassword, !Credentials.verifyPassword(currentPassword, hash: stored) {
            throw ConsoleError.invalidRequest([
                ConfigurationIssue(path: "currentPassword", message: "is not user \(name)'s password")
            ])
        }
        let hash = Credentials.hashPassword(password)
        try await self.writer.write { db in
            // Compare and set: a change that crossed this one (between the check and now) wins, this one fails.
            let changed = try UserRecord.filter(
                UserRecord.Columns.name == name && UserRecord.Columns.passwordHash == stored
            )
            .updateAll(db, UserRecord.Columns.passwordHash.set(to: hash))
            guard changed == 1 else { throw ConsoleError.conflict("user \(name)'s password changed meanwhile") }
            var sessions = TokenRecord.filter(
                TokenRecord.Columns.user == name && TokenRecord.Columns.kind == Identity.Kind.session
            )
            if let keepingSession { sessions = sessions.filter(TokenRecord.Columns.id != keepingSession) }
            let ended = try sessions.deleteAll(db)
            try Self.audit(
                actor: actor,
                action: "change",
                target: "user \(name)",
                site: nil,
                version: nil,
                detail: "password (\(ended) other session\(ended == 1 ? "" : "s") ended)",
                db
            )
        }
    }

    /// Checks `password` and issues a session token valid for `lifetime`.
    ///
    /// - Throws: ``ConsoleError/unauthorized(_:)`` for an unknown user or a wrong password (the same message).
    public func logIn(
        _ user: String,
        password: String,
        lifetime: Duration
    ) async throws -> (token: String, info: TokenInfo) {
        let row = try await self.writer.read { db -> (hash: String, role: Role)? in
            try UserRecord.fetchOne(db, key: user).map { ($0.passwordHash, $0.role) }
        }
        // An unknown user costs as much as a wrong password, so the answer time does not tell which it was.
        let hash = row?.hash ?? Credentials.unknownUserHash
        guard Credentials.verifyPassword(password, hash: hash), let row else {
            throw ConsoleError.unauthorized("wrong user name or password")
        }
        let role = row.role
        return try await self.issueToken(
            user: user,
            name: "login",
            role: role,
            kind: .session,
            lifetime: lifetime,
            actor: user
        )
    }

    /// Issues an API token named `name` for the user of `creator`, never stronger or longer-lived than the creator:
    /// only an admin creates tokens, `role` is at most the creator's, and a token made with another API token (not
    /// a login session) expires when that one does and is revoked with it.
    ///
    /// - Throws: ``ConsoleError`` 403 when the creator is read-only or asks for more than it has.
    public func createToken(
        by creator: Identity,
        name: String,
        role: Role
    ) async throws -> (token: String, info: TokenInfo) {
        guard creator.role == .admin else {
            throw ConsoleError.forbidden("a read-only token or user cannot create tokens")
        }
        guard name.range(of: #"^[A-Za-z0-9 ._@:-]{1,64}$"#, options: .regularExpression) != nil else {
            throw ConsoleError.invalidRequest([
                ConfigurationIssue(
                    path: "name",
                    message:
                        "\(DisplayText.quoted(name, limit: 80)) is not a token name (1-64 of A-Z a-z 0-9 space . _ @ : -)"
                )
            ])
        }
        let delegated = creator.kind == .api
        return try await self.issueToken(
            user: creator.user,
            name: name,
            role: role,
            kind: .api,
            lifetime: nil,
            expiresAt: delegated ? creator.expiresAt : nil,
            parent: delegated ? creator.tokenID : nil,
            actor: creator.user
        )
    }

    private func issueToken(
        user: String,
        name: String,
        role: Role,
        kind: Identity.Kind,
        lifetime: Duration?,
        expiresAt: String? = nil,
        parent: String? = nil,
        actor: String
    ) async throws -> (token: String, info: TokenInfo) {
        let (id, secret, token) = Credentials.newToken()
        let now = Date()
        let info = TokenInfo(
            id: id,
            name: name,
            user: user,
            role: role,
            kind: kind.rawValue,
            createdAt: Self.timestamp(now),
            expiresAt: lifetime.map { Self.timestamp(now.addingTimeInterval(TimeInterval($0.components.seconds))) }
                ?? expiresAt
        )
        try await self.writer.write { db in
            if let parent {
                // The creator may have been revoked meanwhile: then it creates nothing.
                guard try TokenRecord.exists(db, key: parent) else {
                    throw ConsoleError.unauthorized("the token is unknown, revoked or expired")
                }
            }
            try TokenRecord(
                id: id,
                secretHash: Credentials.hashSecret(secret),
                user: user,
                name: name,
                role: role,
                kind: kind,
                createdAt: info.createdAt,
                expiresAt: info.expiresAt,
                parent: parent
            )
            .insert(db)
            if kind == .api {
                try Self.audit(
                    actor: actor,
                    action: "create",
                    target: "token \(id)",
                    site: nil,
                    version: nil,
                    detail: "\(name), \(role.rawValue)",
                    db
                )
            }
        }
        return (token, info)
    }

    /// Audits a wrong password given for `user` (a login or a password change) from `address`.
    public func recordFailedPasswordCheck(user: String, address: String) async throws {
        try await self.writer.write { db in
            try Self.audit(
                actor: "-",
                action: "login-failed",
                target: "user \(DisplayText.escaped(user, limit: 64))",
                site: nil,
                version: nil,
                detail: "from \(address)",
                db
            )
        }
    }

    /// Who `token` belongs to, if it is valid and not expired.
    public func identity(forToken token: String) async throws -> Identity? {
        guard let (id, secret) = Credentials.parseToken(token) else { return nil }
        let record = try await self.writer.read { db in try TokenRecord.fetchOne(db, key: id) }
        guard let record, Credentials.secret(secret, matches: record.secretHash) else { return nil }
        if let expires = record.expiresAt, expires <= Self.timestamp() { return nil }
        return Identity(
            user: record.user,
            role: record.role,
            tokenID: id,
            kind: record.kind,
            expiresAt: record.expiresAt
        )
    }

    /// The tokens of `user` (every user's when `nil`), without their secrets.
    public func tokens(of user: String?) async throws -> [TokenInfo] {
        try await self.writer.read { db in
            var tokens = TokenRecord.order(TokenRecord.Columns.createdAt, TokenRecord.Columns.id)
            if let user { tokens = tokens.filter(TokenRecord.Columns.user == user) }
            return try tokens.fetchAll(db).map(\.info)
        }
    }

    /// Revokes token `id`, and the tokens made with it.
    public func deleteToken(_ id: String, actor: String) async throws {
        try await self.writer.write { db in
            guard try TokenRecord.deleteOne(db, key: id) else { throw ConsoleError.notFound("no token \(id)") }
            try Self.audit(
                actor: actor,
                action: "delete",
                target: "token \(id)",
                site: nil,
                version: nil,
                detail: "",
                db
            )
        }
    }

    // MARK: - Audit

    /// The newest `limit` audit entries, of site `site` only if given.
    public func audit(_ query: AuditQuery) async throws -> [AuditEntry] {
        try await self.writer.read { db in
            var entries = AuditRecord.order(AuditRecord.Columns.id.desc).limit(max(1, min(query.limit, 1000)))
            if let site = query.site { entries = entries.filter(AuditRecord.Columns.site == site) }
            if let actor = query.actor { entries = entries.filter(AuditRecord.Columns.actor == actor) }
            if let action = query.action { entries = entries.filter(AuditRecord.Columns.action == action) }
            // Times are stored as ISO 8601 in UTC with fractional seconds, which sort as they compare.
            if let since = query.since { entries = entries.filter(AuditRecord.Columns.at >= Self.timestamp(since)) }
            if let until = query.until { entries = entries.filter(AuditRecord.Columns.at < Self.timestamp(until)) }
            return try entries.fetchAll(db).map {
                AuditEntry(
                    id: $0.id ?? 0,
                    at: $0.at,
                    actor: $0.actor,
                    action: $0.action,
                    target: $0.target,
                    site: $0.site,
                    version: $0.version,
                    detail: $0.detail
                )
            }
        }
    }

    // MARK: - Helpers

    /// The current version of site `name`, parsed once (``ParsedSites``).
    func current(_ name: String, _ db: Database) throws -> StoredSite {
        guard let current = try SiteRecord.fetchOne(db, key: name),
            let stored = try SiteVersionRecord.fetchOne(db, key: ["site": name, "version": current.version])
        else { throw ConsoleError.notFound("no site named \(name)") }
        return try self.parsed.site(name, version: stored.version, source: stored.document, current: true)
    }

    /// The number of the current version of site `name`, without reading the site.
    static func currentVersion(_ name: String, _ db: Database) throws -> Int {
        guard let current = try SiteRecord.fetchOne(db, key: name) else {
            throw ConsoleError.notFound("no site named \(name)")
        }
        return current.version
    }

    private static func exists(_ name: String, _ db: Database) throws -> Bool {
        try SiteRecord.exists(db, key: name)
    }

    /// Reads `document` as a site; its issues become a 422.
    private static func read(_ document: ConfigNode) throws(ConsoleError) -> Site {
        do {
            return try SiteReader.load(document)
        } catch {
            throw .invalid(error.issues)
        }
    }

    static func storeVersion(_ stored: StoredSite, change: String, author: String, _ db: Database) throws {
        try SiteVersionRecord(
            site: stored.name,
            version: stored.version,
            document: stored.yaml,
            author: author,
            createdAt: Self.timestamp(),
            change: change
        )
        .insert(db)
    }

    static func audit(
        actor: String,
        action: String,
        target: String,
        site: String?,
        version: Int?,
        detail: String,
        _ db: Database
    ) throws {
        try AuditRecord(
            id: nil,
            at: Self.timestamp(),
            actor: actor,
            action: action,
            target: target,
            site: site,
            version: version,
            detail: detail
        )
        .insert(db)
    }

    /// UTC, to the millisecond (`2026-11-25T18:50:00.123Z`): sorts as text in time order.
    static func timestamp(_ date: Date = Date()) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }
}
