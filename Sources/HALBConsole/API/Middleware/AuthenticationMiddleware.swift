import Crypto
import Foundation
import HALBWire
import Hummingbird

/// Checks the caller's credential and puts the identity into the context; without a valid one the request ends
/// with 401.
///
/// Two credentials are accepted: `Authorization: Bearer <token>` (the CLI, scripts), and the web page's session
/// cookie. A request authenticated by the cookie that changes something (any method but GET and HEAD) must also
/// carry the session's CSRF token in `X-CSRF-Token`, or it ends with 403: another site can make a browser send
/// the cookie, but cannot read the token (and SameSite=Strict keeps the cookie off such requests anyway).
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let store: any ConsoleStorage

    func handle(
        _ request: Request,
        context: ConsoleRequestContext,
        next: (Request, ConsoleRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            guard header.lowercased().hasPrefix("bearer ") else {
                throw ConsoleError.unauthorized("the Authorization header must be: Bearer <token>")
            }
            let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let identity = try await self.store.identity(forToken: token) else {
                throw ConsoleError.unauthorized("the token is unknown, revoked or expired")
            }
            context.identity = identity
        } else if let token = SessionCookie.token(in: request.headers) {
            guard let identity = try await self.store.identity(forToken: token), identity.kind == .session else {
                throw ConsoleError.unauthorized("the session has ended: sign in again")
            }
            if request.method != .get, request.method != .head {
                guard let sent = request.headers[.xCSRFToken], SessionCookie.csrfTokenMatches(sent, session: token)
                else {
                    throw ConsoleError.forbidden("the request lacks the session's CSRF token (X-CSRF-Token)")
                }
            }
            context.identity = identity
            context.sessionToken = token
        } else {
            throw ConsoleError.unauthorized(
                "authentication required: Authorization: Bearer <token> (POST /api/v1/login gives one)"
            )
        }
        return try await next(request, context)
    }
}

/// The web page's session: a session token in an HttpOnly cookie, and a CSRF token derived from it.
enum SessionCookie {
    static let name = "halb_session"

    /// The session token of the request's `Cookie` header, if any.
    static func token(in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == Self.name else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                // Tokens are short; a longer value is not one (and is not looked up).
                guard !value.isEmpty, value.count <= 256 else { return nil }
                return value
            }
        }
        return nil
    }

    /// The CSRF token of `session`: a digest, so it can be shown to the page without revealing the session.
    static func csrfToken(session: String) -> String {
        SHA256.hash(data: Array("halb-csrf:\(session)".utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares in constant time.
    static func csrfTokenMatches(_ sent: String, session: String) -> Bool {
        let expected = Array(Self.csrfToken(session: session).utf8)
        let given = Array(sent.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// `Set-Cookie` for a new session (Secure when the console speaks HTTPS); no Max-Age, so it ends with the
    /// browser, and the token itself expires with the session.
    static func setCookie(_ token: String, secure: Bool) -> String {
        "\(Self.name)=\(token); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// `Set-Cookie` that removes it.
    static func clearCookie(secure: Bool) -> String {
        "\(Self.name)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}
