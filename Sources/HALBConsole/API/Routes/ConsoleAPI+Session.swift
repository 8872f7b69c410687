import HALBWire
import Hummingbird
import Logging

/// Health, login and who is asking.
extension ConsoleAPI {
    /// `GET /healthz`: the console runs (no authentication).
    static func addHealthRoute(to router: Router<ConsoleRequestContext>) {
        router.get("/healthz") { _, _ in Self.text("ok\n") }
    }

    /// `POST /api/v1/login`: a session token for a user's password (no authentication; failures slowed).
    static func addLoginRoute(
        to api: RouterGroup<ConsoleRequestContext>,
        store: any ConsoleStorage,
        throttle: PasswordGuard
    ) {
        api.post("login") { request, context in
            let (token, info) = try await Self.checkPassword(request, context, store: store, throttle: throttle)
            return try Self.json(TokenCreated(token: token, info: info), status: .created)
        }
    }

    /// `POST /api/v1/session`: the web page signs in. The same password check as `login`, but the session token goes
    /// into an HttpOnly cookie the page's scripts cannot read; the answer gives the CSRF token changes must carry.
    static func addSignInRoute(
        to api: RouterGroup<ConsoleRequestContext>,
        store: any ConsoleStorage,
        throttle: PasswordGuard,
        secureCookies: Bool
    ) {
        api.post("session") { request, context in
            let (token, info) = try await Self.checkPassword(request, context, store: store, throttle: throttle)
            var response = try Self.json(
                SessionInfo(user: info.user, role: info.role, csrfToken: SessionCookie.csrfToken(session: token)),
                status: .created
            )
            response.headers[.setCookie] = SessionCookie.setCookie(token, secure: secureCookies)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    /// `GET /api/v1/session`: the page's session, if its cookie is still good; `DELETE`: signs out (the session
    /// token is revoked and the cookie removed).
    static func addSessionRoutes(
        to group: RouterGroup<ConsoleRequestContext>,
        store: any ConsoleStorage,
        secureCookies: Bool
    ) {
        group.get("session") { _, context in
            let identity = try context.requireIdentity()
            guard let token = context.sessionToken else {
                throw ConsoleError.notFound("no browser session: this request came with a bearer token")
            }
            var response = try Self.json(
                SessionInfo(
                    user: identity.user,
                    role: identity.role,
                    csrfToken: SessionCookie.csrfToken(session: token)
                )
            )
            response.headers[.cacheControl] = "no-store"
            return response
        }
        group.delete("session") { _, context in
            let identity = try context.requireIdentity()
            guard context.sessionToken != nil else {
                throw ConsoleError.notFound("no browser session: revoke a bearer token with DELETE /api/v1/tokens/{id}")
            }
            try await store.deleteToken(identity.tokenID, actor: identity.user)
            context.logger.info("Signed out", metadata: ["user.name": "\(identity.user)"])
            var response = Response(status: .noContent)
            response.headers[.setCookie] = SessionCookie.clearCookie(secure: secureCookies)
            return response
        }
    }

    /// Checks the `user` and `password` of a sign-in body (slowed after failures) and issues a session token.
    private static func checkPassword(
        _ request: Request,
        _ context: ConsoleRequestContext,
        store: any ConsoleStorage,
        throttle: PasswordGuard
    ) async throws -> (token: String, info: TokenInfo) {
        let body = try await Self.body(request, context)
        let user = try Self.field("user", in: body)
        let password = try Self.field("password", in: body)
        let result = try await throttle.check(
            user: user,
            from: context.clientAddress,
            store: store,
            logger: context.logger
        ) {
            try await store.logIn(user, password: password)
        }
        context.logger.info(
            "Login",
            metadata: ["user.name": "\(user.prefix(64))", "client.address": "\(context.clientAddress)"]
        )
        return result
    }

    /// `GET /api/v1/whoami`: the caller's user, role and token.
    static func addWhoAmIRoute(to group: RouterGroup<ConsoleRequestContext>) {
        group.get("whoami") { _, context in
            let identity = try context.requireIdentity()
            return try Self.json(WhoAmI(user: identity.user, role: identity.role, token: identity.tokenID))
        }
    }
}
