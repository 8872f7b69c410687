/// The bodies of the console's REST API (`/api/v1`) that are not a site's document, as the console encodes them
/// and the CLI and the web page read them. docs/openapi.yaml describes each; a test checks the console's answers
/// against it.

/// What a user may do.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Everything.
    case admin
    /// Read only: every change answers 403 (but a user's own password and tokens).
    case readOnly = "read-only"
}

/// One site in the list of sites.
public struct SiteSummary: Sendable, Codable, Hashable {
    public var name: String
    public var version: Int

    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }
}

/// One entry of a site's history.
public struct SiteVersionInfo: Sendable, Codable, Hashable {
    public var version: Int
    public var author: String
    public var createdAt: String
    /// What made it, such as `update gateway gw1` or `rollback to 3`.
    public var change: String

    public init(version: Int, author: String, createdAt: String, change: String) {
        self.version = version
        self.author = author
        self.createdAt = createdAt
        self.change = change
    }
}

/// One entry of the audit log.
public struct AuditEntry: Sendable, Codable, Hashable {
    public var id: Int64
    public var at: String
    public var actor: String
    public var action: String
    public var target: String
    public var site: String?
    public var version: Int?
    /// What changed, in words (never a secret).
    public var detail: String

    public init(
        id: Int64,
        at: String,
        actor: String,
        action: String,
        target: String,
        site: String?,
        version: Int?,
        detail: String
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.site = site
        self.version = version
        self.detail = detail
    }
}

/// A user, as the API shows it (never the password hash).
public struct UserInfo: Sendable, Codable, Hashable {
    public var name: String
    public var role: Role
    public var createdAt: String

    public init(name: String, role: Role, createdAt: String) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
    }
}

/// An API or session token, as the API shows it (never the secret).
public struct TokenInfo: Sendable, Codable, Hashable {
    public var id: String
    public var name: String
    public var user: String
    public var role: Role
    /// `session` (from a login) or `api`.
    public var kind: String
    public var createdAt: String
    public var expiresAt: String?

    public init(
        id: String,
        name: String,
        user: String,
        role: Role,
        kind: String,
        createdAt: String,
        expiresAt: String?
    ) {
        self.id = id
        self.name = name
        self.user = user
        self.role = role
        self.kind = kind
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A token just issued (a login, or `POST /api/v1/tokens`): shown once, the console keeps only its hash.
public struct TokenCreated: Sendable, Codable, Hashable {
    public var token: String
    public var info: TokenInfo

    public init(token: String, info: TokenInfo) {
        self.token = token
        self.info = info
    }
}

/// Who the caller is (`GET /api/v1/whoami`).
public struct WhoAmI: Sendable, Codable, Hashable {
    public var user: String
    public var role: Role
    /// The id of the token the request came with.
    public var token: String

    public init(user: String, role: Role, token: String) {
        self.user = user
        self.role = role
        self.token = token
    }
}

/// A browser's session (`POST` and `GET /api/v1/session`): who signed in, and the token every change must carry in
/// `X-CSRF-Token` (the session itself travels in an HttpOnly cookie the page cannot read).
public struct SessionInfo: Sendable, Codable, Hashable {
    public var user: String
    public var role: Role
    public var csrfToken: String

    public init(user: String, role: Role, csrfToken: String) {
        self.user = user
        self.role = role
        self.csrfToken = csrfToken
    }
}

/// A one-time join token for a device (`POST /api/v1/sites/{site}/join-tokens`).
public struct JoinTokenCreated: Sendable, Codable, Hashable {
    public var token: String
    public var expiresAt: String

    public init(token: String, expiresAt: String) {
        self.token = token
        self.expiresAt = expiresAt
    }
}

/// A certificate kept by the console, as the API shows it: never its private key.
public struct CertificateInfo: Sendable, Codable, Hashable {
    public var name: String
    /// The leaf certificate's subject, as RFC 4514 writes it (`CN=rdp.example.com,O=Example`).
    public var subject: String
    /// The leaf's subject alternative names: `DNS:name`, `IP:address`, `URI:...`, `email:...`.
    public var subjectAlternativeNames: [String]
    public var notValidBefore: String
    public var notValidAfter: String
    /// The SHA-256 of the leaf certificate (DER), hex.
    public var fingerprint: String
    /// Certificates in the chain: the leaf and its intermediates.
    public var chainLength: Int
    public var updatedAt: String
    /// The virtual servers whose `ssl` payload offloads with it.
    public var usedBy: [String]
    /// The chain (PEM), when one certificate is asked for.
    public var certificate: String?

    public init(
        name: String,
        subject: String,
        subjectAlternativeNames: [String] = [],
        notValidBefore: String,
        notValidAfter: String,
        fingerprint: String,
        chainLength: Int,
        updatedAt: String,
        usedBy: [String],
        certificate: String? = nil
    ) {
        self.name = name
        self.subject = subject
        self.subjectAlternativeNames = subjectAlternativeNames
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        self.fingerprint = fingerprint
        self.chainLength = chainLength
        self.updatedAt = updatedAt
        self.usedBy = usedBy
        self.certificate = certificate
    }
}

/// The body of every error answer: the reason, and for a refused site every issue with its path.
public struct ErrorBody: Sendable, Codable, Hashable {
    public struct Issue: Sendable, Codable, Hashable {
        /// Where, as a path into the site (`virtualServers[0].payloads.ssl.port`); empty for the whole.
        public var path: String
        public var message: String

        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    public var error: String
    public var issues: [Issue]?

    public init(error: String, issues: [Issue]? = nil) {
        self.error = error
        self.issues = issues
    }
}

/// `POST /api/v1/login`.
public struct LoginRequest: Sendable, Codable, Hashable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}

/// `POST /api/v1/sites/{site}/join-tokens`.
public struct JoinTokenRequest: Sendable, Codable, Hashable {
    public var device: String

    public init(device: String) {
        self.device = device
    }
}

/// `POST /api/v1/users`.
public struct NewUser: Sendable, Codable, Hashable {
    public var name: String
    public var password: String
    public var role: Role

    public init(name: String, password: String, role: Role) {
        self.name = name
        self.password = password
        self.role = role
    }
}

/// `PUT /api/v1/users/{name}/password`: your own needs `currentPassword`.
public struct PasswordChange: Sendable, Codable, Hashable {
    public var password: String
    public var currentPassword: String?

    public init(password: String, currentPassword: String? = nil) {
        self.password = password
        self.currentPassword = currentPassword
    }
}

/// `POST /api/v1/tokens`: a token with the caller's role, or `read-only`.
public struct TokenRequest: Sendable, Codable, Hashable {
    public var name: String
    public var role: Role?

    public init(name: String, role: Role? = nil) {
        self.name = name
        self.role = role
    }
}

/// `PUT /api/v1/sites/{site}/certificates/{name}`: a chain (leaf first) and its private key, PEM.
public struct CertificateUpload: Sendable, Codable, Hashable {
    public var certificate: String
    public var privateKey: String

    public init(certificate: String, privateKey: String) {
        self.certificate = certificate
        self.privateKey = privateKey
    }
}
