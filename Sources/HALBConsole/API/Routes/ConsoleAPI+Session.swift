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
            let body = try await Self.body(request, context)
            let user = try Self.field("user", in: body)
            let password = try Self.field("password", in: body)
            let (token, info) = try await throttle.check(
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
            return try Self.json(TokenCreated(token: token, info: info), status: .created)
        }
    }

    /// `GET /api/v1/whoami`: the caller's user, role and token.
    static func addWhoAmIRoute(to group: RouterGroup<ConsoleRequestContext>) {
        group.get("whoami") { _, context in
            let identity = try context.requireIdentity()
            return try Self.json(WhoAmI(user: identity.user, role: identity.role, token: identity.tokenID))
        }
    }
}
