import Foundation
import HALBCore
import HALBWire

/// What the console keeps, and the changes it makes to it: sites with their whole history, users, tokens, the audit
/// log, enrolled devices and their reports, and certificates.
///
/// The API and the console's commands work through this protocol. ``ConsoleStore`` keeps everything in one SQLite
/// file (GRDB); a store for several consoles sharing one PostgreSQL database is to be a second implementation.
/// Each change is one transaction: it is stored and audited as a whole, or not at all, and a change based on a
/// stale version fails with 412 (``ConsoleError/staleVersion(sent:current:)``).
public protocol ConsoleStorage: Sendable {
    // MARK: Sites

    /// Every site with its current version, by name.
    func sites() async throws -> [(name: String, version: Int)]
    /// The current version of site `name` (404 when there is none).
    func site(_ name: String) async throws -> StoredSite
    /// Version `version` of site `name`.
    func site(_ name: String, version: Int) async throws -> StoredSite
    /// Creates a site from `document` as version 1 (422 when invalid, 409 when the name is taken).
    func createSite(_ document: ConfigNode, actor: String) async throws -> StoredSite
    /// Changes site `name`: `edit` turns the current document into the next one, which must be valid as a whole;
    /// it is stored as the next version, audited as `change`, and wakes the site's devices.
    func changeSite(
        _ name: String,
        basedOn: Int,
        actor: String,
        change: String,
        edit: @escaping @Sendable (ConfigNode) throws -> ConfigNode
    ) async throws -> StoredSite
    /// Deletes site `name` and its history; the audit log keeps the deletion.
    func deleteSite(_ name: String, basedOn: Int, actor: String) async throws
    /// The history of site `name`, newest first.
    func versions(of name: String) async throws -> [SiteVersionInfo]

    // MARK: Users and tokens

    /// Whether any user exists.
    func hasUsers() async throws -> Bool
    /// Creates user `name` (its password kept as a bcrypt hash).
    func createUser(_ name: String, password: String, role: Role, actor: String) async throws -> UserInfo
    /// Every user, by name.
    func users() async throws -> [UserInfo]
    /// Deletes user `name` and its tokens.
    func deleteUser(_ name: String, actor: String) async throws
    /// Sets user `name`'s password (with `currentPassword`, that must be the user's) and ends its login sessions
    /// but `keepingSession`.
    func changePassword(
        of name: String,
        to password: String,
        currentPassword: String?,
        keepingSession: String?,
        actor: String
    ) async throws
    /// Checks `password` and issues a session token valid for `lifetime` (401 for a wrong user or password).
    func logIn(_ user: String, password: String, lifetime: Duration) async throws -> (token: String, info: TokenInfo)
    /// Issues an API token for the user of `creator`, never stronger or longer-lived than the creator.
    func createToken(by creator: Identity, name: String, role: Role) async throws -> (token: String, info: TokenInfo)
    /// Audits a wrong password given for `user` from `address`.
    func recordFailedPasswordCheck(user: String, address: String) async throws
    /// Who `token` belongs to, if it is valid and not expired.
    func identity(forToken token: String) async throws -> Identity?
    /// The tokens of `user` (every user's when `nil`), without their secrets.
    func tokens(of user: String?) async throws -> [TokenInfo]
    /// Revokes token `id`, and the tokens made with it.
    func deleteToken(_ id: String, actor: String) async throws

    // MARK: Audit

    /// The newest audit entries that `query` selects.
    func audit(_ query: AuditQuery) async throws -> [AuditEntry]

    // MARK: Devices

    /// Issues a one-time join token for device `device` of site `site`, valid for `lifetime`.
    func createJoinToken(
        site: String,
        device: String,
        lifetime: Duration,
        actor: String
    ) async throws -> (token: String, expiresAt: String)
    /// Enrols a device with a join token: the token is used up, and the device gets a new credential and signing key.
    func enrol(joinToken: String, device: String) async throws -> Enrolment
    /// The enrolled device a credential belongs to.
    func agent(forCredential credential: String) async throws -> EnrolledAgent?
    /// The configuration of `agent` at the current version: its part of the site and its certificates.
    func configuration(for agent: EnrolledAgent) async throws -> AgentConfiguration
    /// Waits until the site of `agent` is newer than `version` (at most `timeout`, or until the task is
    /// cancelled), then returns its configuration; `nil` when there is none newer.
    func configuration(
        for agent: EnrolledAgent,
        after version: Int,
        timeout: Duration
    ) async throws
        -> AgentConfiguration?
    /// Records that `agent` applied `version` (ACK, `error` nil) or refused it (NACK, with the reason).
    func acknowledge(_ agent: EnrolledAgent, version: Int, error: String?) async throws
    /// Stores `agent`'s heartbeat.
    func heartbeat(_ agent: EnrolledAgent, report: AgentReport) async throws
    /// Every device of site `site` with its agent status, as seen at `now` by a console of `consoleVersion`.
    func deviceStatuses(site: String, consoleVersion: String, now: Date) async throws -> [DeviceStatus]

    // MARK: Certificates

    /// Stores certificate `name` of site `site` (checked at `now`), replacing one of that name; a new site version
    /// when virtual servers use it.
    func putCertificate(
        site: String,
        name: String,
        certificatePEM: String,
        privateKeyPEM: String,
        actor: String,
        now: Date
    ) async throws -> (info: CertificateInfo, created: Bool, version: Int)
    /// The certificates of site `site`, by name (without their chains).
    func certificates(site: String) async throws -> [CertificateInfo]
    /// Certificate `name` of site `site`, with its chain (never its key).
    func certificate(site: String, name: String) async throws -> CertificateInfo
    /// Deletes certificate `name` of site `site` (409 while a virtual server uses it).
    func deleteCertificate(site: String, name: String, actor: String) async throws
}

// MARK: - The same for every store

extension ConsoleStorage {
    /// How long a login session lasts.
    public static var sessionLifetime: Duration { .seconds(12 * 3600) }
    /// How long a join token may be used.
    public static var joinTokenLifetime: Duration { .seconds(24 * 3600) }

    /// On the first start (no user yet), creates the admin user `admin` with `password`, or with a new random
    /// password when `nil`.
    ///
    /// - Returns: the password when one was made up (to show once), else `nil`.
    public func createFirstAdmin(password: String?) async throws -> String? {
        guard try await !self.hasUsers() else { return nil }
        let chosen = password ?? Credentials.newPassword()
        _ = try await self.createUser("admin", password: chosen, role: .admin, actor: "console")
        return password == nil ? chosen : nil
    }

    /// Creates user `admin` with a new random password when there is no user yet, once `keep` has kept the password
    /// (written it to a file): when `keep` throws, nothing is created. Returns whether it created the user.
    public func createFirstAdmin(keepingPassword keep: (String) throws -> Void) async throws -> Bool {
        guard try await !self.hasUsers() else { return false }
        let password = Credentials.newPassword()
        try keep(password)
        _ = try await self.createUser("admin", password: password, role: .admin, actor: "console")
        return true
    }

    /// Makes version `version` of site `name` current again, as a new version.
    public func rollback(_ name: String, to version: Int, basedOn: Int, actor: String) async throws -> StoredSite {
        let old = try await self.site(name, version: version)
        let document = old.document
        return try await self.changeSite(name, basedOn: basedOn, actor: actor, change: "rollback to version \(version)")
        { _ in
            document
        }
    }

    /// Checks `password` and issues a session token valid for ``sessionLifetime``.
    public func logIn(_ user: String, password: String) async throws -> (token: String, info: TokenInfo) {
        try await self.logIn(user, password: password, lifetime: Self.sessionLifetime)
    }

    /// The newest 100 audit entries.
    public func audit() async throws -> [AuditEntry] {
        try await self.audit(AuditQuery())
    }

    /// The newest 100 audit entries of site `site` only if given.
    public func audit(site: String?) async throws -> [AuditEntry] {
        try await self.audit(AuditQuery(site: site))
    }

    /// Issues a one-time join token for device `device` of site `site`, valid for ``joinTokenLifetime``.
    public func createJoinToken(
        site: String,
        device: String,
        actor: String
    ) async throws -> (token: String, expiresAt: String) {
        try await self.createJoinToken(site: site, device: device, lifetime: Self.joinTokenLifetime, actor: actor)
    }

    /// Every device of site `site` with its agent status now.
    public func deviceStatuses(site: String, consoleVersion: String) async throws -> [DeviceStatus] {
        try await self.deviceStatuses(site: site, consoleVersion: consoleVersion, now: Date())
    }

    /// Stores certificate `name` of site `site`, checked now.
    public func putCertificate(
        site: String,
        name: String,
        certificatePEM: String,
        privateKeyPEM: String,
        actor: String
    ) async throws -> (info: CertificateInfo, created: Bool, version: Int) {
        try await self.putCertificate(
            site: site,
            name: name,
            certificatePEM: certificatePEM,
            privateKeyPEM: privateKeyPEM,
            actor: actor,
            now: Date()
        )
    }
}

/// Which audit entries to read: the newest `limit` (1-1000) of those that match every filter given.
public struct AuditQuery: Sendable, Hashable {
    public var site: String?
    /// Who made the change (a user, or `device NAME` for an agent).
    public var actor: String?
    /// What was done: `create`, `update`, `delete`, `rollback`, `login failed`, ...
    public var action: String?
    /// Entries at or after this moment.
    public var since: Date?
    /// Entries before this moment.
    public var until: Date?
    public var limit: Int

    public init(
        site: String? = nil,
        actor: String? = nil,
        action: String? = nil,
        since: Date? = nil,
        until: Date? = nil,
        limit: Int = 100
    ) {
        self.site = site
        self.actor = actor
        self.action = action
        self.since = since
        self.until = until
        self.limit = limit
    }
}
