import HALBCore

/// Why the console refused a request. The description names the field, item or version concerned; the API answers
/// with ``status`` and the description (and every issue of an invalid site).
public struct ConsoleError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case badRequest(String)
        case invalid([ConfigurationIssue])
        case invalidRequest([ConfigurationIssue])
        case notFound(String)
        case conflict(String)
        case staleVersion(sent: Int, current: Int)
        case versionRequired
        case unauthorized(String)
        case forbidden(String)
        case tooManyAttempts(retryAfter: Int)
        case unavailable(String)
        case internalFailure(String)
    }

    private let base: Base

    /// The request cannot be read (such as a body that is not JSON).
    public static func badRequest(_ reason: String) -> Self { Self(base: .badRequest(reason)) }
    /// The site the request would make is invalid; nothing was stored.
    public static func invalid(_ issues: [ConfigurationIssue]) -> Self { Self(base: .invalid(issues)) }
    /// A field of the request that is not about the site (a user's password, a certificate) is invalid; nothing
    /// was stored.
    public static func invalidRequest(_ issues: [ConfigurationIssue]) -> Self { Self(base: .invalidRequest(issues)) }
    /// No such site, item, version, user or token.
    public static func notFound(_ what: String) -> Self { Self(base: .notFound(what)) }
    /// The request clashes with what is stored (a name in use).
    public static func conflict(_ reason: String) -> Self { Self(base: .conflict(reason)) }
    /// The change was based on version `sent`, but the site is at `current` now.
    public static func staleVersion(sent: Int, current: Int) -> Self {
        Self(base: .staleVersion(sent: sent, current: current))
    }
    /// A change must say which version it is based on (`If-Match`).
    public static let versionRequired = Self(base: .versionRequired)
    /// No valid credentials.
    public static func unauthorized(_ reason: String) -> Self { Self(base: .unauthorized(reason)) }
    /// Valid credentials without the right to do this.
    public static func forbidden(_ reason: String) -> Self { Self(base: .forbidden(reason)) }

    /// Too many failed password checks for this user or from this address: try again after `retryAfter` seconds.
    public static func tooManyAttempts(retryAfter: Int) -> Self { Self(base: .tooManyAttempts(retryAfter: retryAfter)) }
    /// The console cannot serve the request now (its disk is full, its store cannot be written); nothing was stored.
    public static func unavailable(_ reason: String) -> Self { Self(base: .unavailable(reason)) }
    /// The console failed in a way it did not foresee; the reason is in its log, not in the answer.
    public static func internalFailure(_ reason: String) -> Self { Self(base: .internalFailure(reason)) }

    /// Seconds to wait before trying again (`Retry-After`), when the answer says so.
    public var retryAfter: Int? {
        if case .tooManyAttempts(let seconds) = self.base { return seconds }
        return nil
    }

    /// The HTTP status code the API answers with.
    public var statusCode: Int {
        switch self.base {
        case .badRequest: 400
        case .invalid, .invalidRequest: 422
        case .notFound: 404
        case .conflict: 409
        // If-Match names another version than the current one: the precondition failed (RFC 9110, 13.1.1).
        case .staleVersion: 412
        case .versionRequired: 428
        case .unauthorized: 401
        case .forbidden: 403
        case .tooManyAttempts: 429
        case .unavailable: 503
        case .internalFailure: 500
        }
    }

    /// Every issue of an invalid site, with its path; empty for other errors.
    public var issues: [ConfigurationIssue] {
        switch self.base {
        case .invalid(let issues), .invalidRequest(let issues): return issues
        default: return []
        }
    }

    public var description: String {
        switch self.base {
        case .badRequest(let reason): reason
        case .invalid(let issues): "the site would be invalid: \(issues.map(\.description).joined(separator: "; "))"
        case .invalidRequest(let issues): "the request is invalid: \(issues.map(\.description).joined(separator: "; "))"
        case .notFound(let what): what
        case .conflict(let reason): reason
        case .staleVersion(let sent, let current):
            "the change is based on version \(sent), but the site is at version \(current) now: read it again and retry"
        case .versionRequired:
            "say which site version the change is based on: If-Match: \"<version>\" (the ETag of a GET)"
        case .unauthorized(let reason): reason
        case .forbidden(let reason): reason
        case .tooManyAttempts(let seconds):
            "too many failed password checks for this user or from this address: try again in \(seconds) s"
        case .unavailable(let reason), .internalFailure(let reason): reason
        }
    }
}
